"""Markdown → HTML for email, pages and feeds, and → wrapped plain text for the text part.

One markdown-it-py parser (CommonMark) serves all outputs. Raw HTML is allowed
for small things (<sup>, <br>) but anything that runs or embeds content is
refused at load time by `find_problems`, with the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import urljoin, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from briefing.errors import Problem
from briefing.model import Markdown

_DANGEROUS_TAG = re.compile(
    # Opening tags only: the closing tag of the same element is one problem, not two.
    r"<\s*(script|iframe|object|embed|frame|frameset|style|form|base|meta|link|svg|math)\b",
    re.IGNORECASE,
)
_EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"(?:java|vb)script\s*:|data\s*:\s*text/html", re.IGNORECASE)


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True})
    md.enable("strikethrough")
    md.add_render_rule("link_open", _absolute_link)
    md.add_render_rule("image", _absolute_image)
    return md


def _absolute(tokens: Sequence[Token], idx: int, attr: str, env: EnvType) -> Sequence[Token]:
    """The tokens with tokens[idx]'s URL made absolute, on a copy: parsed tokens are
    rendered more than once (relative for pages, absolute for email and feeds)."""
    value = tokens[idx].attrGet(attr)
    if not (isinstance(value, str) and env.get("base")):
        return tokens
    copy = tokens[idx].copy()
    copy.attrSet(attr, urljoin(env["base"], value))
    return [*tokens[:idx], copy, *tokens[idx + 1 :]]


def _absolute_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.renderToken(_absolute(tokens, idx, "href", env), idx, options, env)


def _absolute_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.image(_absolute(tokens, idx, "src", env), idx, options, env)


def parse(markdown: Markdown | str) -> list[Token]:
    """Tokens to render as often as needed with `render_tokens` and `TextRenderer`."""
    text = markdown.text if isinstance(markdown, Markdown) else markdown
    tokens: list[Token] = _parser().parse(text)
    return tokens


def render_tokens(tokens: list[Token], base_url: str = "") -> str:
    """HTML; relative links and images resolve against base_url when it is given."""
    md = _parser()
    html: str = md.renderer.render(tokens, md.options, {"base": base_url})
    return html


def to_html(markdown: Markdown | str, base_url: str = "") -> str:
    """Render to HTML; relative links and images resolve against base_url."""
    return render_tokens(parse(markdown), base_url)


def inline_html(text: str) -> str:
    """Render one line of Markdown (a key point, a dek) without the <p> wrapper."""
    html: str = _parser().renderInline(text)
    return html


@dataclass(frozen=True)
class Reference:
    """A link or image in Markdown, with its text (or alt) and file line."""

    kind: str  # "link" or "image"
    url: str
    text: str
    line: int


def references(markdown: Markdown) -> list[Reference]:
    found: list[Reference] = []
    open_links: list[tuple[str, int, list[str]]] = []
    for token, line in _walk(parse(markdown), markdown.first_line):
        if token.type == "image":
            found.append(Reference("image", str(token.attrGet("src") or ""), token.content, line))
        elif token.type == "link_open":
            open_links.append((str(token.attrGet("href") or ""), line, []))
        elif token.type in ("text", "code_inline") and open_links:
            open_links[-1][2].append(token.content)
        elif token.type == "link_close" and open_links:
            url, start, parts = open_links.pop()
            found.append(Reference("link", url, "".join(parts).strip(), start))
    return found


def find_problems(markdown: Markdown, label: str) -> tuple[list[Problem], list[tuple[str, int]]]:
    """Refused raw HTML, and the local images used (src, file line)."""
    problems: list[Problem] = []
    images: list[tuple[str, int]] = []
    if "<" not in markdown.text and "![" not in markdown.text:
        return problems, images  # no raw HTML and no image: nothing to parse for
    for token, line in _walk(parse(markdown), markdown.first_line):
        if token.type in ("html_block", "html_inline"):
            reason = _refusal(token.content)
            if reason:
                problems.append(
                    Problem(
                        label,
                        f"{reason}; remove it (raw HTML that runs or embeds content is refused)",
                        line=line,
                    )
                )
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            if not urlsplit(src).scheme and not src.startswith("/"):
                images.append((src, line))
    return problems, images


def refused_html(text: str) -> str | None:
    """Why one line of inline Markdown (a dek, a key point) is refused, or None."""
    return _refusal(text) if "<" in text or ":" in text else None


def _refusal(html: str) -> str | None:
    if match := _DANGEROUS_TAG.search(html):
        return f"raw <{match.group(1).lower()}> element"
    if _EVENT_HANDLER.search(html):
        return "raw HTML with an on*= event handler"
    if _SCRIPT_URL.search(html):
        return "raw HTML with a script URL"
    return None


def _walk(tokens: list[Token], first_line: int) -> Iterator[tuple[Token, int]]:
    """Every token with its file line; inline tokens count the line breaks before them."""
    for token in tokens:
        line = first_line + token.map[0] if token.map else first_line
        yield token, line
        for child in token.children or ():
            yield child, line
            if child.type in ("softbreak", "hardbreak"):
                line += 1


# --- plain text -----------------------------------------------------------------------------


class TextRenderer:
    """Markdown → plain text wrapped at `width`, links numbered into a shared list."""

    def __init__(self, width: int = 72, base_url: str = "") -> None:
        self.width, self.base_url = width, base_url
        self.links: list[str] = []

    def link_number(self, url: str) -> int:
        url = urljoin(self.base_url, url) if self.base_url else url
        if url not in self.links:
            self.links.append(url)
        return self.links.index(url) + 1

    def render(self, markdown: Markdown | str | list[Token]) -> str:
        tokens = markdown if isinstance(markdown, list) else parse(markdown)
        blocks: list[str] = []
        self._blocks(tokens, 0, len(tokens), blocks, prefix="")
        return "\n\n".join(blocks)

    def inline(self, text: str) -> str:
        tokens = _parser().parseInline(text)
        return self._inline(tokens[0].children or []) if tokens else ""

    def wrap(self, text: str, first: str = "", rest: str = "") -> str:
        """Greedy wrap at width; words longer than a line (URLs) stand alone, unbroken.

        Same result as textwrap.fill(break_long_words=False, break_on_hyphens=False)
        at a fraction of its cost, which mattered: every paragraph goes through here.
        """
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
            token = tokens[i]
            if token.type == "heading_open":
                title = self._inline(tokens[i + 1].children or [])
                rule = "=" if token.tag in ("h1", "h2") else "-"
                out.append(f"{title}\n{rule * min(len(title), self.width)}")
                i += 3
            elif token.type == "paragraph_open":
                out.append(self.wrap(self._inline(tokens[i + 1].children or []), prefix, prefix))
                i += 3
            elif token.type in ("blockquote_open", "bullet_list_open", "ordered_list_open"):
                close = _matching_close(tokens, i)
                inner: list[str] = []
                if token.type == "blockquote_open":
                    self._blocks(tokens, i + 1, close, inner, prefix + "> ")
                    out.append(f"\n{prefix}>\n".join(inner))
                else:
                    self._list(tokens, i + 1, close, inner, prefix, token.type)
                    out.append("\n".join(inner))
                i = close + 1
            elif token.type in ("fence", "code_block"):
                out.append(
                    "\n".join(prefix + "    " + ln for ln in token.content.rstrip().split("\n"))
                )
                i += 1
            elif token.type == "hr":
                out.append(prefix + "* * *")
                i += 1
            else:  # html_block and anything unknown: nothing a text reader can use
                i += 1

    def _list(
        self, tokens: list[Token], start: int, end: int, out: list[str], prefix: str, kind: str
    ) -> None:
        number = 1
        i = start
        while i < end:
            if tokens[i].type == "list_item_open":
                close = _matching_close(tokens, i)
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
        pending: list[int] = []
        for child in children:
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type == "softbreak":
                parts.append(" ")
            elif child.type == "hardbreak":
                parts.append("\n")
            elif child.type == "link_open":
                pending.append(self.link_number(str(child.attrGet("href") or "")))
            elif child.type == "link_close" and pending:
                parts.append(f" [{pending.pop()}]")
            elif child.type == "image":
                parts.append(f"[image: {child.content}]" if child.content else "")
        return "".join(parts)


def _matching_close(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for j in range(open_index, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1
