"""Sanitised HTML → Markdown blocks: paragraphs, subheadings, quotes, lists, code, table rows.

Its input is the sanitiser's output, parsed again: only allowed elements, each with
its source line in ``data-line``. Text is escaped and links are kept only to
absolute http(s) URLs, so the Markdown holds no raw HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from briefing.importer.article import Note
from briefing.importer.blocks import LISTS, Block, escape, md_url, render
from briefing.importer.heuristics import QUICK_LOOKS, key_point
from briefing.importer.normalise import CONTROL, clean, http_url, same
from briefing.importer.tree import BLOCKS, Node
from briefing.model import KeyPoint

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_PARAGRAPHS = ("p", "dt", "dd", "caption", "address", "li")


def to_blocks(root: Node, headline: str) -> tuple[list[Block], tuple[Note, ...]]:
    """The blocks of a sanitised fragment; the first heading repeating `headline` is left out."""
    converter = _Converter(headline)
    return converter.blocks(root), tuple(converter.notes)


def take_key_points(blocks: list[Block]) -> tuple[tuple[KeyPoint, ...], str]:
    """A '…: Quick Looks' heading followed by a list of 'Label: text' items → key points.

    Removes both blocks from `blocks`; returns the points and their title.
    """
    for index, block in enumerate(blocks[:-1]):
        following = blocks[index + 1]
        if block.kind not in ("heading", "para") or not QUICK_LOOKS.match(block.plain):
            continue
        if following.kind not in LISTS:
            continue
        points = [key_point(item) for item in following.items_plain]
        kept = tuple(p for p in points if p is not None)
        if points and len(kept) == len(points):
            del blocks[index : index + 2]
            return kept, block.plain
    return (), ""


BlockHandler = Callable[[Node, list[Block]], None]


class _Converter:
    def __init__(self, headline: str) -> None:
        self.headline = headline
        self.headline_seen = False
        self.notes: list[Note] = []
        self._handlers: dict[str, BlockHandler] = {
            **dict.fromkeys(_PARAGRAPHS, self._paragraph),
            **dict.fromkeys(_HEADINGS, self._heading),
            "blockquote": self._quote,
            "ul": self._list,
            "ol": self._list,
            "pre": self._code,
            "tr": self._row,
            "table": self._table,
            "hr": self._rule,
        }

    def blocks(self, node: Node) -> list[Block]:
        """The node's children as blocks; runs of inline content become paragraphs."""
        out: list[Block] = []
        run: list[Node | str] = []
        for child in node.children:
            if isinstance(child, str) or child.tag not in BLOCKS:
                run.append(child)
                continue
            self._flush(run, node, out)
            self._handlers.get(child.tag, self._container)(child, out)
        self._flush(run, node, out)
        return out

    def _flush(self, run: list[Node | str], parent: Node, out: list[Block]) -> None:
        if run:
            holder = Node("p", {"data-line": parent.get("data-line")}, 0)
            holder.children = list(run)
            run.clear()
            self._paragraph(holder, out)

    def _paragraph(self, node: Node, out: list[Block]) -> None:
        if any(isinstance(c, Node) and c.tag in BLOCKS for c in node.children):
            out.extend(self.blocks(node))  # a <li> or <dd> holding paragraphs or lists
            return
        md = _Inline().render(node)
        if md:
            out.append(Block("para", md, clean(node.text()), _line(node)))

    def _heading(self, node: Node, out: list[Block]) -> None:
        md, plain = _Inline().render(node), clean(node.text())
        if not plain:
            return
        if not self.headline_seen and same(plain, self.headline):
            self.headline_seen = True
            self.notes.append(
                (_line(node), f"<{node.tag}> is the headline; not repeated in the body")
            )
            return
        out.append(Block("heading", md, plain, _line(node)))

    def _quote(self, node: Node, out: list[Block]) -> None:
        inner = self.blocks(node)
        for block in inner:
            if block.kind == "heading":  # a quote holds no subheadings
                block.kind = "para"
        if inner:
            out.append(Block("quote", render(inner), " ".join(b.plain for b in inner), _line(node)))

    def _list(self, node: Node, out: list[Block]) -> None:
        items = _list_items(node)
        rendered = [render(self.blocks(li), tight=True) for li in items]
        kept = [(r, clean(li.text())) for r, li in zip(rendered, items, strict=True) if r]
        if kept:
            kind = "list" if node.tag == "ul" else "olist"
            plain = " ".join(p for _, p in kept)
            markdown, texts = [r for r, _ in kept], [p for _, p in kept]
            out.append(Block(kind, "", plain, _line(node), markdown, texts))

    def _code(self, node: Node, out: list[Block]) -> None:
        text = node.text().strip("\n")
        if text.strip():
            out.append(Block("code", text, clean(text), _line(node)))

    def _row(self, node: Node, out: list[Block]) -> None:
        cells = [_Inline().render(c) for c in node.children if isinstance(c, Node)]
        cells = [c for c in cells if c]
        if cells:
            out.append(Block("para", " | ".join(cells), clean(node.text()), _line(node)))

    def _table(self, node: Node, out: list[Block]) -> None:
        self.notes.append((_line(node), "a table was flattened into one paragraph per row"))
        out.extend(self.blocks(node))

    def _rule(self, node: Node, out: list[Block]) -> None:
        return

    def _container(self, node: Node, out: list[Block]) -> None:
        """div, section, article, header, dl, tbody …: their blocks, in place."""
        out.extend(self.blocks(node))


