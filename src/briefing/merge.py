"""Merge fields: per-recipient values written as ``{{ name }}`` or ``{{ name | fallback }}``.

Rendering leaves them in the email as placeholders; `send` fills them per
recipient. Pages and feeds have no recipient, so they get the fallback.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


def placeholder(name: str) -> str:
    """How templates write a field that send fills in, e.g. the unsubscribe URL."""
    return "{{ " + name + " }}"


def fill(text: str, values: Mapping[str, str], *, escape: bool) -> str:
    """Replace every merge field by its value, else its fallback, else nothing."""

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1)) or match.group(2) or ""
        return html.escape(value) if escape else value

    return PLACEHOLDER.sub(one, text)


def with_fallbacks(text: str) -> str:
    """For pages and feeds: every merge field becomes its fallback text (already escaped)."""
    return PLACEHOLDER.sub(lambda m: m.group(2) or "", text)


def names(text: str) -> list[tuple[str, str | None]]:
    """The merge fields used in text, with their fallbacks (None when there is none)."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text)]
