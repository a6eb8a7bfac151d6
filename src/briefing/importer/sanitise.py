"""The story's region → safe HTML: page furniture and debris dropped, links checked, lines kept.

What runs, embeds or collects input is dropped with everything inside it; share
boxes, 'Related' lists, captions and comment prompts are dropped as debris; a
byline or dek found in the body is taken as the field. Every drop is noted with
its line. nh3 then cleans the result against an allow-list, so what reaches the
converter is only the elements in `_KEEP` with `data-line` and http(s) `href`s.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3

from briefing.importer.article import Note
from briefing.importer.blocks import escape
from briefing.importer.heuristics import DEBRIS, RELATED_HEADING
from briefing.importer.normalise import (
    clean,
    http_url,
    joined_url,
    names,
    same,
    snippet,
    strip_by,
    url_scheme,
)
from briefing.importer.tree import BLOCKS, INLINE, VOID, Node

# Elements dropped with everything inside them: they run, embed or collect input.
_DANGEROUS = names(
    "script style iframe frame frameset object embed applet noscript template svg math canvas"
    " form input button select textarea option base link meta audio video source track picture"
    " map area dialog portal"
)
# Page furniture, not the story.
_FURNITURE = names("nav aside footer figure figcaption")
_DEBRIS_TOKENS = names(
    "share sharing sharebar social subscribe subscription newsletter signup related"
    " recommended comments comment advert advertisement ad ads promo paywall sidebar"
    " breadcrumb breadcrumbs credit credits caption"
)
_CAPTION_TOKENS = names("credit credits caption")
# An element named like a share or related box is dropped only when it is this small:
# a wrapper of the whole story may carry such a class too.
_FURNITURE_SIZE = 800
_BYLINE_TOKENS = names("byline author authors")
_DEK_TOKENS = names("dek standfirst subhead subheadline subtitle strapline")
_KEEP = names(
    "p h1 h2 h3 h4 h5 h6 blockquote ul ol li a em i strong b code pre br div section article"
    " main header span table thead tbody tfoot tr td th dl dt dd sup sub small mark u s del"
    " ins cite q abbr time caption"
)
_SUBHEADINGS = ("h2", "h3", "h4", "h5", "h6", "p")


@dataclass(frozen=True)
class Sanitised:
    html: str  # only _KEEP elements, each with data-line; links absolute http(s)
    byline: str  # the byline given, else one found in the body
    dek: str  # the dek given, else one found in the body (inline Markdown)
    notes: tuple[Note, ...]


def sanitise(region: Node, base: str, byline: str, dek: str) -> Sanitised:
    """The region as safe HTML; relative links resolve against base (the page's URL) if any."""
    serialiser = _Serialiser(base, byline, dek)
    fragment = serialiser.fragment(region)
    cleaned: str = nh3.clean(
        fragment,
        tags=set(_KEEP),
        clean_content_tags=set(_DANGEROUS - {"base", "link", "meta", "source", "track"}),
        attributes={"*": {"data-line"}, "a": {"href"}},
        url_schemes={"http", "https"},
        link_rel=None,
        strip_comments=True,
    )
    return Sanitised(cleaned, serialiser.byline, serialiser.dek, tuple(serialiser.notes))


def _handlers(node: Node) -> list[str]:
    return sorted(a for a in node.attrs if a.startswith("on"))


class _Serialiser:
    """Region → HTML for nh3: debris dropped with notes, URLs made absolute, lines kept."""

    def __init__(self, base: str, byline: str, dek: str) -> None:
        self.base, self.byline, self.dek = base, byline, dek
        self.notes: list[Note] = []

    def fragment(self, region: Node) -> str:
        out: list[str] = []
        self._children(region, out)
        return "".join(out)

    def _children(self, node: Node, out: list[str]) -> None:
        skip_list = False  # after a 'Related' heading, until the next element
        for child in node.children:
            if isinstance(child, str):
                out.append(html.escape(child, quote=False))
                continue
            if skip_list and child.tag in ("ul", "ol"):
                self._drop(child, "the list under a 'Related' heading")
                skip_list = False
                continue
            if child.tag in _SUBHEADINGS and RELATED_HEADING.match(clean(child.text())):
                self._drop(child, "a 'Related' heading")
                skip_list = True
                continue
            skip_list = False
            self._element(child, out)

    def _note(self, line: int | None, text: str) -> None:
        self.notes.append((line, text))

    def _drop(self, node: Node, what: str) -> None:
        text = clean(node.text())
        self._note(node.line, f"dropped {what}" + (f": '{snippet(text)}'" if text else ""))

    def _element(self, node: Node, out: list[str]) -> None:
        if node.tag in ("head", "title"):  # metadata, read already; only when there is no <body>
            return
        if self._embedded(node) or self._furniture(node) or self._taken_or_debris(node):
            return
        if handlers := _handlers(node):
            self._note(
                node.line, f"removed {', '.join(h + '=' for h in handlers)} from <{node.tag}>"
            )
        if node.tag in _KEEP:
            self._copy(node, out)
        else:
            self._children(node, out)

    def _embedded(self, node: Node) -> bool:
        """Dropped: an element that runs, embeds or collects input (or an image)."""
        tag = node.tag
        if tag not in _DANGEROUS and tag != "img":
            return False
        what = f"<{tag}>"
        if tag == "img":
            what = f"<img src='{snippet(node.get('src'), 50)}'> (images are not imported)"
        if handlers := _handlers(node):
            what += f" with {', '.join(h + '=' for h in handlers)}"
        self._drop(node, what)
        return True

    def _furniture(self, node: Node) -> bool:
        if node.tag not in _FURNITURE:
            return False
        self._drop(
            node, "<figure> (image and caption)" if node.tag == "figure" else f"<{node.tag}>"
        )
        return True

    def _taken_or_debris(self, node: Node) -> bool:
        """A byline or dek taken as a field, or debris dropped: the element is not copied."""
        tokens = node.tokens()
        text = clean(node.text()) if tokens or node.tag in BLOCKS else ""
        if node.tag != "a" and tokens & _BYLINE_TOKENS and len(text) <= 120:
            self._take_byline(node)
            return True
        if tokens & _DEK_TOKENS and self._take_dek(node):
            return True
        if node.tag not in INLINE or tokens & _CAPTION_TOKENS:
            return self._debris(node, tokens, text)
        return False

    def _debris(self, node: Node, tokens: set[str], text: str) -> bool:
        """Dropped: a small element named like furniture, or a block of debris text."""
        if tokens & _DEBRIS_TOKENS:
            named = f"<{node.tag} class='{snippet(node.get('class') or node.get('id'), 40)}'>"
            if len(text) <= _FURNITURE_SIZE:
                self._drop(node, named)
                return True
            self._note(
                node.line,
                f"kept {named} although its name suggests page furniture:"
                f" it holds {len(text)} characters of text",
            )
        if node.tag in BLOCKS and DEBRIS.match(text):
            self._drop(node, "debris")
            return True
        return False

    def _copy(self, node: Node, out: list[str]) -> None:
        attrs = f' data-line="{node.line}"'
        if node.tag == "a" and (href := self._href(node)):
            attrs += f' href="{html.escape(href)}"'
        out.append(f"<{node.tag}{attrs}>")
        if node.tag not in VOID:
            self._children(node, out)
            out.append(f"</{node.tag}>")

    def _href(self, node: Node) -> str:
        """The link as an absolute http(s) URL, or '' (with a note) when it cannot be one."""
        raw = node.get("href")
        compact = re.sub(r"[\x00-\x20]+", "", raw)
        if not compact or compact.startswith("#"):
            return ""
        scheme = url_scheme(compact)
        text = snippet(node.text(), 40)
        if scheme and scheme not in ("http", "https"):
            self._note(node.line, f"removed a {scheme}: link; kept its text '{text}'")
            return ""
        url = http_url(joined_url(self.base, compact)) if self.base else http_url(compact)
        if not url and scheme != "":  # an http(s) URL that is not valid, or no URL at all
            self._note(
                node.line, f"removed the invalid link '{snippet(raw, 50)}'; kept its text '{text}'"
            )
        elif not url:
            self._note(
                node.line,
                f"removed the relative link '{snippet(raw, 50)}' (the page's URL is unknown);"
                f" kept its text '{text}'",
            )
        return url

    def _take_byline(self, node: Node) -> None:
        text = strip_by(node.text())
        if not text:
            return
        if not self.byline:
            self.byline = text
        else:
            self._note(
                node.line,
                f"byline '{snippet(node.text())}' not kept in the body (byline: {self.byline})",
            )

    def _take_dek(self, node: Node) -> bool:
        """A dek in the page: taken as the dek, or dropped when it repeats it."""
        text = clean(node.text())
        if not text:
            return False
        if not self.dek:
            self.dek = escape(text)
            return True
        if same(text, self.dek.replace("\\", "")):
            self._note(node.line, "dropped the dek repeated in the body")
            return True
        return False
