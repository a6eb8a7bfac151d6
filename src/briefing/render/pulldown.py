"""A compiled parse of common Markdown: pyromark (pulldown-cmark) events → markdown-it tokens.

markdown-it-py is the reference parser and ~15% of a cold build's CPU. Most bodies
are paragraphs, headings, quotes, lists, emphasis, inline links and images, where
pulldown-cmark and markdown-it agree (both CommonMark); for those, `tokens` builds
the token list markdown-it would, so every renderer downstream (HTML rules,
`TextRenderer`, `scan`) stays the same. Anything where the two parsers are known
to differ or that this adapter does not build (raw HTML, autolinks, entities,
backslash escapes, code blocks, strikethrough, reference links, tabs, deep nesting)
gives None, and the caller parses with markdown-it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from typing import Any, Literal

import pyromark
from markdown_it.token import Token
from pyromark.event import Range

# Characters whose constructs are left to markdown-it: raw HTML and autolinks (<),
# escapes (\\), strikethrough (~: single tildes strike in pulldown-cmark),
# NUL, and whitespace other than space and newline (tabs, CR; markdown-it-py strips
# every Unicode space, U+00A0 too, around paragraphs): Python's str.isspace set.
_DEFER_CHARS = re.compile(
    r"[<\\~\0\t\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# An entity or character reference (a lone & as in "Q&A" is text to both parsers).
_ENTITY = re.compile(r"&#?[A-Za-z0-9]+;")
# markdown-it parses a link's text on its own, so a * or _ run touching the brackets
# inside sees the end of the text, where pulldown-cmark sees the bracket: when the
# run's other side is not a letter or digit, they can disagree on emphasis.
_BRACKET_EMPHASIS = re.compile(r"[^A-Za-z0-9][*_]+\]|\[[*_]+[^A-Za-z0-9]")


def _deferred(text: str) -> bool:
    if _DEFER_CHARS.search(text) or "]:" in text:  # ]: a reference definition
        return True
    if "&" in text and _ENTITY.search(text):
        return True
    if text.startswith("    ") or "\n    " in text:
        return True  # a lazy line indented 4+: code to markdown-it, paragraph to pulldown
    brackets = "*]" in text or "_]" in text or "[*" in text or "[_" in text
    return brackets and _BRACKET_EMPHASIS.search(text) is not None


# markdown-it stops nesting at 20 levels (maxNesting); stay well below it.
_MAX_DEPTH = 12

_OPTIONS = pyromark.Options.ENABLE_STRIKETHROUGH

_LIST_MARK = re.compile(rb"\s*(\d*)([-+*.)])")


class _Defer(Exception):
    """A construct this adapter leaves to markdown-it."""


def tokens(text: str, normalize_link: Callable[[str], str]) -> list[Token] | None:
    """markdown-it's tokens for text, or None when markdown-it must parse it."""
    if _deferred(text):
        return None
    try:
        return _Builder(text, normalize_link).build()
    except _Defer:
        return None


