"""Markdown → plain text for the text part of an email: wrapped, links numbered.

Walks the same tokens as the HTML renderer (`markdown.parse`), so both parts of
an email read alike; raw HTML has nothing a text reader can use and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

from markdown_it.token import Token

from briefing.merge import PLACEHOLDER, literal
from briefing.model import Markdown
from briefing.render.markdown import matching_close, parse, parse_inline


class TextRenderer:
    """Markdown → plain text wrapped at `width`, links numbered into a shared list."""

    def __init__(self, width: int = 72, base_url: str = "") -> None:
        self.width, self.base_url = width, base_url
        self.links: list[str] = []
        self._numbers: dict[str, int] = {}  # url -> its number: linear in the links, not quadratic

    def link_number(self, url: str) -> int:
        url = urljoin(self.base_url, url) if self.base_url else url
        number = self._numbers.get(url)
        if number is None:
            self.links.append(url)
            number = self._numbers[url] = len(self.links)
        return number

    def render(self, markdown: Markdown | str | list[Token]) -> str:
        tokens = markdown if isinstance(markdown, list) else parse(markdown)
        blocks: list[str] = []
        self._blocks(tokens, 0, len(tokens), blocks, prefix="")
        return "\n\n".join(blocks)

    def inline(self, text: str) -> str:
        return self._inline(parse_inline(text))

    def wrap(self, text: str, first: str = "", rest: str = "") -> str:
        """Greedy wrap at width; words longer than a line (URLs) stand alone, unbroken.

        Same result as textwrap.fill(break_long_words=False, break_on_hyphens=False)
        at a fraction of its cost, which mattered: every paragraph goes through here.
        Text holding a merge field stays one line: `send` wraps it once the field is
        filled (`rewrap`), as only then is its length known.
        """
        if PLACEHOLDER.search(text):
            return first + " ".join(text.split())
        lines: list[str] = []
        line, empty = first, True
        for word in text.split():
            if empty:
                line, empty = line + word, False
            elif len(line) + 1 + len(word) <= self.width:
                line += " " + word
            else:
                lines.append(line)
                line = rest + word
        if not empty:
            lines.append(line)
        return "\n".join(lines)

    def _blocks(
        self, tokens: list[Token], start: int, end: int, out: list[str], prefix: str
    ) -> None:
        i = start
        while i < end:
            rule = _BLOCK_RULES.get(tokens[i].type)
            # html_block and anything unknown: nothing a text reader can use
            i = rule(self, tokens, i, out, prefix) if rule else i + 1

    def _heading(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        title = self._inline(tokens[i + 1].children or [])
        rule = "=" if tokens[i].tag in ("h1", "h2") else "-"
        out.append(f"{title}\n{rule * min(len(title), self.width)}")
        return i + 3

    def _paragraph(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        out.append(self.wrap(self._inline(tokens[i + 1].children or []), prefix, prefix))
        return i + 3

    def _quote(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        close = matching_close(tokens, i)
        inner: list[str] = []
        self._blocks(tokens, i + 1, close, inner, prefix + "> ")
        out.append(f"\n{prefix}>\n".join(inner))
        return close + 1

    def _items(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        close = matching_close(tokens, i)
        inner: list[str] = []
        self._list(tokens, i + 1, close, inner, prefix, tokens[i].type)
        out.append("\n".join(inner))
        return close + 1

    def _code(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        lines = literal(tokens[i].content.rstrip(), in_html=False).split("\n")
        out.append("\n".join(prefix + "    " + ln for ln in lines))
        return i + 1

    def _rule(self, tokens: list[Token], i: int, out: list[str], prefix: str) -> int:
        out.append(prefix + "* * *")
        return i + 1

    def _list(
        self, tokens: list[Token], start: int, end: int, out: list[str], prefix: str, kind: str
    ) -> None:
        number = 1
        i = start
        while i < end:
            if tokens[i].type == "list_item_open":
                close = matching_close(tokens, i)
                marker = "- " if kind == "bullet_list_open" else f"{number}. "
                pad = " " * len(marker)
                parts: list[str] = []
                saved, self.width = self.width, self.width - len(prefix) - len(marker)
                self._blocks(tokens, i + 1, close, parts, "")
                self.width = saved
                lines = "\n".join(parts).split("\n")
                out.append(
                    "\n".join(
                        (prefix + (marker if n == 0 else pad) + line).rstrip()
                        for n, line in enumerate(lines)
                    )
                )
                number += 1
                i = close + 1
            else:
                i += 1

    def _inline(self, children: list[Token]) -> str:
        parts: list[str] = []
        pending: list[int] = []  # the numbers of the links open around this point
        for child in children:
            if child.type == "link_open":
                pending.append(self.link_number(str(child.attrGet("href") or "")))
            elif child.type == "link_close" and pending:
                parts.append(f" [{pending.pop()}]")
            else:
                parts.append(_inline_text(child))
        return "".join(parts)


_BREAKS = {"softbreak": " ", "hardbreak": "\n"}


def _inline_text(child: Token) -> str:
    if child.type == "code_inline":
        return literal(child.content, in_html=False)
    if child.type == "text":
        return child.content
    if child.type == "image":
        return f"[image: {child.content}]" if child.content else ""
    return _BREAKS.get(child.type, "")


# Each block rule writes one block starting at tokens[i] and returns the index after it.
_BLOCK_RULES: dict[str, Callable[[TextRenderer, list[Token], int, list[str], str], int]] = {
    "heading_open": TextRenderer._heading,
    "paragraph_open": TextRenderer._paragraph,
    "blockquote_open": TextRenderer._quote,
    "bullet_list_open": TextRenderer._items,
    "ordered_list_open": TextRenderer._items,
    "fence": TextRenderer._code,
    "code_block": TextRenderer._code,
    "hr": TextRenderer._rule,
}


# A line's prefix: quote marks, then a list marker or the indent of a continued item.
_PREFIX = re.compile(r"^((?:> )*)([-*] |\d+\. |\s+)?")


def rewrap(line: str, width: int) -> str:
    """One line of the text part wrapped at width after its merge fields were filled,
    continuation lines carrying its quote marks and list indent."""
    if len(line) <= width:
        return line
    match = _PREFIX.match(line)
    quotes, marker = (match.group(1), match.group(2) or "") if match else ("", "")
    first = quotes + marker
    renderer = TextRenderer(width)
    return renderer.wrap(line[len(first) :], first, quotes + " " * len(marker))
