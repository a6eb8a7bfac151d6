"""Markdown output on a large generated corpus: pinned, and checked for invariants that
must hold whatever parser renders it (issue 15's parser switch).

The corpus (bench/md_corpus.py, seeded) holds the bodies and one-line fields of
generated issues and hostile CommonMark: nested lists, raw HTML, entities, code,
GFM tables (unsupported), autolinks, script URLs. For every document the HTML
(page and email flavours), the plain text with its link list and the references
`check` reads are pinned by digest in tests/fixtures/markdown-corpus.sha256: a parser
switch must leave them byte-identical, or show here which documents changed.
After an intended change of output, rewrite the digests with

    BRIEFING_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_markdown_corpus.py

and say in the commit why the output changed. The invariants below hold on their own,
golden or not: the HTML is well-formed, the text part says the same words as the
HTML, and the links the checks find are the links the HTML holds.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import lxml.etree
import pytest
from markdown_it.token import Token

from briefing.model import Markdown
from briefing.render.html_policy import url_allowed
from briefing.render.markdown import inline_html, parse, render_tokens
from briefing.render.plaintext import TextRenderer
from briefing.render.scan import Reference, references

REPO = Path(__file__).resolve().parent.parent
DIGESTS = Path(__file__).resolve().parent / "fixtures" / "markdown-corpus.sha256"
BASE = "https://bench.example.com/issues/corpus/"
ISSUES, MIXED = 150, 1200  # about 4,000 documents; a few seconds on the 2-core machine


def _md_corpus() -> ModuleType:
    """bench/md_corpus.py (it imports bench/gen.py, so bench/ goes on the path)."""
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import md_corpus

    return md_corpus


@dataclass(frozen=True)
class Rendered:
    name: str
    source: str
    inline: bool
    outputs: tuple[str, ...]  # everything pinned, in a fixed order
    tokens: list[Token]

    @property
    def digest(self) -> str:
        joined = "\x00".join(self.outputs).encode("utf-8", "surrogatepass")
        return hashlib.sha256(joined).hexdigest()[:16]


def _references(refs: list[Reference]) -> str:
    return "\n".join(f"{r.kind} {r.line} {r.url!r} {r.text!r}" for r in refs)


def _render(name: str, text: str, inline: bool) -> Rendered:
    if inline:
        renderer = TextRenderer(72, BASE)
        outputs = (inline_html(text), renderer.inline(text), "\n".join(renderer.links))
        return Rendered(name, text, inline, outputs, [])
    tokens = parse(text)
    renderer = TextRenderer(72, BASE)
    plain = renderer.render(tokens)
    outputs = (
        render_tokens(tokens),  # a page, relative URLs
        render_tokens(tokens, BASE, shift=1, email=True),  # the email's flavour
        plain,
        "\n".join(renderer.links),
        _references(references(Markdown(text, Path("corpus.md"), 1))),
    )
    return Rendered(name, text, inline, outputs, tokens)


@pytest.fixture(scope="module")
def rendered() -> list[Rendered]:
    docs = _md_corpus().corpus(ISSUES, MIXED)
    return [_render(d.name, d.text, d.inline) for d in docs]


def _corpus_digest(rendered: list[Rendered]) -> str:
    sources = "\x00".join(f"{r.name}\x01{r.source}" for r in rendered)
    return "corpus " + hashlib.sha256(sources.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def test_corpus_output_is_pinned(rendered: list[Rendered]) -> None:
    """The file holds the corpus's own digest, then one digest per document, in order."""
    lines = [_corpus_digest(rendered), *(r.digest for r in rendered)]
    if os.environ.get("BRIEFING_UPDATE_GOLDEN"):
        DIGESTS.write_text("\n".join(lines) + "\n", "utf-8")
    pinned = DIGESTS.read_text("utf-8").split() if DIGESTS.exists() else []
    assert pinned, f"no digests: run with BRIEFING_UPDATE_GOLDEN=1 to write {DIGESTS.name}"
    assert pinned[:2] == lines[0].split(), "the corpus itself changed: rewrite the digests"
    changed = [r for r, digest in zip(rendered, pinned[2:], strict=True) if r.digest != digest]
    if changed:
        first = changed[0]
        shown = "\n---\n".join(first.outputs)[:1500]
        pytest.fail(
            f"{len(changed)} of {len(rendered)} documents render differently, e.g. "
            + ", ".join(r.name for r in changed[:8])
            + f"\n\nfirst: {first.name}, source:\n{first.source[:600]!r}\n\nnow renders:\n{shown}"
        )


def test_corpus_is_large_and_covers_the_hostile_cases(rendered: list[Rendered]) -> None:
    kinds = {t.type for r in rendered for t in _all(r.tokens)}
    for kind in ("html_block", "html_inline", "code_block", "fence", "image", "hardbreak"):
        assert kind in kinds, kind
    assert {"bullet_list_open", "ordered_list_open", "blockquote_open", "s_open"} <= kinds
    assert len(rendered) > 3000


