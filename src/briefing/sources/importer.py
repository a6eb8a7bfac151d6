"""Raw articles → the article format (front matter + Markdown body).

Two input shapes, told apart by content:

- plain text as news sites export it: a header line ``Title/ Source/ DATELINE/
  Author/ Edition/ Dek``, an ``…: Quick Looks`` line with ``- Label: text`` key
  points, then the body one paragraph per line (subheadings, quotes, a
  ``Conclusion: …`` subheading, and trailing debris such as a comment prompt);
- an HTML article page: fields from Open Graph, JSON-LD and ``<meta>``, the body
  from ``<article>`` (else ``<main>``, else ``<body>``).

Nothing is fetched and nothing runs: the page is only parsed. Text that is
dropped (debris, captions, a repeated headline) or cannot be placed is listed in
``ImportedArticle.notes`` with its line, so nothing disappears silently. The
Markdown written contains no raw HTML: every ``<`` from the source is escaped,
links are kept only when they are absolute http(s) URLs, and the HTML body passes
through nh3 before it is converted.

Text fields are plain text, except ``dek`` and the key points' ``label`` and
``text``, which are inline Markdown (the renderers treat them so): they are
escaped like the body.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3
import yaml

from briefing.errors import ContentError, Problem
from briefing.merge import PLACEHOLDER
from briefing.model import KeyPoint
from briefing.sources.issues import slugify

__all__ = [
    "FRONT_MATTER_KEYS",
    "ImportedArticle",
    "article_markdown",
    "article_slug",
    "import_article",
    "write_article",
]

# The article keys this module writes, in order (a subset of sources.issues.ARTICLE_FIELDS).
FRONT_MATTER_KEYS = (
    "headline",
    "source",
    "source_url",
    "byline",
    "dateline",
    "edition",
    "dek",
    "key_points_title",
    "key_points",
)


@dataclass(frozen=True)
class ImportedArticle:
    headline: str
    source: str = ""
    source_url: str = ""
    byline: str = ""
    dateline: str = ""
    edition: str = ""
    dek: str = ""  # inline Markdown
    key_points_title: str = ""
    key_points: tuple[KeyPoint, ...] = ()  # label and text: inline Markdown
    body: str = ""  # Markdown: paragraphs, "## " subheadings, "> " quotes, "- " lists
    published: datetime | None = None  # from the page, when it gives one (with tz)
    notes: tuple[str, ...] = ()  # dropped or unplaced text, each "line N: …"


# --- public API -----------------------------------------------------------------------------


def import_article(path: Path, label: str | None = None) -> ImportedArticle:
    """Read a plain-text or HTML article; ContentError when it cannot be read at all."""
    label = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(Problem(label, f"cannot be read: {exc.strerror or exc}")) from None
    if b"\x00" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ContentError(Problem(label, "is a binary file, not plain text or HTML"))
    text = _decode(data, label, path.suffix.lower() in _HTML_SUFFIXES)
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    is_html = path.suffix.lower() in _HTML_SUFFIXES or _looks_like_html(text)
    return _Html(text, label).article() if is_html else _from_text(text, label)


def article_markdown(article: ImportedArticle) -> str:
    """The text of an ``NN-slug.md`` article file: front matter, then the body."""
    lines = ["---"]
    for key in FRONT_MATTER_KEYS[:-1]:
        value = getattr(article, key)
        if value:
            lines.append(f"{key}: {_yaml(value)}")
    if article.key_points:
        lines.append("key_points:")
        for point in article.key_points:
            lines.append(f"  - label: {_yaml(point.label)}")
            lines.append(f"    text: {_yaml(point.text)}")
    lines.append("---")
    body = article.body.strip("\n")
    return "\n".join(lines) + "\n" + (body + "\n" if body else "")


def article_slug(headline: str) -> str:
    return slugify(headline, fallback="article")


def write_article(article: ImportedArticle, folder: Path) -> Path:
    """Write the article into an issue folder as the next ``NN-slug.md``; never overwrites."""
    numbers = [
        int(m.group(1)) for p in folder.glob("*.md") if (m := re.match(r"^(\d{2,3})-", p.name))
    ]
    path = folder / f"{max(numbers, default=0) + 1:02d}-{article_slug(article.headline)}.md"
    with path.open("x", encoding="utf-8", newline="\n") as out:
        out.write(article_markdown(article))
    return path


# --- shared helpers -------------------------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_QUOTE_MARKS = '“"„«'
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\u200b]")
_QUICK_LOOKS = re.compile(r"^(?:.{0,80}?:\s*)?quick\s+looks?\s*:?$", re.IGNORECASE)
_SECTION_LABEL = re.compile(r"^(?:deep|quick)\s+looks?\s*:?$", re.IGNORECASE)
_CONCLUSION = re.compile(r"^conclusion\s*:\s*\S", re.IGNORECASE)
_KEY_POINT = re.compile(r"^(?P<label>[^:]{1,80}?)\s*:\s+(?P<text>\S.*)$")
_DEBRIS = re.compile(
    r"""^(?:
        you\s+must\s+(?:register|log\s*in|sign\s*in)\b.{0,60}
      | (?:please\s+)?(?:log\s*in|sign\s*in|register)\s+to\s+
          (?:post\s+a\s+|leave\s+a\s+)?comment.{0,30}
      | (?:leave\s+a\s+(?:comment|reply)|\d+\s+comments?|comments?)
      | (?:click\s+to\s+)?share(?:\s+(?:this|on|via)\b.{0,40})?
      | subscribe\b.{0,80}
      | sign\s+up\s+for\s+(?:our|the|a)\b.{0,60}
      | (?:advertisement|sponsored(?:\s+content)?|ad)
      | (?:related(?:\s+(?:articles?|stories|posts|coverage|reading|content|news))?
          |more\s+stories|you\s+may\s+also\s+like|recommended(?:\s+for\s+you)?
          |read\s+more)\s*:?
      | follow\s+us\s+on\b.{0,60}
      | (?:print|email)\s+this\s+(?:article|story|page)
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_RELATED_HEADING = re.compile(
    r"^(?:related\b.{0,30}|more\s+(?:stories|from\b.{0,40})|you\s+may\s+also\s+like"
    r"|recommended\b.{0,20}|read\s+more\b.{0,20}|read\s+next)\W*$",
    re.IGNORECASE,
)
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’-]{2,}(?:\s+[A-Z][A-Z.'’-]+){0,3}"
    r"(?:,\s+[A-Z][A-Za-z.]*(?:\s+[A-Z][A-Za-z.]*)?)?)"
    r"(?:\s+\([^)]{1,24}\))?\s+(?:—|–|--)\s+\S"
)


def _decode(data: bytes, label: str, is_html: bool) -> str:
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
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


def _looks_like_html(text: str) -> bool:
    return text.lstrip().startswith("<")


def _clean(text: str) -> str:
    """One line of text: control characters out, whitespace runs collapsed."""
    text = _CONTROL.sub("", text.replace("\t", " ").replace("\xa0", " "))
    return re.sub(r"\s+", " ", text).strip()


def _same(a: str, b: str) -> bool:
    return bool(_key(a)) and _key(a) == _key(b)


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _snippet(text: str, size: int = 70) -> str:
    text = _clean(text)
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<~])")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def _escape(text: str) -> str:
    """Text → inline Markdown that shows exactly this text (no emphasis, links or HTML)."""
    return _MD_ENTITY.sub(r"\\&", _MD_SPECIAL.sub(r"\\\1", text))