class _Builder:
    def __init__(self, text: str, normalize_link: Callable[[str], str]) -> None:
        self.text = text
        self.source = text.encode()
        self.normalize_link = normalize_link
        self.starts = [0] + [m.end() for m in re.finditer(b"\n", self.source)]
        self.out: list[Token] = []
        self.blocks: list[tuple[str, Token]] = []  # open containers: kind and opening token
        self.inline: Token | None = None  # the inline token being filled
        self.children: list[Token] = []  # where inline tokens go (an image's alt nests)
        self.stack: list[list[Token]] = []  # outer children lists while inside an image
        self.inline_open: list[str] = []  # open inline tags, for depth
        self.hidden = False  # the open paragraph is a tight list item's, written without <p>
        self.end = 0  # where the inline content seen so far ends (bytes)
        self.inline_start = 0  # where the open paragraph or heading starts
        self.image_start = 0  # where the open image's alt starts

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1

    def lines(self, span: Range) -> list[int]:
        return [self.line(span["start"]), self.line(max(span["start"], span["end"] - 1)) + 1]

    def block(self, type_: str, tag: str, nesting: Literal[-1, 0, 1], span: Range | None) -> Token:
        token = Token(type_, tag, nesting, block=True, level=len(self.blocks))
        if span is not None and nesting >= 0:
            token.map = self.lines(span)
        self.out.append(token)
        return token

    def build(self) -> list[Token]:
        for event, span in pyromark.events_with_range(self.text, options=_OPTIONS):
            if isinstance(event, str):
                self.simple(event, span)
            elif "Text" in event:
                self.text_run(event["Text"], span)
            elif "Start" in event:
                self.start(event["Start"], span)
            elif "End" in event:
                self.finish(event["End"], span)
            elif "Code" in event:
                self.code(event["Code"], span)
            else:
                raise _Defer
        self.close_hidden()
        return self.out

    # Blocks

    def start(self, tag: Any, span: Range) -> None:
        if tag == "Paragraph":
            self.close_hidden()
            if self.inline is not None:
                raise _Defer
            self.open_paragraph(span, hidden=False)
        elif tag in ("Emphasis", "Strong"):
            name = "em" if tag == "Emphasis" else "strong"
            self.inline_tag(name + "_open", name, 1, span)
        elif tag == "Item":
            self.close_hidden()
            self.container("list_item_open", "li", "item", span)
        elif isinstance(tag, dict) and "Heading" in tag:
            self.close_hidden()
            level = tag["Heading"]["level"]
            token = self.block("heading_open", "h" + level[1], 1, span)
            token.markup = "#" * int(level[1])
            self.open_inline(token, span)
        elif isinstance(tag, dict) and "BlockQuote" in tag and tag["BlockQuote"] is None:
            self.close_hidden()
            self.container("blockquote_open", "blockquote", "quote", span).markup = ">"
        elif isinstance(tag, dict) and "List" in tag:
            self.close_hidden()
            self.open_list(tag["List"], span)
        elif isinstance(tag, dict) and "Link" in tag:
            self.link(tag["Link"], span)
        elif isinstance(tag, dict) and "Image" in tag:
            self.image(tag["Image"], span)
        else:
            raise _Defer

    def container(self, type_: str, tag: str, kind: str, span: Range) -> Token:
        if len(self.blocks) >= _MAX_DEPTH:
            raise _Defer
        token = self.block(type_, tag, 1, span)
        self.blocks.append((kind, token))
        return token

    def open_list(self, start: int | None, span: Range) -> None:
        mark = _LIST_MARK.match(self.source, span["start"])
        if mark is None:
            raise _Defer
        if start is None:
            token = self.container("bullet_list_open", "ul", "bullet", span)
        else:
            token = self.container("ordered_list_open", "ol", "ordered", span)
            if start != 1:
                token.attrs["start"] = start
        token.markup = mark.group(2).decode()

    def finish(self, tag: Any, span: Range) -> None:
        if tag == "Paragraph":
            self.close_paragraph()
        elif tag in ("Emphasis", "Strong"):
            name = "em" if tag == "Emphasis" else "strong"
            self.inline_tag(name + "_close", name, -1, span)
        elif tag == "Item":
            self.close_hidden()
            if self.out[-1] is self.blocks[-1][1]:
                raise _Defer  # an empty item: the parsers end the list differently after one
            self.close_container("list_item_close", "li")
        elif isinstance(tag, dict) and "Heading" in tag:
            self.close_inline()
            self.block("heading_close", "h" + tag["Heading"][1], -1, None)
        elif isinstance(tag, dict) and "BlockQuote" in tag:
            self.close_hidden()
            self.close_container("blockquote_close", "blockquote")
        elif isinstance(tag, dict) and "List" in tag:
            kind = self.blocks[-1][0]
            self.close_container(kind + "_list_close", "ol" if kind == "ordered" else "ul")
        elif tag == "Link":
            self.inline_tag("link_close", "a", -1, span)
        elif tag == "Image":
            self.close_image(span)
        else:
            raise _Defer

    def close_container(self, type_: str, tag: str) -> None:
        _, opening = self.blocks.pop()
        self.block(type_, tag, -1, None).markup = opening.markup

    def open_paragraph(self, span: Range, hidden: bool) -> None:
        token = self.block("paragraph_open", "p", 1, span)
        token.hidden = self.hidden = hidden
        self.open_inline(token, span)

    def close_paragraph(self) -> None:
        self.close_inline()
        self.block("paragraph_close", "p", -1, None).hidden = self.hidden
        self.hidden = False

    def close_hidden(self) -> None:
        """End a tight list item's paragraph, which pulldown-cmark does not mark."""
        if self.inline is not None and self.hidden:
            self.close_paragraph()

    def open_inline(self, parent: Token, span: Range) -> None:
        self.inline = Token("inline", "", 0, block=True, level=len(self.blocks) + 1)
        self.inline.map = parent.map
        self.inline.children = self.children = []
        self.out.append(self.inline)
        self.inline_start = span["start"]

    def close_inline(self) -> None:
        inline = self.inline
        if inline is None or self.stack or self.inline_open:
            raise _Defer
        # The paragraph's source, for completeness: no renderer reads it.
        inline.content = self.source[self.inline_start : self.end].decode().strip()
        if self.hidden and inline.map is not None:
            inline.map[1] = self.line(max(self.inline_start, self.end - 1)) + 1
        self.inline = None

    # Inline

    def ensure_inline(self, span: Range) -> None:
        """Inline content straight inside a list item: a tight list's hidden paragraph."""
        if self.inline is None:
            if not self.blocks or self.blocks[-1][0] != "item":
                raise _Defer
            self.open_paragraph(span, hidden=True)

    def leaf(self, token: Token, span: Range) -> None:
        self.ensure_inline(span)
        token.level = len(self.inline_open)
        self.children.append(token)
        self.end = max(self.end, span["end"])

    def text_run(self, text: str, span: Range) -> None:
        last = self.children[-1] if self.inline is not None and self.children else None
        if last is not None and last.type == "text":
            last.content += text  # markdown-it joins adjacent text (text_join)
            self.end = max(self.end, span["end"])
        else:
            self.leaf(Token("text", "", 0, content=text), span)

    def simple(self, event: str, span: Range) -> None:
        if event == "SoftBreak":
            self.leaf(Token("softbreak", "br", 0), span)
        elif event == "HardBreak":
            self.leaf(Token("hardbreak", "br", 0), span)
        elif event == "Rule":
            self.close_hidden()
            mark = self.source[span["start"] : span["end"]].strip()
            self.block("hr", "hr", 0, span).markup = mark.decode()
        else:
            raise _Defer

    def code(self, content: str, span: Range) -> None:
        if b"\n" in self.source[span["start"] : span["end"]]:
            raise _Defer  # its continuation lines' indent in containers: the parsers differ
        self.leaf(Token("code_inline", "code", 0, content=content), span)

    def inline_tag(self, type_: str, tag: str, nesting: Literal[-1, 0, 1], span: Range) -> None:
        if nesting == 1:
            if len(self.inline_open) >= _MAX_DEPTH:
                raise _Defer
            self.leaf(Token(type_, tag, 1), span)
            self.inline_open.append(tag)
        else:
            if not self.inline_open or self.inline_open.pop() != tag:
                raise _Defer
            self.leaf(Token(type_, tag, -1), span)

    def link(self, link: dict[str, str], span: Range) -> None:
        if link["link_type"] != "Inline" or self.stack:
            raise _Defer
        self.inline_tag("link_open", "a", 1, span)
        token = self.children[-1]
        token.attrs["href"] = self.normalize_link(link["dest_url"])
        if link["title"]:
            token.attrs["title"] = link["title"]

    def image(self, image: dict[str, str], span: Range) -> None:
        if image["link_type"] != "Inline" or self.stack:
            raise _Defer
        alt: list[Token] = []
        token = Token("image", "img", 0, children=alt)
        token.attrs["src"] = self.normalize_link(image["dest_url"])
        token.attrs["alt"] = ""  # written from the children when rendered
        if image["title"]:
            token.attrs["title"] = image["title"]
        self.leaf(token, span)
        self.stack.append(self.children)
        self.children = alt
        self.image_start = span["start"] + 2  # after ![
        self.end = self.image_start

    def close_image(self, span: Range) -> None:
        if not self.stack:
            raise _Defer
        self.children = self.stack.pop()
        token = self.children[-1]
        # Its alt as written (the text part shows it): the label up to its closing ].
        label_end = self.source.find(b"]", self.end, span["end"])
        if label_end < 0:
            raise _Defer
        label = self.source[self.image_start : label_end]
        if b"\n" in label:
            raise _Defer  # markdown-it's label is its lines less their indent in the container
        token.content = label.decode()
        self.end = span["end"]
