"""The text briefing writes for the editor to replace, declared once: what `briefing new`
puts in a skeleton issue and what `briefing init` puts in briefing.toml.

`briefing new` and `briefing init` write these; `check` (and so the pre-send gate)
refuses an issue or a configuration that still holds them. The skeleton front-matter
values are read from schema.py's declarations, so a new skeleton value is caught too.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from briefing.schema import ARTICLE_FIELDS, ISSUE_FIELDS

# Bodies `briefing new` writes (scaffold.py takes them from here).
NOTE_SKELETON = "Hello {{ name | reader }}, the editor's note goes here."
STORY_SKELETON = "The story, in Markdown. Use `## ` for subheadings and `> ` for quotes."
CARRIED_BODY = "The story, in Markdown."
# The sentences that give a skeleton away wherever they are left.
BODY_PHRASES = ("the editor's note goes here", CARRIED_BODY)
LOREM = re.compile(r"\blorem\s+ipsum\b", re.IGNORECASE)

STARTER_CONFIG = Path(__file__).resolve().parent / "starter" / "briefing.toml"
# The domain `briefing init` uses when no --base-url is given and the one the
# configuration help shows (news@example.com), and the top-level names RFC 2606/6761
# reserve: mail from them never arrives. (Other example.* names are left to test
# publications such as the repository's example.)
EXAMPLE_DOMAINS = ("example.com", "news.example.com")
RESERVED_TLDS = (".test", ".example", ".invalid", ".localhost")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


@cache
def skeleton_values() -> frozenset[str]:
    """Every non-empty text a skeleton front matter holds ("Headline of the story", the
    sample key point…), read from the field declarations."""
    found: set[str] = set()
    for field in (*ISSUE_FIELDS, *ARTICLE_FIELDS):
        if field.skeleton is not None:
            found.update(_strings(yaml.safe_load(field.skeleton)))
    return frozenset(found)


@cache
def starter_postal_address() -> str:
    """The postal address `briefing init` writes, to be replaced by the publisher's."""
    text = STARTER_CONFIG.read_text(encoding="utf-8")
    match = re.search(r'^postal_address = "([^"]*)"', text, re.MULTILINE)
    return match.group(1) if match else ""


def placeholder_domain(domain: str) -> bool:
    """A From domain briefing suggested as an example, or a reserved top-level name."""
    domain = domain.lower().rstrip(".")
    return domain in EXAMPLE_DOMAINS or domain.endswith(RESERVED_TLDS)


def skeleton_phrase(line: str) -> str | None:
    """The scaffold or filler text a line of Markdown still holds, if any."""
    lowered = line.lower()
    for phrase in BODY_PHRASES:
        if phrase.lower() in lowered:
            return phrase
    match = LOREM.search(line)
    return match.group(0) if match else None
