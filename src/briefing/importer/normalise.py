"""Text normalisation shared by the text and HTML readers: one clean line, comparisons, URLs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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
    """value when it is an absolute http(s) URL, else ''."""
    value = value.strip()
    parts = urlsplit(value)
    plain = value.isprintable() and not any(c.isspace() for c in value)
    ok = parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and plain
    return value if ok else ""
