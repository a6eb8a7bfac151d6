"""An HTML page's article fields: Open Graph and other <meta>, JSON-LD, <link>, <time>, <h1>.

Also where the story sits in the page (the largest <article>, else <main>, else
<body>). Reads the tree only; the body itself is the sanitiser's and converter's job.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from briefing.errors import ContentError, Problem
from briefing.importer.article import Note
from briefing.importer.blocks import escape
from briefing.importer.normalise import (
    clean,
    http_url,
    join_names,
    joined_url,
    names,
    same,
    snippet,
    strip_by,
)
from briefing.importer.tree import Node

_ARTICLE_TYPES = names(
    "Article NewsArticle BlogPosting ReportageNewsArticle AnalysisNewsArticle"
    " OpinionNewsArticle ReviewNewsArticle BackgroundNewsArticle Report LiveBlogPosting"
    " TechArticle ScholarlyArticle"
)


@dataclass(frozen=True)
class PageFields:
    """What the page says about its article, where its story is, and notes on what was not used."""

    headline: str
    source: str
    source_url: str
    byline: str
    dek: str  # inline Markdown
    published: datetime | None
    region: Node
    notes: tuple[Note, ...]


def read_fields(root: Node, label: str) -> PageFields:
    """The page's fields; ContentError when no headline can be found."""
    return _Reader(root).read(label)


class _Reader:
    def __init__(self, root: Node) -> None:
        self.root = root
        self.notes: list[Note] = []
        self.meta: dict[str, str] = {}
        self.ld: dict[str, Any] = {}

    def read(self, label: str) -> PageFields:
        self._read_head()
        region = self._region()
        page_url = self._page_url()
        source = clean(self.meta.get("og:site_name", "") or _ld_text(self.ld.get("publisher")))
        headline = self._headline(region, source)
        byline = self._byline()
        dek = self.meta.get("description") or self.meta.get("og:description")
        dek = escape(clean(dek or _ld_text(self.ld.get("description"))))
        if not headline:
            raise ContentError(
                Problem(
                    label,
                    "no headline found (no og:title, JSON-LD headline, <h1> or <title>);"
                    " add a <title> or import the article as plain text",
                )
            )
        published = self._published(region)
        return PageFields(
            headline, source, page_url, byline, dek, published, region, tuple(self.notes)
        )

    def _read_head(self) -> None:
        for node in self.root.iter():
            if node.tag == "meta":
                self._meta(node)
            elif node.tag == "script" and "ld+json" in node.get("type").lower():
                self._json_ld(node)

    def _meta(self, node: Node) -> None:
        name = (node.get("property") or node.get("name") or node.get("itemprop")).lower()
        content = clean(node.get("content"))
        if name and content:
            self.meta.setdefault(name, content)

    def _json_ld(self, node: Node) -> None:
        source = "".join(c for c in node.children if isinstance(c, str))
        try:
            data = json.loads(source)
        except RecursionError:  # the decoder recurses once per level of nesting
            self.notes.append((node.line, "JSON-LD nested too deeply was ignored"))
            return
        except ValueError:
            self.notes.append((node.line, "JSON-LD that is not valid JSON was ignored"))
            return
        if not self.ld:
            self.ld = next(_ld_articles(data), {})

    def _page_url(self) -> str:
        """The canonical link, og:url or JSON-LD url: the first absolute http(s) one."""
        candidates = [
            ("<link rel=canonical>", self._link("canonical")),
            ("og:url", self.meta.get("og:url", "")),
            ("the JSON-LD url", self._ld_url()),
        ]
        absolute = next((u for _, u in candidates if http_url(u)), "")
        for what, value in candidates:
            url = http_url(joined_url(absolute, value)) if value and absolute else http_url(value)
            if url:
                return url
            if value:
                self.notes.append((None, f"{what} '{snippet(value, 50)}' is not an http(s) URL"))
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

    def _region(self) -> Node:
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

    def _headline(self, region: Node, source: str) -> str:
        """og:title, the JSON-LD headline, the <h1> or the <title>, without the site's name."""
        title = self.root.first("title")
        h1 = region.first("h1") or self.root.first("h1")
        candidates = [
            (self.meta.get("og:title", ""), None),
            (_ld_text(self.ld.get("headline")), None),
            (clean(h1.text()) if h1 else "", None),
            (clean(title.text()) if title else "", title),
        ]
        value, node = next(((clean(v), n) for v, n in candidates if clean(v)), ("", None))
        return self._without_site(value, node, source).strip()

    def _without_site(self, value: str, title: Node | None, source: str) -> str:
        """'Headline | Site' → 'Headline'; 'Headline - Site' too when Site is the source."""
        if " | " in value:
            value, _, suffix = value.partition(" | ")
            if title is not None and not source:
                self.notes.append(
                    (title.line, f"dropped ' | {suffix}' from the <title> (the site's name?)")
                )
        site = re.match(r"^(.+?)\s+[-–—]\s+(.+)$", value)
        if site and source and same(site.group(2), source):
            value = site.group(1)
        return value

    def _byline(self) -> str:
        """The JSON-LD authors, else the author <meta>, else the first rel=author element."""
        authors = self.ld.get("author")
        found = [_ld_text(a) for a in authors] if isinstance(authors, list) else [_ld_text(authors)]
        byline = join_names([strip_by(n) for n in found if n and not http_url(n)])
        return byline or self._meta_byline() or self._rel_author()

    def _meta_byline(self) -> str:
        meta = self.meta.get("author", "")
        return strip_by(meta) if meta and not http_url(meta) else ""

    def _rel_author(self) -> str:
        for node in self.root.iter():
            if node.tag in ("a", "link", "span") and "author" in node.get("rel").lower().split():
                byline = strip_by(node.text())
                if byline:
                    return byline
        return ""

    def _published(self, region: Node) -> datetime | None:
        """The first ISO 8601 time with a time zone: JSON-LD, <meta>, then a <time>."""
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


# Real pages nest an article at most a few levels deep (a list, an @graph, a list);
# deeper values are not looked into, so no page can exhaust the recursion limit.
_LD_DEPTH = 12


def _ld_articles(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object of an article type, in document order, @graph included."""
    if depth > _LD_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _ld_articles(item, depth + 1)
    elif isinstance(data, dict):
        kinds = data.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and k in _ARTICLE_TYPES for k in kinds):
            yield data
        if "@graph" in data:
            yield from _ld_articles(data["@graph"], depth + 1)


def _ld_text(value: Any, depth: int = 0) -> str:
    """A string, a {"name": …} object or the first item of a list, as one clean line."""
    if isinstance(value, str):
        return clean(html.unescape(value))
    if depth > _LD_DEPTH:
        return ""
    if isinstance(value, dict):
        return _ld_text(value.get("name"), depth + 1)
    if isinstance(value, list) and value:
        return _ld_text(value[0], depth + 1)
    return ""
