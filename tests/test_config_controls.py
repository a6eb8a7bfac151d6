"""Control characters in briefing.toml: refused at load in every string key, header or not.

TOML escapes ("\\f", "\\u001b") can put characters into a value that XML 1.0 cannot
carry; publication.description and email.postal_address reach the feeds, pages and
every email. One rule in the option machinery refuses them with the key's name; tab
and line feed stay allowed where a value is not a header, and the feeds then parse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import lxml.etree
import pytest

from briefing.build import build
from briefing.config import SECTIONS, load_config
from briefing.errors import ConfigError
from briefing.options import keys

# Every string (or list of strings) key of every section, as written in briefing.toml.
STRING_KEYS = [
    (section, key.name, key.kind)
    for section, cls in SECTIONS.items()
    for key in keys(cls)
    if key.kind in (str, tuple[str, ...])
]
CONTROLS = ["\x0c", "\x1b", "\x00", "\x0b", "\x7f", "\x85", "\r", "\ufffe"]


def with_key(text: str, section: str, name: str, value: object) -> str:
    """briefing.toml text with section.name set to value (replaced, or added)."""
    written = f"{name} = {json.dumps(value)}"
    pattern = rf"(?m)^{re.escape(name)} = .*$"
    block = re.search(rf"(?ms)^\[{section}\]\n.*?(?=^\[|\Z)", text)
    if block and re.search(pattern, block.group()):
        replaced = re.sub(pattern, lambda _: written, block.group(), count=1)
        return text[: block.start()] + replaced + text[block.end() :]
    if block:
        return text.replace(f"[{section}]\n", f"[{section}]\n{written}\n", 1)
    return f"{text}\n[{section}]\n{written}\n"


def test_the_rule_covers_the_keys_that_reach_feeds() -> None:
    names = {f"{s}.{n}" for s, n, _ in STRING_KEYS}
    assert {"publication.description", "email.postal_address", "publication.title"} <= names


@pytest.mark.parametrize(("section", "name", "kind"), STRING_KEYS)
def test_a_control_character_in_any_string_key_is_refused_with_its_name(
    fixture_pub: Path, section: str, name: str, kind: object
) -> None:
    toml = fixture_pub / "briefing.toml"
    original = toml.read_text()
    for char in CONTROLS:
        value: object = f"a{char}b"
        toml.write_text(with_key(original, section, name, value if kind is str else [value]))
        with pytest.raises(ConfigError) as caught:
            load_config(fixture_pub)
        found = [p for p in caught.value.problems if p.field == f"{section}.{name}"]
        assert found, (char, caught.value.problems)
        assert f"U+{ord(char):04X}" in found[0].message
        assert "\n" not in str(found[0])


def test_feeds_parse_with_tabs_and_newlines_in_non_header_strings(fixture_pub: Path) -> None:
    """Tab and line feed are text, not controls, outside headers: the build's feeds
    are well-formed XML and JSON, and feedparser reads them without complaint."""
    toml = fixture_pub / "briefing.toml"
    text = with_key(toml.read_text(), "publication", "description", "Line one\n\tLine two")
    toml.write_text(with_key(text, "email", "postal_address", "1 Test Lane\nExampleton"))
    build(fixture_pub, jobs=1)
    site = fixture_pub / "site"
    for name in ("rss.xml", "atom.xml"):
        data = (site / name).read_bytes()
        lxml.etree.fromstring(data)  # raises on a character XML cannot carry
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (name, parsed.bozo_exception)
        assert "Line one" in parsed.feed.get("subtitle", parsed.feed.get("description", ""))
    assert "Line one" in json.loads((site / "feed.json").read_text())["description"]


def test_a_form_feed_in_the_description_never_reaches_a_feed(fixture_pub: Path) -> None:
    toml = fixture_pub / "briefing.toml"
    toml.write_text(with_key(toml.read_text(), "publication", "description", "Weekly\x0cnews"))
    with pytest.raises(ConfigError, match=r"publication\.description: .*U\+000C \(form feed\)"):
        build(fixture_pub, jobs=1)
    assert not (fixture_pub / "site").exists()


@pytest.mark.parametrize(
    ("section", "name"),
    [("theme", "templates"), ("publication", "language"), ("publication", "timezone")],
)
def test_a_refused_value_with_a_line_feed_is_quoted_escaped_on_one_line(
    fixture_pub: Path, section: str, name: str
) -> None:
    """Found by tests/test_sources_fuzz.py: the message quotes the value, line feed and all."""
    toml = fixture_pub / "briefing.toml"
    toml.write_text(with_key(toml.read_text("utf-8"), section, name, "x\ny"), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(fixture_pub)
    shown = [str(p) for p in caught.value.problems]
    assert any(f"{section}.{name}: " in line and "x\\ny" in line for line in shown), shown
    assert not any("\n" in line for line in shown)
