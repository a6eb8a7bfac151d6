"""A raw article file → an imported article: bytes decoded, then read as plain text or HTML."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from briefing.errors import ContentError, Problem
from briefing.importer.article import ImportedArticle
from briefing.importer.page import from_html
from briefing.importer.text import from_text

_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def import_article(path: Path, label: str | None = None) -> ImportedArticle:
    """Read a plain-text or HTML article; ContentError when it cannot be read at all."""
    label = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(Problem(label, f"cannot be read: {exc.strerror or exc}")) from None
    if b"\x00" in data[:8192] and not data.startswith(_UTF16_BOMS):
        raise ContentError(Problem(label, "is a binary file, not plain text or HTML"))
    html_suffix = path.suffix.lower() in _HTML_SUFFIXES
    text = _decode(data, label, html_suffix)
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    # HTML by its suffix or by its content, whatever the suffix.
    is_html = html_suffix or text.lstrip().startswith("<")
    return from_html(text, label) if is_html else from_text(text, label)


def _decode(data: bytes, label: str, is_html: bool) -> str:
    """UTF-16 with a BOM, UTF-8, or the charset an HTML page declares in a <meta>."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ContentError(Problem(label, "is not valid UTF-16 text")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error = exc
    declared = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.I)
    if (is_html or data.lstrip().startswith(b"<")) and declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    line = data[: error.start].count(b"\n") + 1
    raise ContentError(
        Problem(
            label,
            f"is not UTF-8 text (byte 0x{data[error.start]:02x}); save it as UTF-8",
            line=line,
        )
    )