def _list_items(node: Node) -> list[Node]:
    """The <li> children; anything else inside the list becomes an item of its own."""
    items: list[Node] = []
    loose: Node | None = None
    for child in node.children:
        if isinstance(child, Node) and child.tag == "li":
            items.append(child)
            loose = None
        elif isinstance(child, Node) or child.strip():
            if loose is None:
                loose = Node("li", {"data-line": node.get("data-line")}, 0)
                items.append(loose)
            loose.children.append(child)
    return items


def _line(node: Node) -> int | None:
    value = node.get("data-line")
    return int(value) if value.isdigit() else None


_BREAK = "\x00"  # a <br> until the lines are joined


class _Inline:
    """Inline HTML → inline Markdown; text escaped, links only to http(s) URLs."""

    def render(self, node: Node) -> str:
        text = re.sub(r"\s+", " ", self._children(node))
        lines = [ln.strip() for ln in text.split(_BREAK)]
        return "\\\n".join(ln for ln in lines if ln)

    def _children(self, node: Node) -> str:
        return "".join(self._node(c) for c in node.children)

    def _node(self, node: Node | str) -> str:
        if isinstance(node, str):
            return escape(CONTROL.sub("", node))
        if node.tag == "br":
            return _BREAK
        inner = self._children(node)
        handler = _INLINE_HANDLERS.get(node.tag)
        if handler:
            return handler(node, inner)
        return f" {inner} " if node.tag in BLOCKS else inner


def _link(node: Node, inner: str) -> str:
    href = http_url(node.get("href"))
    lead, text, trail = _split_space(inner)
    if not text or not href:
        return inner
    return f"{lead}[{text}]({md_url(href)}){trail}"


def _code(node: Node, inner: str) -> str:
    raw = clean(node.text())
    if not raw:
        return ""
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", raw)), default=0) + 1)
    pad = " " if raw.startswith("`") or raw.endswith("`") else ""
    return f"{ticks}{pad}{raw}{pad}{ticks}"


def _split_space(text: str) -> tuple[str, str, str]:
    match = re.match(r"^(\s*)(.*?)(\s*)$", text, re.DOTALL)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _wrap(inner: str, mark: str) -> str:
    lead, text, trail = _split_space(inner)
    if not text or _BREAK in text:
        return inner
    return f"{lead}{mark}{text}{mark}{trail}"


def _emphasis(_: Node, inner: str) -> str:
    return _wrap(inner, "*")


def _strong(_: Node, inner: str) -> str:
    return _wrap(inner, "**")


# Inline elements that become Markdown; the others leave only their content.
_INLINE_HANDLERS: dict[str, Callable[[Node, str], str]] = {
    "a": _link,
    **dict.fromkeys(("em", "i", "cite"), _emphasis),
    **dict.fromkeys(("strong", "b"), _strong),
    "code": _code,
}
