"""Fuzzing the loader: whatever an issue's files hold, only located BriefingErrors escape.

Hypothesis writes random front matter (declared keys and typos, nested flow lists and
mappings, YAML 1.1 traps, control characters, broken quotes) and random bodies (image
references, merge fields, raw HTML) into one issue of the fixture publication, or
random bytes into the whole file, and loads it. A load either succeeds or raises a
BriefingError each of whose problems names a file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from briefing.config import load_config
from briefing.errors import BriefingError
from briefing.schema import ARTICLE_FIELDS, IMAGE_FIELDS, ISSUE_FIELDS, KEY_POINT_FIELDS
from briefing.sources import load_publication

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "publication"
ISSUE = "issues/2025-01-07-first-light"

KEYS = sorted(
    {
        f.name
        for fields in (ISSUE_FIELDS, ARTICLE_FIELDS, IMAGE_FIELDS, KEY_POINT_FIELDS)
        for f in fields
    }
    | {"titel", "x", "", "? a", "- b"}
)
TRAPS = [
    "", "~", "null", "no", "1.10", "²", "٣", "0x1F", "[", "]", "{", "}", "'", '"', "- a",
    ": b", "*a", "&a x", "!!python/object/apply:os.system ['x']", "https://x]/", "http://[::1",
    "2025-01-07T08:00:00+00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59",
    "lamp.png", "../secret", "a\tb", "\\", "#c", "%TAG", "\u2028", "\x85", "\ufeff", "{{ x }}",
]  # fmt: skip


def _scalar(text: str, quoted: bool) -> str:
    return json.dumps(text, ensure_ascii=False) if quoted else text


scalars = st.builds(_scalar, st.one_of(st.text(max_size=30), st.sampled_from(TRAPS)), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=8,
)
lines = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(KEYS), values),
    st.sampled_from(["key_points:", "  - label: a", "    text: b", "image:", "  src: lamp.png"]),
    st.text(max_size=20),
)
bodies = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "![c](lamp.png)",
                "![](missing.png)",
                "![c](../x.png)",
                "![c](\u2028)",
                "<script>",
                "[a](javascript:x)",
                "{{ name | reader }}",
                "## H",
                "> q",
                "---",
                "```",
                "\t- x",
            ]
        ),
    ),
    max_size=6,
).map("\n".join)
documents = st.builds(
    lambda head, body, opener: f"{opener}\n" + "\n".join(head) + "\n---\n" + body,
    st.lists(lines, max_size=8),
    bodies,
    st.sampled_from(["---", "---", "--- ", "\ufeff---", "---\r"]),
)


@pytest.fixture(scope="module")
def config_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "publication"
    shutil.copytree(FIXTURE, root)
    (root / "templates").mkdir()
    toml = root / "briefing.toml"
    toml.write_text(toml.read_text().replace('"../../../templates"', '"templates"'))
    return root


def _load_only_located_errors(root: Path, files: dict[str, bytes]) -> None:
    originals = {name: (root / name).read_bytes() for name in files}
    try:
        for name, data in files.items():
            (root / name).write_bytes(data)
        try:
            load_publication(load_config(root))
        except BriefingError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.file, problem  # located: names a file
                assert "\n" not in str(problem), problem  # one line
    finally:
        for name, data in originals.items():
            (root / name).write_bytes(data)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(note=documents, article=documents)
def test_random_front_matter_and_bodies_give_only_located_errors(
    config_root: Path, note: str, article: str
) -> None:
    _load_only_located_errors(
        config_root,
        {
            f"{ISSUE}/issue.md": note.encode("utf-8", "surrogatepass"),
            f"{ISSUE}/01-the-lamp.md": article.encode("utf-8", "surrogatepass"),
        },
    )


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_give_only_located_errors(config_root: Path, data: bytes) -> None:
    _load_only_located_errors(config_root, {f"{ISSUE}/issue.md": b"---\n" + data})


CONFIG_KEYS = {
    "title": "publication",
    "base_url": "publication",
    "timezone": "publication",
    "language": "publication",
    "from": "email",
    "reply_to": "email",
    "list_id": "email",
    "unsubscribe_url": "email",
    "unsubscribe_mailto": "email",
    "templates": "theme",
    "bind": "service",
    "url": "service",
}


def _with_key(text: str, section: str, name: str, value: str) -> str:
    """briefing.toml text with section.name set to value (replaced, or added)."""
    written = f"{name} = {json.dumps(value)}"
    replaced, count = re.subn(rf"(?m)^{name} = .*$", lambda _: written, text, count=1)
    if count:
        return replaced
    if f"[{section}]\n" in text:
        return text.replace(f"[{section}]\n", f"[{section}]\n{written}\n", 1)
    return f"{text}\n[{section}]\n{written}\n"


@FUZZ
@given(
    values=st.dictionaries(
        st.sampled_from(sorted(CONFIG_KEYS)),
        st.one_of(st.text(max_size=40), st.sampled_from(TRAPS)),
        max_size=4,
    )
)
def test_random_config_values_give_only_located_errors(
    config_root: Path, values: dict[str, str]
) -> None:
    """String keys of briefing.toml set to anything: at most a ConfigError naming the key."""
    toml = config_root / "briefing.toml"
    original = toml.read_text("utf-8")
    text = original
    for name, value in values.items():
        text = _with_key(text, CONFIG_KEYS[name], name, value)
    try:
        toml.write_text(text, "utf-8")
        try:
            load_config(config_root)
        except BriefingError as exc:
            for problem in exc.problems:
                assert problem.file == "briefing.toml", problem
                assert "\n" not in str(problem), problem
    finally:
        toml.write_text(original, "utf-8")
