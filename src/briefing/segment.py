"""Segments: the part of the audience an issue (`audience:`) or a send (`--where`) targets.

A segment is a conjunction of rules on a subscriber's tags and fields: tags any
(at least one of), all (every one of), none (not one of); a field equals a value
or is one of several. Tags are the subscriber's `tags` field (imported as a CSV
column or set with `briefing audience tag`), comma- or space-separated. Matching
compares case-insensitively, as an editor means "DE" and "de" alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TAGS_FIELD = "tags"
_SPLIT = re.compile(r"[\s,;]+")


def tag_set(value: str) -> frozenset[str]:
    """The tags written in a subscriber's `tags` field."""
    return frozenset(t for t in _SPLIT.split(value.strip().lower()) if t)


def join_tags(tags: Iterable[str]) -> str:
    """The `tags` field's text for a set of tags (sorted: the same set, the same text)."""
    return ", ".join(sorted(set(tags)))


@dataclass(frozen=True)
class FieldRule:
    """A field equals one of values (one value: equals; several: in)."""

    name: str
    values: tuple[str, ...]

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.name, "").strip().casefold()
        return any(have == v.strip().casefold() for v in self.values)


@dataclass(frozen=True)
class Segment:
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    fields: tuple[FieldRule, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether a subscriber with these fields (their `tags` among them) is in it."""
        tags = tag_set(fields.get(TAGS_FIELD, ""))
        if self.tags_any and not tags.intersection(self.tags_any):
            return False
        if not tags.issuperset(self.tags_all) or tags.intersection(self.tags_none):
            return False
        return all(rule.matches(fields) for rule in self.fields)

    def describe(self) -> str:
        """The rules in words, for summaries and messages."""
        parts = []
        for word, tags in (("any", self.tags_any), ("all", self.tags_all)):
            if tags:
                parts.append(f"tags {word} of {', '.join(tags)}")
        if self.tags_none:
            parts.append(f"tags none of {', '.join(self.tags_none)}")
        for rule in self.fields:
            if len(rule.values) == 1:
                parts.append(f"{rule.name} = {rule.values[0]}")
            else:
                parts.append(f"{rule.name} in {', '.join(rule.values)}")
        return "; ".join(parts) or "everyone"


_TAG_KEYS = ("tags_any", "tags_all", "tags_none")


def parse_where(expressions: Iterable[str]) -> Segment:
    """A segment from `--where` expressions: `tags_any=a,b`, `tags_all=…`, `tags_none=…`,
    `FIELD=value` or `FIELD=v1,v2` (one of). ValueError says which expression is wrong."""
    tags: dict[str, tuple[str, ...]] = {}
    rules: list[FieldRule] = []
    for expression in expressions:
        name, sep, value = expression.partition("=")
        name = name.strip()
        values = tuple(v.strip() for v in value.split(",") if v.strip())
        if not sep or not name.isidentifier() or not values:
            raise ValueError(
                f"'{expression}' is not NAME=VALUE[,VALUE…], e.g. tags_any=trade or country=DE"
            )
        if name in _TAG_KEYS:
            tags[name] = tags.get(name, ()) + tuple(v.lower() for v in values)
        else:
            rules.append(FieldRule(name, values))
    return Segment(**tags, fields=tuple(rules))
