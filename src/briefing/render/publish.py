"""What a static host and search engines expect beside the archive: sitemap.xml,
robots.txt, a 404 page, the tags index, and the icon files.

All of it follows from the publication and briefing.toml (never the clock): the
sitemap's lastmod is each page's newest `updated`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from briefing.errors import BriefingError, Problem
from briefing.model import Publication
from briefing.project_files import refusal
from briefing.render.context import IssueView
from briefing.render.theme import Theme
from briefing.render.web import _page, icon_suffix
from briefing.site import (
    EMAIL_HTML,
    EMAIL_TEXT,
    FAVICON,
    FEED_ICON,
    ISSUE_PAGE,
    NOT_FOUND,
    SITEMAP,
    TAG_PAGE,
    TAGS_INDEX,
    Output,
    Urls,
    index_page,
)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def page_count(issues: int, per_page: int) -> int:
    return max(1, -(-issues // per_page))


def render_sitemap(publication: Publication, per_page: int) -> bytes:
    """Every listed page (index pages, tags, issues) with its lastmod (sitemaps.org 0.9).
    The review copies of the emails are not pages and are not listed."""
    issues = publication.issues
    base = publication.config.publication.base_url
    newest = max((i.updated for i in issues), default=None)
    entries: list[tuple[str, datetime | None]] = []
    pages = page_count(len(issues), per_page)
    for number in range(1, pages + 1):
        shown = issues[(number - 1) * per_page : number * per_page]
        entries.append(
            (index_page(number).absolute(base), max((i.updated for i in shown), default=None))
        )
    entries.append((TAGS_INDEX.absolute(base), newest))
    for tag in publication.tags:
        tagged = [i.updated for i in issues if tag in i.tags]
        entries.append((TAG_PAGE.absolute(base, tag=tag), max(tagged)))
    entries += [(ISSUE_PAGE.absolute(base, slug=i.slug), i.updated) for i in issues]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for url, modified in entries:
        lastmod = f"<lastmod>{modified.isoformat()}</lastmod>" if modified else ""
        # html.escape, not xml.sax.saxutils.escape (the same three entities), which
        # imports urllib.request, http.client and ssl: 60 ms of a one-article rebuild.
        lines.append(f"  <url><loc>{escape(url, quote=False)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_robots(publication: Publication) -> str:
    """robots.txt (RFC 9309). Crawlers read it only at the host's root: with a base_url
    below the root (a project site), the host's own robots.txt rules instead."""
    config = publication.config
    root = urlsplit(config.publication.base_url).path or "/"
    lines = [f"# {config.publication.title}: built by briefing", "User-agent: *"]
    if config.site.robots == "deny":
        lines.append(f"Disallow: {root}")
    else:
        # The review copies of each email are for the editor, not for search results
        # (RFC 9309 §2.2.3: '*' matches any characters).
        lines += [f"Disallow: {root}{_wild(o)}" for o in (EMAIL_HTML, EMAIL_TEXT)]
        lines += ["Allow: " + root, "", f"Sitemap: {SITEMAP.absolute(config.publication.base_url)}"]
    return "\n".join(lines) + "\n"


def _wild(output: Output) -> str:
    return output.path(slug="*")


def render_not_found(publication: Publication, theme: Theme) -> str:
    """404.html: hosts serve it at any missing path, so links are root-relative."""
    root = urlsplit(publication.config.publication.base_url).path or "/"
    return _page(publication, theme, "web/404.html.j2", NOT_FOUND.path(), urls=Urls(root))


def render_tags_index(publication: Publication, views: list[IssueView], theme: Theme) -> str:
    counts = [(t, sum(t in v.issue.tags for v in views)) for t in publication.tags]
    return _page(publication, theme, "web/tags.html.j2", TAGS_INDEX.path(), tag_counts=counts)


def icon_files(publication: Publication) -> Iterable[tuple[str, bytes]]:
    """[site] favicon and feed_icon, copied into the site under fixed names."""
    config = publication.config
    for key, output, name in (
        ("favicon", FAVICON, config.site.favicon),
        ("feed_icon", FEED_ICON, config.site.feed_icon),
    ):
        if not name:
            continue
        path = config.root / name
        # Links are followed only within the project (briefing.project_files).
        reason = refusal(path, config.root) or ("" if path.is_file() else "not found")
        if reason:
            raise BriefingError(Problem("briefing.toml", f"site.{key}: {name} {reason}"))
        yield output.path(ext=icon_suffix(name)), path.read_bytes()
