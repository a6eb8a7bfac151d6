"""The body as Markdown blocks, and those blocks written out as Markdown that holds no raw HTML.

Both readers (plain text and HTML) produce `Block`s; `render` is the one place that
decides how each kind is written. Text is escaped on the way in (`escape`, `guard`),
so a stray ``<``, ``*`` or ``#`` in the source stays text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<~])")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_LINE_START = re.compile(r"^(?:([#>+=-])|(\d{1,9})([.)])(?=\s|$))")

LISTS = ("list", "olist")


def escape(text: str) -> str:
    """Text → inline Markdown that shows exactly this text (no emphasis, links or HTML)."""
    return _MD_ENTITY.sub(r"\\&", _MD_SPECIAL.sub(r"\\\1", text))


def guard(line: str) -> str:
    """Escape what would make a paragraph line a heading, quote, list or rule."""
    return _LINE_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), line
    )


def md_url(url: str) -> str:
    """A URL safe inside a Markdown link's parentheses."""
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url.replace("\\", "%5C").replace('"', "%22")


@dataclass
class Block:
    """One Markdown block: 'para', 'heading', 'quote', 'list', 'olist' or 'code'."""

    kind: str
    md: str  # inline Markdown (para, heading), rendered Markdown (quote), raw text (code)
    plain: str
    line: int | None = None
    items: list[str] = field(default_factory=list)  # rendered Markdown per list item
    items_plain: list[str] = field(default_factory=list)


def render(blocks: list[Block], tight: bool = False) -> str:
    """Blocks → Markdown; tight: a list right after a paragraph stays in the same item."""
    out: list[str] = []
    for index, block in enumerate(blocks):
        if tight and index and block.kind in LISTS and blocks[index - 1].kind == "para":
            out[-1] += "\n" + render([block])
            continue
        writer = _WRITERS.get(block.kind)
        if writer:
            out.append(writer(block))
    return "\n\n".join(out)


def _para(block: Block) -> str:
    return "\n".join(guard(ln.strip()) for ln in block.md.split("\n"))


def _heading(block: Block) -> str:
    text = re.sub(r"\\\n", " ", block.md).strip()
    return "## " + re.sub(r"#$", r"\\#", guard(text))


def _quote(block: Block) -> str:
    return "\n".join("> " + ln if ln else ">" for ln in block.md.split("\n"))


def _list(block: Block) -> str:
    lines = []
    for number, item in enumerate(block.items, start=1):
        marker = "- " if block.kind == "list" else f"{number}. "
        first, *rest = item.split("\n")
        lines.append(marker + first)
        lines += [" " * len(marker) + ln if ln else "" for ln in rest]
    return "\n".join(lines)


def _code(block: Block) -> str:
    runs = re.findall(r"`+", block.md)
    fence = "`" * max(3, *(len(r) + 1 for r in runs)) if runs else "```"
    return f"{fence}\n{block.md.strip(chr(10))}\n{fence}"


_WRITERS: dict[str, Callable[[Block], str]] = {
    "para": _para,
    "heading": _heading,
    "quote": _quote,
    "list": _list,
    "olist": _list,
    "code": _code,
}
