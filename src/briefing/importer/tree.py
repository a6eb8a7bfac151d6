"""HTML → a small element tree with line numbers, through the standard library's parser.

Only parsing: nothing is fetched or run. The builder knows the few implied end
tags real pages rely on (a block closes an open <p>, a <li> closes the previous
<li>) and caps the depth, so walking the tree never exhausts the recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from briefing.importer.normalise import names

VOID = names("area base br col embed hr img input keygen link meta param source track wbr")
INLINE = names(
    "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup"
    " time u var del ins font"
)
# Block-level elements: they start a new Markdown block.
BLOCKS = names(
    "p h1 h2 h3 h4 h5 h6 blockquote ul ol li pre div section article main header table thead"
    " tbody tfoot tr td th dl dt dd hr caption address"
)
_CLOSES_P = names(
    "address article aside blockquote details div dl fieldset figcaption figure footer form"
    " h1 h2 h3 h4 h5 h6 header hr main menu nav ol p pre section table ul"
)
_HIDDEN = ("script", "style", "template", "noscript")
# Where a new <li>, <dt>… stops looking for an open sibling to close, and which siblings it closes.
_SCOPE = {"li": ("ul", "ol"), "dt": ("dl",), "dd": ("dl",), "tr": ("table",)}
_PEERS = {"dt": ("dt", "dd"), "dd": ("dt", "dd"), "td": ("td", "th"), "th": ("td", "th")}
_CLOSES_SIBLING = ("li", "dt", "dd", "tr", "td", "th", "option")
# Deeper elements are kept as empty siblings and their text goes to the last open element:
# the text stays, and walking the tree cannot exhaust Python's recursion limit.
_MAX_DEPTH = 120


class Node:
    __slots__ = ("attrs", "children", "line", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], line: int) -> None:
        self.tag, self.attrs, self.line = tag, attrs, line
        self.children: list[Node | str] = []

    def get(self, name: str) -> str:
        return self.attrs.get(name, "")

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def first(self, tag: str) -> Node | None:
        return next((n for n in self.iter() if n.tag == tag), None)

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in _HIDDEN:
                parts.append(" " + child.text() + " " if child.tag not in INLINE else child.text())
        return "".join(parts)

    def tokens(self) -> set[str]:
        """Words of the class and id, split at spaces, hyphens and underscores."""
        value = f"{self.get('class')} {self.get('id')}".lower()
        return set(re.split(r"[\s_-]+", value)) - {""}


def parse_html(text: str) -> Node:
    """The document's root node (tag '#root')."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


class _TreeBuilder(HTMLParser):
    """html.parser → Node tree, with the few implied end tags real pages rely on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, 1)
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        top = self.stack[-1]
        if tag in _CLOSES_P and top.tag == "p":
            self.stack.pop()
        if tag in _CLOSES_SIBLING:
            self._close_sibling(tag)
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        node = Node(tag, values, self.getpos()[0])
        self.stack[-1].children.append(node)
        if tag not in VOID and len(self.stack) < _MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack[-1].tag == tag:
            self.stack.pop()

    def _close_sibling(self, tag: str) -> None:
        scope = _SCOPE.get(tag, ("tr", "table", "select"))
        peers = _PEERS.get(tag, (tag,))
        for depth in range(len(self.stack) - 1, 0, -1):
            node = self.stack[depth]
            if node.tag in scope:
                return
            if node.tag in peers:
                del self.stack[depth:]
                return

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)