_LINE_START = re.compile(r"^(?:([#>+=-])|(\d{1,9})([.)])(?=\s|$))")


def _guard(line: str) -> str:
    """Escape what would make a paragraph line a heading, quote, list or rule."""
    return _LINE_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), line
    )


def _yaml(value: str) -> str:
    dumped: str = yaml.dump(value, default_style='"', allow_unicode=True, width=2**31 - 1)
    return dumped.strip()


def _join_names(names: list[str]) -> str:
    unique = list(dict.fromkeys(n for n in names if n))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def _strip_by(text: str) -> str:
    return re.sub(r"^by\s+", "", _clean(text), flags=re.IGNORECASE)


def _http_url(value: str) -> str:
    """value when it is an absolute http(s) URL, else ''."""
    value = value.strip()
    parts = urlsplit(value)
    plain = value.isprintable() and not any(c.isspace() for c in value)
    ok = parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and plain
    return value if ok else ""


def _md_url(url: str) -> str:
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url.replace("\\", "%5C").replace('"', "%22")


@dataclass
class _Block:
    """One Markdown block: 'para', 'heading', 'quote', 'list', 'olist' or 'code'."""

    kind: str
    md: str  # inline Markdown (para, heading), rendered Markdown (quote), raw text (code)
    plain: str
    line: int | None = None
    items: list[str] = field(default_factory=list)  # rendered Markdown per list item
    items_plain: list[str] = field(default_factory=list)


def _render(blocks: list[_Block], tight: bool = False) -> str:
    """Blocks → Markdown; tight: a list right after a paragraph stays in the same item."""
    out: list[str] = []
    for index, block in enumerate(blocks):
        if tight and index and block.kind in ("list", "olist") and blocks[index - 1].kind == "para":
            out[-1] += "\n" + _render([block])
            continue
        if block.kind == "para":
            out.append("\n".join(_guard(ln.strip()) for ln in block.md.split("\n")))
        elif block.kind == "heading":
            text = re.sub(r"\\\n", " ", block.md).strip()
            out.append("## " + re.sub(r"#$", r"\\#", _guard(text)))
        elif block.kind == "quote":
            out.append("\n".join("> " + ln if ln else ">" for ln in block.md.split("\n")))
        elif block.kind in ("list", "olist"):
            lines = []
            for number, item in enumerate(block.items, start=1):
                marker = "- " if block.kind == "list" else f"{number}. "
                first, *rest = item.split("\n")
                lines.append(marker + first)
                lines += [" " * len(marker) + ln if ln else "" for ln in rest]
            out.append("\n".join(lines))
        elif block.kind == "code":
            runs = re.findall(r"`+", block.md)
            fence = "`" * max(3, *(len(r) + 1 for r in runs)) if runs else "```"
            out.append(f"{fence}\n{block.md.strip(chr(10))}\n{fence}")
    return "\n\n".join(out)


