"""A raw article file → an imported article: bytes decoded, then read as plain text or HTML."""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from briefing.errors import ContentError, Problem
from briefing.importer.article import ImportedArticle
from briefing.importer.page import from_html
from briefing.importer.text import from_text
from briefing.importer.writer import article_markdown
from briefing.project_files import MAX_TEXT_BYTES

_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# A saved news page is 0.1-2 MB, most of it scripts (skipped quickly) and furniture.
# A page of nothing but paragraphs imports at about 4-15 s per MB on the 2-core VM
# (pure-Python parsing, twice), so 8 MB bounds the time to a couple of minutes.
MAX_IMPORT_BYTES = 8 * 1024 * 1024


def import_article(path: Path, label: str | None = None) -> ImportedArticle:
    """Read a plain-text or HTML article; ContentError when it cannot be read at all.

    The file is one the user names, so a symbolic link is followed wherever it
    leads; only a regular file is read (a FIFO would wait forever for a writer).
    """
    label = label or str(path)
    data = _read(path, label)
    if b"\x00" in data[:8192] and not data.startswith(_UTF16_BOMS):
        raise ContentError(Problem(label, "is a binary file, not plain text or HTML"))
    html_suffix = path.suffix.lower() in _HTML_SUFFIXES
    text = _decode(data, label, html_suffix)
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    # HTML by its suffix or by its content, whatever the suffix.
    is_html = html_suffix or text.lstrip().startswith("<")
    article = from_html(text, label) if is_html else from_text(text, label)
    size = len(article_markdown(article).encode("utf-8"))
    if size > MAX_TEXT_BYTES:  # the loader would refuse the file written
        raise ContentError(
            Problem(
                label,
                f"makes an article of {size / 2**20:.1f} MB, over the"
                f" {MAX_TEXT_BYTES // 2**20} MB an article file may hold; split it first",
            )
        )
    return article


def _read(path: Path, label: str) -> bytes:
    """The bytes of a regular file, at most MAX_IMPORT_BYTES; ContentError otherwise."""
    # O_NONBLOCK: opening a FIFO does not wait for a writer; fstat then refuses it.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ContentError(Problem(label, f"cannot be read: {exc.strerror or exc}")) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ContentError(Problem(label, "cannot be read: it is a folder, not a file"))
        raise ContentError(
            Problem(label, "is not a regular file (a pipe, socket or device); save it first")
        )
    with open(fd, "rb") as handle:
        try:
            data = handle.read(MAX_IMPORT_BYTES + 1)
        except OSError as exc:
            raise ContentError(Problem(label, f"cannot be read: {exc.strerror or exc}")) from None
    if len(data) > MAX_IMPORT_BYTES:
        raise ContentError(
            Problem(
                label,
                f"is larger than {MAX_IMPORT_BYTES // 2**20} MB; save only the article"
                " (or its text) and import that",
            )
        )
    return data


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
