"""Merge fields: per-recipient values written as ``{{ name }}`` or ``{{ name | fallback }}``.

Rendering leaves them in the email as placeholders; `send` fills them per
recipient, with the fallback for a recipient who has no value. Pages and feeds have
no recipient: a field there shows its web fallback, ``{{ name | reader | web: everyone }}``,
and a Markdown block (paragraph, heading, list item) holding a field without one is
left out of them, so a greeting reads "Good morning, everyone." or is not there,
never "Good morning, reader.".
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


def placeholder(name: str) -> str:
    """How templates write a field that send fills in, e.g. the unsubscribe URL."""
    return "{{ " + name + " }}"


_WEB = re.compile(r"\|\s*web:\s*(.*)$", re.DOTALL)


def email_fallback(fallbacks: str | None) -> str:
    """What a recipient without a value gets: the fallback text before any `| web:`."""
    return _WEB.sub("", fallbacks or "").strip()


def web_fallback(fallbacks: str | None) -> str | None:
    """What pages and feeds show, or None when the field has no `| web:` part."""
    match = _WEB.search(fallbacks or "")
    return match.group(1).strip() if match else None


def field_value(values: Mapping[str, str], name: str, fallback: str, *, escape: bool) -> str:
    """The recipient's value, HTML-escaped for an HTML part; else the fallback as written.

    A fallback is part of the document, already in its format (Markdown escaped it in
    the HTML part), so it is never escaped again: "Tom &amp; Jerry", not "&amp;amp;".
    """
    value = values.get(name)
    if not value:
        return fallback
    return html.escape(value) if escape else value


def fill(text: str, values: Mapping[str, str], *, escape: bool) -> str:
    """Replace every merge field by its value, else its fallback, else nothing."""

    def one(match: re.Match[str]) -> str:
        return field_value(values, match.group(1), email_fallback(match.group(2)), escape=escape)

    return PLACEHOLDER.sub(one, text)


def literal(text: str, *, in_html: bool) -> str:
    """Text (code) whose {{ … }} is shown as written, never filled: the braces are kept
    apart by an empty <span> in HTML (the CSS inliner re-serialises the email and would
    turn a character reference back into a brace), by a WORD JOINER in plain text."""
    return text.replace("{{", "{<span></span>{" if in_html else "{\u2060{")


def with_fallbacks(text: str) -> str:
    """For pages and feeds: every merge field becomes its web fallback (already escaped),
    or nothing."""
    return PLACEHOLDER.sub(lambda m: web_fallback(m.group(2)) or "", text)


def personal_without_web(text: str) -> bool:
    """Whether text holds a merge field with no web fallback (pages and feeds leave the
    block out)."""
    return any(web_fallback(m.group(2)) is None for m in PLACEHOLDER.finditer(text))


def names(text: str) -> list[tuple[str, str | None]]:
    """The merge fields used in text, with their fallbacks (None when there is none)."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text)]