def _dateline(blocks: list[_Block]) -> str:
    first = next((b for b in blocks if b.kind == "para"), None)
    match = _DATELINE.match(first.plain) if first else None
    return match.group("place").strip() if match else ""


def _merge_field_notes(blocks: list[_Block], notes: list[tuple[int | None, str]]) -> None:
    for block in blocks:
        for match in PLACEHOLDER.finditer(block.plain):
            notes.append(
                (block.line, f"'{match.group(0)}' will be read as a merge field; reword it")
            )


def _finish(notes: list[tuple[int | None, str]], blocks: list[_Block]) -> tuple[str, ...]:
    if not blocks:
        notes.append((None, "no body text found; the article has only its front matter"))
    ordered = sorted(notes, key=lambda n: (n[0] is None, n[0] or 0))
    return tuple(f"line {line}: {text}" if line else text for line, text in ordered)


# --- plain text -----------------------------------------------------------------------------


def _from_text(text: str, label: str) -> ImportedArticle:
    lines = [(number, _clean(line)) for number, line in enumerate(text.split("\n"), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise ContentError(Problem(label, "is empty; there is no article to import", line=1))
    notes: list[tuple[int | None, str]] = []
    fields: dict[str, str] = {}
    first_line, first = lines[0]
    parts = [p.strip() for p in re.split(r"\s*/\s+", first, maxsplit=5)]
    if len(parts) >= 5:
        parts += [""] * (6 - len(parts))
        names = ("headline", "source", "dateline", "byline", "edition", "dek")
        fields = dict(zip(names, parts, strict=True))
        fields["byline"] = _strip_by(fields["byline"])
        fields["dek"] = _escape(fields["dek"])
        if not fields["headline"]:
            raise ContentError(
                Problem(label, "the header line has no title before the first '/ '", line=1)
            )
    else:
        fields["headline"] = first
        if len(first) > 150:
            notes.append(
                (first_line, "the first line is long for a headline; the file may lack a title")
            )
    rest = lines[1:]
    key_points: list[KeyPoint] = []
    stray_points: list[tuple[int, str]] = []
    if rest and _QUICK_LOOKS.match(rest[0][1]):
        title_line, title = rest.pop(0)
        while rest and (bullet := re.match(r"^[-•*–]\s+(.*)$", rest[0][1])):
            number, _ = rest.pop(0)
            point = _KEY_POINT.match(bullet.group(1))
            if point and len(point.group("label").split()) <= 8:
                key_points.append(
                    KeyPoint(_escape(point.group("label")), _escape(point.group("text")))
                )
            else:
                stray_points.append((number, bullet.group(1)))
                notes.append(
                    (number, "key point without a 'Label:'; kept at the top of the body as a list")
                )
        if key_points:
            fields["key_points_title"] = title
        else:
            rest.insert(0, (title_line, title))
    blocks = _text_blocks(rest, fields["headline"], notes)
    if stray_points:
        blocks.insert(
            0,
            _Block(
                "list",
                "",
                " ".join(t for _, t in stray_points),
                stray_points[0][0],
                [_guard(_escape(t)) for _, t in stray_points],
                [t for _, t in stray_points],
            ),
        )
    fields.setdefault("dateline", "")
    if not fields["dateline"]:
        fields["dateline"] = _dateline(blocks)
    _merge_field_notes(blocks, notes)
    return ImportedArticle(
        headline=fields["headline"],
        source=fields.get("source", ""),
        byline=fields.get("byline", ""),
        dateline=fields["dateline"],
        edition=fields.get("edition", ""),
        dek=fields.get("dek", ""),
        key_points_title=fields.get("key_points_title", ""),
        key_points=tuple(key_points),
        body=_render(blocks),
        notes=_finish(notes, blocks),
    )


def _text_blocks(
    lines: list[tuple[int, str]], headline: str, notes: list[tuple[int | None, str]]
) -> list[_Block]:
    blocks: list[_Block] = []
    seen_paragraph = False
    previous = 0
    for index, (number, line) in enumerate(lines):
        following = lines[index + 1 :]
        if _DEBRIS.match(line) and len(line) <= 120:
            notes.append((number, f"dropped debris: '{_snippet(line)}'"))
        elif not seen_paragraph and _same(line, headline):
            notes.append((number, "dropped the repeated headline"))
        elif _SECTION_LABEL.match(line):
            notes.append((number, f"dropped the section label '{line}'"))
        elif bullet := re.match(r"^[-•*]\s+(\S.*)$", line):
            item = bullet.group(1)
            if blocks and blocks[-1].kind == "list" and previous == number - 1:
                blocks[-1].items.append(_guard(_escape(item)))
                blocks[-1].items_plain.append(item)
            else:
                blocks.append(_Block("list", "", item, number, [_guard(_escape(item))], [item]))
        elif line[0] in _QUOTE_MARKS:
            blocks.append(_Block("quote", _guard(_escape(line)), line, number))
            seen_paragraph = True
        elif _is_heading(line, following):
            blocks.append(_Block("heading", _escape(line), line, number))
        else:
            blocks.append(_Block("para", _escape(line), line, number))
            seen_paragraph = True
        previous = number
    return blocks


def _is_heading(line: str, following: list[tuple[int, str]]) -> bool:
    """A subheading: short, no final punctuation, not a quote, and text follows it.

    Conservative on purpose: a false paragraph costs the editor one '## ', a false
    heading turns a sentence into a title.
    """
    if not any(not _DEBRIS.match(text) for _, text in following):
        return False
    if _CONCLUSION.match(line) and len(line) <= 120 and line[-1] not in ".!…":
        return True
    words = line.split()
    if not 2 <= len(words) <= 14 or len(line) > 100:
        return False
    if not (line[0].isupper() or line[0].isdigit()) or re.match(r"^\d+[.)]\s", line):
        return False
    if not (line[-1].isalnum() or line[-1] == "?"):
        return False
    if line[-1] == "?":
        long_words = [w for w in words if len(w) > 3]
        capitalised = [w for w in long_words if w[0].isupper()]
        return len(capitalised) >= 0.6 * max(len(long_words), 1)
    return True


# --- HTML: a small tree ---------------------------------------------------------------------

_VOID = _names("area base br col embed hr img input keygen link meta param source track wbr")
_CLOSES_P = _names(
    "address article aside blockquote details div dl fieldset figcaption figure footer form"
    " h1 h2 h3 h4 h5 h6 header hr main menu nav ol p pre section table ul"
)
_INLINE = _names(
    "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup"
    " time u var del ins font"
)


class _Node:
    __slots__ = ("attrs", "children", "line", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], line: int) -> None:
        self.tag, self.attrs, self.line = tag, attrs, line
        self.children: list[_Node | str] = []

    def get(self, name: str) -> str:
        return self.attrs.get(name, "")

    def iter(self) -> Iterator[_Node]:
        yield self
        for child in self.children:
            if isinstance(child, _Node):
                yield from child.iter()

    def first(self, tag: str) -> _Node | None:
        return next((n for n in self.iter() if n.tag == tag), None)

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in ("script", "style", "template", "noscript"):
                parts.append(" " + child.text() + " " if child.tag not in _INLINE else child.text())
        return "".join(parts)

    def tokens(self) -> set[str]:
        """Words of the class and id, split at spaces, hyphens and underscores."""
        value = f"{self.get('class')} {self.get('id')}".lower()
        return set(re.split(r"[\s_-]+", value)) - {""}


# Deeper elements are kept as empty siblings and their text goes to the last open element:
# the text stays, and walking the tree cannot exhaust Python's recursion limit.
_MAX_DEPTH = 120


class _TreeBuilder(HTMLParser):
    """html.parser → _Node tree, with the few implied end tags real pages rely on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {}, 1)
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        top = self.stack[-1]
        if tag in _CLOSES_P and top.tag == "p":
            self.stack.pop()
        if tag in ("li", "dt", "dd", "tr", "td", "th", "option"):
            self._close_sibling(tag)
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        node = _Node(tag, values, self.getpos()[0])
        self.stack[-1].children.append(node)
        if tag not in _VOID and len(self.stack) < _MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack[-1].tag == tag:
            self.stack.pop()

    def _close_sibling(self, tag: str) -> None:
        scope = {"li": ("ul", "ol"), "dt": ("dl",), "dd": ("dl",), "tr": ("table",)}.get(
            tag, ("tr", "table", "select")
        )
        peers = {"dt": ("dt", "dd"), "dd": ("dt", "dd"), "td": ("td", "th"), "th": ("td", "th")}
        for depth in range(len(self.stack) - 1, 0, -1):
            node = self.stack[depth]
            if node.tag in scope:
                return
            if node.tag in peers.get(tag, (tag,)):
                del self.stack[depth:]
                return

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse_html(text: str) -> _Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --- HTML: page → article -------------------------------------------------------------------

# Elements dropped with everything inside them: they run, embed or collect input.
_DANGEROUS = _names(
    "script style iframe frame frameset object embed applet noscript template svg math canvas"
    " form input button select textarea option base link meta audio video source track picture"
    " map area dialog portal"
)
# Page furniture, not the story.
_FURNITURE = _names("nav aside footer figure figcaption")
_DEBRIS_TOKENS = _names(
    "share sharing sharebar social subscribe subscription newsletter signup related"
    " recommended comments comment advert advertisement ad ads promo paywall sidebar"
    " breadcrumb breadcrumbs credit credits caption"
)
# An element named like a share or related box is dropped only when it is this small:
# a wrapper of the whole story may carry such a class too.
_FURNITURE_SIZE = 800
_BYLINE_TOKENS = frozenset({"byline", "author", "authors"})
_DEK_TOKENS = frozenset({"dek", "standfirst", "subhead", "subheadline", "subtitle", "strapline"})
_KEEP = _names(
    "p h1 h2 h3 h4 h5 h6 blockquote ul ol li a em i strong b code pre br div section article"
    " main header span table thead tbody tfoot tr td th dl dt dd sup sub small mark u s del"
    " ins cite q abbr time caption"
)
_ARTICLE_TYPES = _names(
    "Article NewsArticle BlogPosting ReportageNewsArticle AnalysisNewsArticle"
    " OpinionNewsArticle ReviewNewsArticle BackgroundNewsArticle Report LiveBlogPosting"
    " TechArticle ScholarlyArticle"
)
_BLOCKS = _names(
    "p h1 h2 h3 h4 h5 h6 blockquote ul ol li pre div section article main header table thead"
    " tbody tfoot tr td th dl dt dd hr caption address"
)


class _Html:
    def __init__(self, text: str, label: str) -> None:
        self.label = label
        self.root = _parse_html(text)
        self.notes: list[tuple[int | None, str]] = []
        self.meta: dict[str, str] = {}
        self.ld: dict[str, Any] = {}
        self.fields: dict[str, str] = {}

    # fields ---------------------------------------------------------------------------------

    def article(self) -> ImportedArticle:
        self._read_head()
        region = self._region()
        page_url = self._page_url()
        source = _clean(self.meta.get("og:site_name", "") or _ld_text(self.ld.get("publisher")))
        headline = self._headline(region, source)
        self.fields = {
            "headline": headline,
            "source": source,
            "source_url": page_url,
            "byline": self._byline(),
            "dek": _escape(
                _clean(
                    self.meta.get("description")
                    or self.meta.get("og:description")
                    or _ld_text(self.ld.get("description"))
                )
            ),
        }
        if not headline:
            raise ContentError(
                Problem(
                    self.label,
                    "no headline found (no og:title, JSON-LD headline, <h1> or <title>);"
                    " add a <title> or import the article as plain text",
                )
            )
        published = self._published(region)
        safe = _Serialiser(self, page_url).fragment(region)
        cleaned: str = nh3.clean(
            safe,
            tags=set(_KEEP),
            clean_content_tags=set(_DANGEROUS - {"base", "link", "meta", "source", "track"}),
            attributes={"*": {"data-line"}, "a": {"href"}},
            url_schemes={"http", "https"},
            link_rel=None,
            strip_comments=True,
        )
        converter = _Converter(self)
        blocks = converter.blocks(_parse_html(cleaned))
        points, points_title = _take_key_points(blocks)
        _merge_field_notes(blocks, self.notes)
        fields = self.fields
        return ImportedArticle(
            headline=fields["headline"],
            source=fields["source"],
            source_url=fields["source_url"],
            byline=fields["byline"],
            dateline=_dateline(blocks),
            dek=fields["dek"],
            key_points_title=points_title,
            key_points=points,
            body=_render(blocks),
            published=published,
            notes=_finish(self.notes, blocks),
        )

    def _read_head(self) -> None:
        for node in self.root.iter():
            if node.tag == "meta":
                name = (node.get("property") or node.get("name") or node.get("itemprop")).lower()
                content = _clean(node.get("content"))
                if name and content:
                    self.meta.setdefault(name, content)
            elif node.tag == "script" and "ld+json" in node.get("type").lower():
                source = "".join(c for c in node.children if isinstance(c, str))
                try:
                    data = json.loads(source)
                except ValueError:
                    self.notes.append((node.line, "JSON-LD that is not valid JSON was ignored"))
                    continue
                if not self.ld:
                    self.ld = next(_ld_articles(data), {})

    def _page_url(self) -> str:
        """The canonical link, og:url or JSON-LD url: the first absolute http(s) one."""
        candidates = [
            ("<link rel=canonical>", self._link("canonical")),
            ("og:url", self.meta.get("og:url", "")),
            ("the JSON-LD url", self._ld_url()),
        ]
        absolute = next((u for _, u in candidates if _http_url(u)), "")
        for what, value in candidates:
            url = _http_url(urljoin(absolute, value)) if value and absolute else _http_url(value)
            if url:
                return url
            if value:
                self.notes.append((None, f"{what} '{_snippet(value, 50)}' is not an http(s) URL"))
        return ""

    def _link(self, rel: str) -> str:
        for node in self.root.iter():
            if node.tag == "link" and rel in node.get("rel").lower().split():
                return node.get("href").strip()
        return ""

    def _ld_url(self) -> str:
        value = self.ld.get("url") or self.ld.get("mainEntityOfPage")
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        return value.strip() if isinstance(value, str) else ""

    def _region(self) -> _Node:
        articles = [n for n in self.root.iter() if n.tag == "article"]
        if articles:
            region = max(articles, key=lambda n: len(n.text()))
        else:
            region = self.root.first("main") or self.root.first("body") or self.root
        if region is not self.root and region.tag != "body":
            self.notes.append(
                (
                    region.line,
                    f"the body was taken from <{region.tag}>; the rest of the page left out",
                )
            )
        return region

    def _headline(self, region: _Node, source: str) -> str:
        title = self.root.first("title")
        h1 = region.first("h1") or self.root.first("h1")
        candidates = [
            (self.meta.get("og:title", ""), None),
            (_ld_text(self.ld.get("headline")), None),
            (_clean(h1.text()) if h1 else "", None),
            (_clean(title.text()) if title else "", title),
        ]
        for value, node in candidates:
            value = _clean(value)
            if not value:
                continue
            if " | " in value:
                value, _, suffix = value.partition(" | ")
                if node is not None and not source:
                    self.notes.append(
                        (node.line, f"dropped ' | {suffix}' from the <title> (the site's name?)")
                    )
            site = re.match(r"^(.+?)\s+[-–—]\s+(.+)$", value)
            if site and source and _same(site.group(2), source):
                value = site.group(1)
            return value.strip()
        return ""

    def _byline(self) -> str:
        authors = self.ld.get("author")
        names = [_ld_text(a) for a in authors] if isinstance(authors, list) else [_ld_text(authors)]
        byline = _join_names([_strip_by(n) for n in names if n and not _http_url(n)])
        meta = self.meta.get("author", "")
        if not byline and meta and not _http_url(meta):
            byline = _strip_by(meta)
        if not byline:
            for node in self.root.iter():
                if (
                    node.tag in ("a", "link", "span")
                    and "author" in node.get("rel").lower().split()
                ):
                    byline = _strip_by(node.text())
                    if byline:
                        break
        return byline

    def _published(self, region: _Node) -> datetime | None:
        time = region.first("time") or self.root.first("time")
        candidates = [
            (_ld_text(self.ld.get("datePublished")), None),
            (self.meta.get("article:published_time", ""), None),
            (time.get("datetime") if time else "", time.line if time else None),
        ]
        for value, line in candidates:
            value = value.strip()
            if not value:
                continue
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                self.notes.append((line, f"publication time '{value}' is not ISO 8601; not used"))
                continue
            if moment.tzinfo is None:
                self.notes.append((line, f"publication time '{value}' has no time zone; not used"))
                continue
            return moment
        return None

    def note(self, line: int | None, text: str) -> None:
        self.notes.append((line, text))


def _ld_articles(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _ld_articles(item)
    elif isinstance(data, dict):
        kinds = data.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and k in _ARTICLE_TYPES for k in kinds):
            yield data
        if "@graph" in data:
            yield from _ld_articles(data["@graph"])


def _ld_text(value: Any) -> str:
    if isinstance(value, str):
        return _clean(html.unescape(value))
    if isinstance(value, dict):
        return _ld_text(value.get("name"))
    if isinstance(value, list) and value:
        return _ld_text(value[0])
    return ""


def _take_key_points(blocks: list[_Block]) -> tuple[tuple[KeyPoint, ...], str]:
    """A '…: Quick Looks' heading followed by a list of 'Label: text' items → key points."""
    for index, block in enumerate(blocks[:-1]):
        following = blocks[index + 1]
        if block.kind not in ("heading", "para") or not _QUICK_LOOKS.match(block.plain):
            continue
        if following.kind not in ("list", "olist"):
            continue
        matches = [_KEY_POINT.match(item) for item in following.items_plain]
        if matches and all(m and len(m.group("label").split()) <= 8 for m in matches):
            del blocks[index : index + 2]
            points = tuple(
                KeyPoint(_escape(m.group("label")), _escape(m.group("text"))) for m in matches if m
            )
            return points, block.plain
    return (), ""


class _Serialiser:
    """Region → safe HTML for nh3: debris dropped with notes, URLs made absolute, lines kept."""

    def __init__(self, page: _Html, base: str) -> None:
        self.page, self.base = page, base

    def fragment(self, region: _Node) -> str:
        out: list[str] = []
        self._children(region, out)
        return "".join(out)

    def _children(self, node: _Node, out: list[str]) -> None:
        skip_list = False
        for child in node.children:
            if isinstance(child, str):
                out.append(html.escape(child, quote=False))
                continue
            if skip_list and child.tag in ("ul", "ol"):
                self._drop(child, "the list under a 'Related' heading")
                skip_list = False
                continue
            if child.tag in ("h2", "h3", "h4", "h5", "h6", "p") and _RELATED_HEADING.match(
                _clean(child.text())
            ):
                self._drop(child, "a 'Related' heading")
                skip_list = True
                continue
            skip_list = False
            self._element(child, out)

    def _drop(self, node: _Node, what: str) -> None:
        text = _clean(node.text())
        self.page.note(node.line, f"dropped {what}" + (f": '{_snippet(text)}'" if text else ""))

    def _element(self, node: _Node, out: list[str]) -> None:
        tag = node.tag
        if tag in ("head", "title"):  # metadata, read already; only when there is no <body>
            return
        handlers = sorted(a for a in node.attrs if a.startswith("on"))
        if tag in _DANGEROUS or tag == "img":
            what = f"<{tag}>"
            if tag == "img":
                src = node.get("src")
                what = f"<img src='{_snippet(src, 50)}'>" + " (images are not imported)"
            if handlers:
                what += f" with {', '.join(h + '=' for h in handlers)}"
            self._drop(node, what)
            return
        if tag in _FURNITURE:
            self._drop(node, "<figure> (image and caption)" if tag == "figure" else f"<{tag}>")
            return
        tokens = node.tokens()
        text = _clean(node.text()) if tokens or tag in _BLOCKS else ""
        short = len(text) <= _FURNITURE_SIZE
        if tag != "a" and tokens & _BYLINE_TOKENS and len(text) <= 120:
            self._byline(node)
            return
        if tokens & _DEK_TOKENS and self._dek(node):
            return
        if tag not in _INLINE or tokens & {"credit", "credits", "caption"}:
            named = f"<{tag} class='{_snippet(node.get('class') or node.get('id'), 40)}'>"
            if tokens & _DEBRIS_TOKENS and short:
                self._drop(node, named)
                return
            if tokens & _DEBRIS_TOKENS:
                self.page.note(
                    node.line,
                    f"kept {named} although its name suggests page furniture:"
                    f" it holds {len(text)} characters of text",
                )
            if tag in _BLOCKS and _DEBRIS.match(text):
                self._drop(node, "debris")
                return
        if handlers:
            self.page.note(
                node.line, f"removed {', '.join(h + '=' for h in handlers)} from <{tag}>"
            )
        if tag not in _KEEP:
            self._children(node, out)
            return
        attrs = f' data-line="{node.line}"'
        if tag == "a":
            href = self._href(node)
            if href:
                attrs += f' href="{html.escape(href)}"'
        out.append(f"<{tag}{attrs}>")
        if tag not in _VOID:
            self._children(node, out)
            out.append(f"</{tag}>")

    def _href(self, node: _Node) -> str:
        raw = node.get("href")
        compact = re.sub(r"[\x00-\x20]+", "", raw)
        if not compact or compact.startswith("#"):
            return ""
        scheme = urlsplit(compact).scheme.lower()
        text = _snippet(node.text(), 40)
        if scheme and scheme not in ("http", "https"):
            self.page.note(node.line, f"removed a {scheme}: link; kept its text '{text}'")
            return ""
        url = _http_url(urljoin(self.base, compact)) if self.base else _http_url(compact)
        if not url:
            self.page.note(
                node.line,
                f"removed the relative link '{_snippet(raw, 50)}' (the page's URL is unknown);"
                f" kept its text '{text}'",
            )
        return url

    def _byline(self, node: _Node) -> None:
        text = _strip_by(node.text())
        if not text:
            return
        if not self.page.fields.get("byline"):
            self.page.fields["byline"] = text
        else:
            self.page.note(
                node.line,
                f"byline '{_snippet(node.text())}' not kept in the body"
                f" (byline: {self.page.fields['byline']})",
            )

    def _dek(self, node: _Node) -> bool:
        """A dek in the page: taken as the dek, or dropped when it repeats it."""
        text = _clean(node.text())
        if not text:
            return False
        if not self.page.fields.get("dek"):
            self.page.fields["dek"] = _escape(text)
            return True
        if _same(text, self.page.fields["dek"].replace("\\", "")):
            self.page.note(node.line, "dropped the dek repeated in the body")
            return True
        return False


class _Converter:
    """Sanitised HTML → Markdown blocks."""

    def __init__(self, page: _Html) -> None:
        self.page = page
        self.headline_seen = False

    def blocks(self, node: _Node) -> list[_Block]:
        out: list[_Block] = []
        run: list[_Node | str] = []
        for child in node.children:
            if isinstance(child, str) or child.tag not in _BLOCKS:
                run.append(child)
                continue
            self._flush(run, node, out)
            self._block(child, out)
        self._flush(run, node, out)
        return out

    def _flush(self, run: list[_Node | str], parent: _Node, out: list[_Block]) -> None:
        if run:
            holder = _Node("p", {"data-line": parent.get("data-line")}, 0)
            holder.children = list(run)
            run.clear()
            self._paragraph(holder, out)

    def _block(self, node: _Node, out: list[_Block]) -> None:
        tag, line = node.tag, _line(node)
        if tag in ("p", "dt", "dd", "caption", "address", "li"):
            self._paragraph(node, out)
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            md, plain = _Inline().render(node), _clean(node.text())
            if not plain:
                return
            if not self.headline_seen and _same(plain, self.page.fields["headline"]):
                self.headline_seen = True
                self.page.note(line, f"<{tag}> is the headline; not repeated in the body")
                return
            out.append(_Block("heading", md, plain, line))
        elif tag == "blockquote":
            inner = self.blocks(node)
            for block in inner:
                if block.kind == "heading":
                    block.kind = "para"
            if inner:
                out.append(_Block("quote", _render(inner), " ".join(b.plain for b in inner), line))
        elif tag in ("ul", "ol"):
            items = _list_items(node)
            rendered = [_render(self.blocks(li), tight=True) for li in items]
            kept = [(r, _clean(li.text())) for r, li in zip(rendered, items, strict=True) if r]
            if kept:
                kind = "list" if tag == "ul" else "olist"
                out.append(
                    _Block(
                        kind,
                        "",
                        " ".join(p for _, p in kept),
                        line,
                        [r for r, _ in kept],
                        [p for _, p in kept],
                    )
                )
        elif tag == "pre":
            text = node.text().strip("\n")
            if text.strip():
                out.append(_Block("code", text, _clean(text), line))
        elif tag == "tr":
            cells = [_Inline().render(c) for c in node.children if isinstance(c, _Node)]
            cells = [c for c in cells if c]
            if cells:
                out.append(_Block("para", " | ".join(cells), _clean(node.text()), line))
        elif tag == "table":
            self.page.note(line, "a table was flattened into one paragraph per row")
            out.extend(self.blocks(node))
        elif tag == "hr":
            return
        else:  # div, section, article, header, dl, tbody …
            out.extend(self.blocks(node))

    def _paragraph(self, node: _Node, out: list[_Block]) -> None:
        if any(isinstance(c, _Node) and c.tag in _BLOCKS for c in node.children):
            out.extend(self.blocks(node))  # a <li> or <dd> holding paragraphs or lists
            return
        md = _Inline().render(node)
        if md:
            out.append(_Block("para", md, _clean(node.text()), _line(node)))


def _list_items(node: _Node) -> list[_Node]:
    """The <li> children; anything else inside the list becomes an item of its own."""
    items: list[_Node] = []
    loose: _Node | None = None
    for child in node.children:
        if isinstance(child, _Node) and child.tag == "li":
            items.append(child)
            loose = None
        elif isinstance(child, _Node) or child.strip():
            if loose is None:
                loose = _Node("li", {"data-line": node.get("data-line")}, 0)
                items.append(loose)
            loose.children.append(child)
    return items


def _line(node: _Node) -> int | None:
    value = node.get("data-line")
    return int(value) if value.isdigit() else None


class _Inline:
    """Inline HTML → inline Markdown; text escaped, links only to http(s) URLs."""

    _BREAK = "\x00"

    def render(self, node: _Node) -> str:
        text = re.sub(r"\s+", " ", self._children(node))
        lines = [ln.strip() for ln in text.split(self._BREAK)]
        return "\\\n".join(ln for ln in lines if ln)

    def _children(self, node: _Node) -> str:
        return "".join(self._node(c) for c in node.children)

    def _node(self, node: _Node | str) -> str:
        if isinstance(node, str):
            return _escape(_CONTROL.sub("", node))
        tag = node.tag
        if tag == "br":
            return self._BREAK
        inner = self._children(node)
        if tag == "a":
            href = _http_url(node.get("href"))
            lead, text, trail = _split_space(inner)
            if not text:
                return inner
            return f"{lead}[{text}]({_md_url(href)}){trail}" if href else inner
        if tag in ("em", "i", "cite"):
            return _wrap(inner, "*")
        if tag in ("strong", "b"):
            return _wrap(inner, "**")
        if tag == "code":
            raw = _clean(node.text())
            if not raw:
                return ""
            ticks = "`" * (max((len(r) for r in re.findall(r"`+", raw)), default=0) + 1)
            pad = " " if raw.startswith("`") or raw.endswith("`") else ""
            return f"{ticks}{pad}{raw}{pad}{ticks}"
        if tag in _BLOCKS:
            return f" {inner} "
        return inner


def _split_space(text: str) -> tuple[str, str, str]:
    match = re.match(r"^(\s*)(.*?)(\s*)$", text, re.DOTALL)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _wrap(inner: str, mark: str) -> str:
    lead, text, trail = _split_space(inner)
    if not text or _Inline._BREAK in text:
        return inner
    return f"{lead}{mark}{text}{mark}{trail}"
