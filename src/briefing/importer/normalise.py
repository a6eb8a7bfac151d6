"""Text normalisation shared by the text and HTML readers: one clean line, comparisons, URLs."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

# Control characters, line and paragraph separators, BOMs, non-characters, zero-width space.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\u200b]")


def names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def clean(text: str) -> str:
    """One line of text: control characters out, whitespace runs collapsed."""
    text = CONTROL.sub("", text.replace("\t", " ").replace("\xa0", " "))
    return re.sub(r"\s+", " ", text).strip()


def same(a: str, b: str) -> bool:
    """The same words, whatever the case and punctuation (and neither empty)."""
    return bool(_key(a)) and _key(a) == _key(b)


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def snippet(text: str, size: int = 70) -> str:
    """The start of a text for a note, cut at `size` characters with an ellipsis."""
    text = clean(text)
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def join_names(found: list[str]) -> str:
    """'A', 'A and B', 'A, B and C': duplicates and empty names left out."""
    unique = list(dict.fromkeys(n for n in found if n))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def strip_by(text: str) -> str:
    return re.sub(r"^by\s+", "", clean(text), flags=re.IGNORECASE)


def http_url(value: str) -> str:
    """value when it is an absolute http(s) URL with a valid host and port, else ''."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:  # '[' or ']' outside an IPv6 host, a bad port
        return ""
    plain = value.isprintable() and not any(c.isspace() for c in value)
    ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and plain
    return value if ok else ""


def joined_url(base: str, value: str) -> str:
    """value resolved against base (RFC 3986 section 5), or '' when either cannot be parsed."""
    try:
        return urljoin(base, value)
    except ValueError:
        return ""


def url_scheme(value: str) -> str | None:
    """The lower-case scheme of a URL ('' when it has none), or None when it cannot be parsed."""
    try:
        return urlsplit(value).scheme.lower()
    except ValueError:
        return None