def _all(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from token.children or ()


def _without(tokens: list[Token], inline: frozenset[str]) -> list[Token]:
    """The tokens less raw HTML blocks and the inline tokens of the given types."""
    kept = []
    for token in tokens:
        if token.type == "html_block":
            continue
        if token.children:
            token = token.copy(children=[c for c in token.children if c.type not in inline])
        kept.append(token)
    return kept


# Raw HTML and images set aside, both renderers must agree word for word (the text part
# leaves raw HTML out, and shows an image's alt as written, markup and all).
MARKUP_ONLY = frozenset({"html_inline", "image"})
NO_RAW_HTML = frozenset({"html_inline"})


def _xml(html: str, name: str) -> lxml.etree._Element:
    try:
        return lxml.etree.fromstring(f"<div>{html}</div>")
    except lxml.etree.XMLSyntaxError as exc:
        raise AssertionError(f"{name}: not well-formed ({exc}):\n{html[:800]}") from exc


# Words a renderer adds: heading underlines, quote marks, list markers, the rule.
_ADDED = re.compile(r"^(=+|-+|>+|\*|\d+[.)])$")
_LINK_NUMBER = re.compile(r"(?:\s+|^)\[\d+\]")  # the text part's " [n]" after a link


def _words(text: str) -> list[str]:
    return [w for w in text.split() if not _ADDED.match(w)]


def _differ(a: list[str], b: list[str]) -> str:
    return "\n".join(list(difflib.unified_diff(a, b, "html", "text", lineterm="", n=2))[:20])


def test_html_is_well_formed_and_says_what_the_text_part_says(rendered: list[Rendered]) -> None:
    """With raw HTML and images set aside, the HTML is well-formed XML and its visible
    words are the text part's (the text adds link numbers, list markers, underlines)."""
    for r in (r for r in rendered if not r.inline):
        tokens = _without(r.tokens, MARKUP_ONLY)
        root = _xml(render_tokens(tokens), r.name)
        if "<" not in r.source:
            _xml(r.outputs[1], r.name)  # the email's flavour, quotes in table cells
        html_words = _words("".join(root.itertext()))
        plain = TextRenderer(72, BASE).render(tokens).replace("\u2060", "")  # code's {{ guard
        text_words = _words(_LINK_NUMBER.sub("", plain))
        assert html_words == text_words, f"{r.name}:\n{_differ(html_words, text_words)}"


def test_one_line_fields_agree_in_html_and_text(rendered: list[Rendered]) -> None:
    for r in (r for r in rendered if r.inline and "![" not in r.source):
        html, plain = r.outputs[0], r.outputs[1]
        if "<" not in r.source:
            html_words = _words("".join(_xml(html, r.name).itertext()))
        else:
            html_words = _words("".join(lxml.etree.HTML(f"<p>{html}</p>").itertext()))
        text_words = _words(_LINK_NUMBER.sub("", plain).replace("\u2060", ""))
        assert html_words == text_words, f"{r.name}:\n{_differ(html_words, text_words)}"


def test_text_of_generated_issues_has_no_markup(rendered: list[Rendered]) -> None:
    for r in (r for r in rendered if r.name.startswith("real/")):
        plain = r.outputs[0 if r.inline else 2]
        for mark in ("*", "<", "](", "&amp;", "&#", "__"):
            assert mark not in plain, f"{r.name}: {mark!r} in the text part:\n{plain[:400]}"
        assert all(">" not in line.lstrip("> ") for line in plain.splitlines()), r.name


def test_links_found_by_the_checks_are_the_links_in_the_html(rendered: list[Rendered]) -> None:
    """scan.references (what `check` follows) lists every <a href> and <img src> of the
    HTML, in order; a refused URL is a link without href; the text part numbers links in
    the same order."""
    for r in (r for r in rendered if not r.inline):
        refs = references(Markdown(r.source, Path("corpus.md"), 1))
        # raw <a> and <img> are not Markdown references: leave raw HTML out
        root = _xml(render_tokens(_without(r.tokens, NO_RAW_HTML)), r.name)
        links = [x.url for x in refs if x.kind == "link"]
        assert [a.get("href") for a in root.iter("a")] == [
            u if url_allowed(u) else None for u in links
        ], r.name
        images = [x.url for x in refs if x.kind == "image" and url_allowed(x.url)]
        assert [i.get("src") for i in root.iter("img")] == images, r.name
        if all(url_allowed(u) for u in links):
            numbered = list(dict.fromkeys(urljoin(BASE, u) for u in links))
            assert r.outputs[3].split("\n") == (numbered or [""]), r.name


def test_raw_html_passes_through_unchanged(rendered: list[Rendered]) -> None:
    """The raw-HTML policy refuses at load time and never rewrites: every raw HTML block
    and inline tag is in the page's HTML byte for byte; the text part ignores them all."""
    for r in (r for r in rendered if not r.inline):
        raw = [t for t in _all(r.tokens) if t.type in ("html_block", "html_inline")]
        for token in raw:
            assert token.content.rstrip("\n") in r.outputs[0], f"{r.name}: {token.content!r}"
        if raw:
            plain = TextRenderer(72, BASE).render(_without(r.tokens, NO_RAW_HTML))
            assert r.outputs[2] == plain, r.name
