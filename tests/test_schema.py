"""The one declaration of issue and article fields, held against everything that repeats it:
the model, the loader's readers, the starter files, `briefing new` and the README."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path
from string import Template

import pytest

from briefing.errors import Problem
from briefing.headers import describe
from briefing.model import Article, Image, Issue, KeyPoint
from briefing.scaffold import STARTER
from briefing.schema import (
    ARTICLE_FIELDS,
    IMAGE_FIELDS,
    ISSUE_FIELDS,
    KEY_POINT_FIELDS,
    Field,
    Kind,
    names,
)
from briefing.sources.frontmatter import READERS

REPO = Path(__file__).resolve().parent.parent

# Model attributes the loader sets from the folder and files, not from front matter.
DERIVED = {
    Issue: {"folder", "note", "articles", "assets"},
    Article: {"slug", "path", "body"},
    KeyPoint: set(),
    Image: set(),
}
DECLARED = [
    (Issue, ISSUE_FIELDS),
    (Article, ARTICLE_FIELDS),
    (KeyPoint, KEY_POINT_FIELDS),
    (Image, IMAGE_FIELDS),
]


@pytest.mark.parametrize(("model", "fields"), DECLARED, ids=lambda v: getattr(v, "__name__", ""))
def test_every_field_is_a_model_attribute_and_back(model: type, fields: tuple[Field, ...]) -> None:
    attributes = {f.name for f in dataclasses.fields(model)}
    assert set(names(fields)) == attributes - DERIVED[model]
    assert len(set(names(fields))) == len(fields), "a field is declared twice"


def test_every_kind_has_a_reader() -> None:
    assert set(READERS) == set(Kind)


def test_required_fields_have_no_model_default() -> None:
    """A required field the model could default would hide a missing key."""
    for model, fields in DECLARED:
        defaults = {
            f.name
            for f in dataclasses.fields(model)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
        assert not {f.name for f in fields if f.required} & defaults, model.__name__


def _front_matter_keys(text: str, indent: str = "") -> list[str]:
    """The keys of a front matter block at one indentation (YAML comments ignored)."""
    block = text.split("---\n")[1]
    return re.findall(rf"^{indent}(?:- )?([a-z_]+):", block, re.MULTILINE)


def _readme_block(name: str) -> str:
    """The fenced example after the README's line naming `name`, in 'The issue format'."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # Up to the next section: its examples hold '## ' headings of their own.
    section = readme.split("## The issue format", 1)[1].split("\n### Merge fields", 1)[0]
    match = re.search(rf"^`{re.escape(name)}`:\n\n```markdown\n(.*?)```", section, re.S | re.M)
    assert match, f"no example for {name} in the README's issue format"
    return match.group(1)


@pytest.mark.parametrize(
    ("name", "fields"), [("issue.md", ISSUE_FIELDS), ("01-trump-xi-call.md", ARTICLE_FIELDS)]
)
def test_readme_issue_format_shows_every_field_in_order(
    name: str, fields: tuple[Field, ...]
) -> None:
    block = _readme_block(name)
    assert _front_matter_keys(block) == list(names(fields))
    marked = re.findall(r"^([a-z_]+):.*# required", block, re.MULTILINE)
    assert marked == [f.name for f in fields if f.required]


def test_readme_shows_the_nested_fields() -> None:
    block = _readme_block("01-trump-xi-call.md")
    points = re.search(r"^key_points:\n((?:  .*\n)+)", block, re.MULTILINE)
    image = re.search(r"^image:.*\n((?:  .*\n)+)", block, re.MULTILINE)
    assert points and image
    assert set(re.findall(r"^  (?:- |  )([a-z_]+):", points.group(1), re.M)) == set(
        names(KEY_POINT_FIELDS)
    )
    assert re.findall(r"^  ([a-z_]+):", image.group(1), re.M) == list(names(IMAGE_FIELDS))


@pytest.mark.parametrize(
    ("name", "fields"), [("issue.md", ISSUE_FIELDS), ("01-welcome.md", ARTICLE_FIELDS)]
)
def test_starter_files_use_declared_fields_in_order(name: str, fields: tuple[Field, ...]) -> None:
    values = {"title": "T", "date": "2025-01-01T08:00:00+00:00", "folder": "f"}
    text = Template((STARTER / name).read_text(encoding="utf-8")).safe_substitute(values)
    keys = _front_matter_keys(text)
    declared = list(names(fields))
    assert keys == [k for k in declared if k in keys], "unknown or out of order"
    assert {f.name for f in fields if f.required} <= set(keys)


def test_skeleton_values_and_carried_fields_are_declared_sensibly() -> None:
    for fields in (ISSUE_FIELDS, ARTICLE_FIELDS):
        for field in fields:
            # `new` must write every required field, or its skeleton would not load.
            assert not field.required or field.skeleton is not None, field.name
            assert field.help.strip(), field.name
    # Nested fields are written inside their parent's skeleton, never on their own.
    assert all(f.skeleton is None and not f.carried for f in KEY_POINT_FIELDS + IMAGE_FIELDS)


TRICKY = ["no", "1.10", 'He said "hi" \\ then', "é 🎉", "#a: b", "[x]: {y}", "- z"]
# Written readably (quote() escapes them), read back as a located refusal: no control
# characters in one-line values (briefing.headers).
CONTROL = ["tab\there", "C1\x85and", "line\u2028sep", "cr\rlf", "f\x0cf", "del\x7fx", "gs\x1dx"]


@pytest.mark.parametrize("text", TRICKY)
def test_written_front_matter_reads_back_as_written(tmp_path: Path, text: str) -> None:
    """front_matter() (new, the importer) and the loader agree on every kind of value."""
    from datetime import datetime, timedelta, timezone

    from briefing.schema import front_matter
    from briefing.sources.frontmatter import Fields, parse

    article = {
        "headline": text,
        "source_url": "https://example.com/a?b=1",
        "key_points": (KeyPoint(text, "second"), KeyPoint("first", text)),
        "image": Image("lamp.png", text, ""),
    }
    issue = {
        "title": text,
        "date": datetime(2025, 6, 3, 7, tzinfo=timezone(timedelta(hours=-4))),
        "number": 12,
        "tags": ("trade", "china"),
    }
    for fields, values in ((ARTICLE_FIELDS, article), (ISSUE_FIELDS, issue)):
        path = tmp_path / "file.md"
        path.write_text("\n".join([*front_matter(fields, values), "Body."]), encoding="utf-8")
        problems: list[Problem] = []
        doc = parse(path, "file.md", problems)
        assert doc is not None, problems
        assert Fields(doc, fields, problems).values() == values
        assert problems == []


@pytest.mark.parametrize("text", CONTROL)
def test_written_control_characters_are_refused_on_their_line(tmp_path: Path, text: str) -> None:
    from briefing.schema import front_matter
    from briefing.sources.frontmatter import Fields, parse

    values = {"headline": "A", "byline": text}
    path = tmp_path / "file.md"
    path.write_text("\n".join([*front_matter(ARTICLE_FIELDS, values), "Body."]), "utf-8")
    problems: list[Problem] = []
    doc = parse(path, "file.md", problems)
    assert doc is not None, problems
    assert Fields(doc, ARTICLE_FIELDS, problems).values() == {"headline": "A"}
    char = next(c for c in text if unicodedata.category(c) in ("Cc", "Zl"))
    assert [str(p) for p in problems] == [
        f"file.md:3: byline: contains the control character U+{ord(char):04X}"
        f" ({describe(char).split(' (')[1]}, not allowed here; remove it"
    ]
