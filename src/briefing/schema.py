"""The fields of an issue and of an article, declared once.

The loader (briefing.sources) reads front matter by these declarations: unknown
keys get a "did you mean", required ones must be there, and each value is read by
the reader of its kind. `front_matter()` writes values back in their order (the
skeletons of `briefing new`; the importer's article files), and tests hold the
model, the starter files and the README's issue format to them.

Each field names a model attribute of the same name (briefing.model.Issue or
Article; KeyPoint and Image for the nested ones).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class Kind(Enum):
    """How a value is written; the loader has one reader per kind."""

    TEXT = "text on one line"
    INTEGER = "a whole number"
    TIMESTAMP = "an ISO 8601 date-time with a UTC offset or Z"
    URL = "an absolute http(s) URL"
    SLUG = "lowercase letters, digits and single hyphens"
    TAGS = "a list of slugs, like [trade, china]"
    KEY_POINTS = "a list of '- label: …' / 'text: …' items"
    IMAGE = "a mapping with src, alt and caption"
    BOOLEAN = "true or false"
    AUDIENCE = "a mapping with tags_any, tags_all, tags_none and fields"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    help: str
    required: bool = False
    # The YAML value `briefing new` writes for it; None: the skeleton leaves it out.
    skeleton: str | None = None
    # `briefing new --from-issue` copies the earlier issue's value (its lasting fields).
    carried: bool = False
    # Becomes an email header (the title is the Subject): held to briefing.headers' rule.
    header: bool = False


def _required(name: str, kind: Kind, help: str) -> Field:
    return Field(name, kind, help, required=True, skeleton='""')


ISSUE_FIELDS: tuple[Field, ...] = (
    Field(
        "title",
        Kind.TEXT,
        "Subject line, page title and feed entry title.",
        required=True,
        skeleton='""',
        header=True,
    ),
    _required("date", Kind.TIMESTAMP, "Publication time; its day must match the folder's date."),
    _required("number", Kind.INTEGER, "Issue number, unique across issues."),
    Field("edition", Kind.TEXT, "Edition name, e.g. Morning Edition.", skeleton='""', carried=True),
    Field("preheader", Kind.TEXT, "The inbox preview line (40–140 characters).", skeleton='""'),
    Field("tags", Kind.TAGS, "Tags; one page per tag.", skeleton="[]", carried=True),
    Field("updated", Kind.TIMESTAMP, "Last change, for the feeds (default: date)."),
    Field("slug", Kind.SLUG, "Overrides the slug in the folder's name."),
    Field("draft", Kind.BOOLEAN, "true: built for preview only; not published, not sent."),
    Field(
        "send_at",
        Kind.TIMESTAMP,
        "When `briefing send --due` sends it (ISO 8601 with offset).",
    ),
    Field(
        "audience",
        Kind.AUDIENCE,
        "The subscribers it goes to: tags_any/tags_all/tags_none lists, fields: {name: value"
        " or [values]} (default: everyone).",
    ),
)

ARTICLE_FIELDS: tuple[Field, ...] = (
    Field(
        "headline",
        Kind.TEXT,
        "The article's headline.",
        required=True,
        skeleton='"Headline of the story"',
    ),
    Field("source", Kind.TEXT, "Name of the source.", skeleton='""', carried=True),
    Field("source_url", Kind.URL, "Address of the original article.", skeleton='""'),
    Field("byline", Kind.TEXT, "Author(s).", skeleton='""', carried=True),
    Field("dateline", Kind.TEXT, "Place line, e.g. WASHINGTON.", skeleton='""', carried=True),
    Field("edition", Kind.TEXT, "Edition name shown with the article.", carried=True),
    Field(
        "dek",
        Kind.TEXT,
        "One-sentence summary under the headline (inline Markdown).",
        skeleton='""',
    ),
    Field("key_points_title", Kind.TEXT, "Heading over the key points.", carried=True),
    Field(
        "key_points",
        Kind.KEY_POINTS,
        "Key points, each a label and a text (inline Markdown).",
        skeleton="\n  - label: First point\n    text: What the reader should take away.",
    ),
    Field("image", Kind.IMAGE, "Lead image beside the file, shown under the dek."),
)

KEY_POINT_FIELDS: tuple[Field, ...] = (
    Field("label", Kind.TEXT, "A short label, shown bold.", required=True),
    Field("text", Kind.TEXT, "The point itself.", required=True),
)

IMAGE_FIELDS: tuple[Field, ...] = (
    Field("src", Kind.TEXT, "Image file name, beside the Markdown file.", required=True),
    Field("alt", Kind.TEXT, "Text alternative; always describe the image."),
    Field("caption", Kind.TEXT, "Caption shown under the image."),
)


def names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    """The keys in the order files write them."""
    return tuple(f.name for f in fields)


def front_matter(
    fields: tuple[Field, ...], values: Mapping[str, Any], skeleton: bool = False
) -> list[str]:
    """Front matter lines, '---' to '---', for model values (str, int, datetime, tuples…).

    Fields are written in declaration order; an empty value is left out, or with
    skeleton=True written as the field's skeleton value when it has one.
    """
    lines = ["---"]
    for field in fields:
        value = values.get(field.name)
        if value not in (None, "", ()) and value is not False:
            lines += _written(field, value)
        elif skeleton and field.skeleton is not None:
            gap = "" if field.skeleton.startswith("\n") else " "
            lines.append(f"{field.name}:{gap}{field.skeleton}")
    return [*lines, "---"]


def _written(field: Field, value: Any) -> list[str]:
    if field.kind is Kind.KEY_POINTS:
        return [f"{field.name}:", *(_item(KEY_POINT_FIELDS, point, "  - ") for point in value)]
    if field.kind is Kind.IMAGE:
        return [f"{field.name}:", _item(IMAGE_FIELDS, value, "  ")]
    if field.kind is Kind.TAGS:
        return [f"{field.name}: [{', '.join(value)}]"]
    if field.kind is Kind.AUDIENCE:  # a briefing.segment.Segment
        lines = [f"{field.name}:"]
        for key in ("tags_any", "tags_all", "tags_none"):
            if tags := getattr(value, key):
                lines.append(f"  {key}: [{', '.join(tags)}]")
        if value.fields:
            lines.append("  fields:")
            lines += [f"    {r.name}: [{', '.join(map(quote, r.values))}]" for r in value.fields]
        return lines
    if isinstance(value, datetime):
        return [f"{field.name}: {value.isoformat()}"]
    if isinstance(value, bool):
        return [f"{field.name}: {'true' if value else 'false'}"]
    return [f"{field.name}: {value if isinstance(value, int) else quote(value)}"]


def _item(fields: tuple[Field, ...], value: Any, first: str) -> str:
    """One nested mapping (a key point, an image) as indented 'key: "text"' lines."""
    pairs = [(f.name, getattr(value, f.name)) for f in fields]
    lines = [f"{name}: {quote(text)}" for name, text in pairs if text]
    return first + f"\n{' ' * len(first)}".join(lines)


def quote(text: str) -> str:
    """A double-quoted YAML scalar that reads back as exactly this text (YAML 1.1 and 1.2).

    JSON's string syntax is YAML's double-quoted style; characters YAML does not
    allow raw (C1 controls, U+2028/9 line separators, BOM) become \\u escapes.
    """
    dumped = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if _escaped(c) else c for c in dumped)


def _escaped(char: str) -> bool:
    # Outside YAML 1.2's printable set (§5.1), or a line break (U+0085, U+2028, U+2029).
    code = ord(char)
    return 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code in _NOT_RAW


_NOT_RAW = (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)
