"""Front matter depth: the node count (short sources) and the event count (long ones) agree."""

from __future__ import annotations

import random

import yaml

from briefing.sources import frontmatter as fm


def _nest(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return "x"
    items = [_nest(rng, depth - 1) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        return "[" + ", ".join(items) + "]"
    return "{" + ", ".join(f"k{i}: {item}" for i, item in enumerate(items)) + "}"


def test_both_ways_of_counting_find_the_same_first_collection_too_deep() -> None:
    rng = random.Random(15)
    found = 0
    for _ in range(2000):
        source = f"a: {_nest(rng, 11)}\nb:\n  - {_nest(rng, 11)}"
        by_events = fm._too_deep_events(source)
        by_nodes = fm._too_deep_nodes(yaml.compose(source, Loader=fm._LOADER))
        assert by_events == by_nodes, source
        found += by_events is not None
    assert 100 < found < 1900  # both outcomes were exercised


def test_a_long_deep_source_is_refused_from_its_events_before_composing() -> None:
    problems: list[fm.Problem] = []
    deep = "[" * 50_000 + "]" * 50_000  # would crash libyaml's recursive composer
    assert fm._compose(["title: x", f"tags: {deep}"], "issue.md", problems) is None
    assert [(p.line, p.message) for p in problems] == [
        (3, "nested more than 8 levels deep; front matter needs 3")
    ]


def test_a_short_source_nine_levels_deep_is_refused_at_its_line() -> None:
    problems: list[fm.Problem] = []
    assert fm._compose(["title: x", "tags: [[[[[[[[x]]]]]]]]"], "issue.md", problems) is None
    assert [p.line for p in problems] == [3]
    assert fm._compose(["title: x", "tags: [[[[[[[x]]]]]]]"], "issue.md", []) is not None
