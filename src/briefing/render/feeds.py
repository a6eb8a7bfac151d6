"""RSS 2.0 and Atom (feedgen) and JSON Feed 1.1, newest first, with stable ids.

Entry content is the same HTML block the issue page shows, so feeds say what
the email says. feedgen quirks handled here (DESIGN.md): order='append' keeps
our order; updated/lastBuildDate are set from the sources, never the clock; the
RSS <link> is the last link() call, so rel=self goes first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import partial

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from briefing.config import Config
from briefing.datacodec import from_data, to_data
from briefing.merge import with_fallbacks
from briefing.model import Issue, Publication
from briefing.render.context import IssueView, LeadImage
from briefing.render.theme import Theme
from briefing.render.web import icon_suffix
from briefing.site import ATOM, FAVICON, FEED_ICON, INDEX, JSON_FEED, RSS, Output

CONTENT_TEMPLATE = "web/_content.html.j2"
# Given an issue and a way to make its entry (_entry: its content and lead image, as
# text), the entry: lets the build reuse what it made for an unchanged issue (parsing
# its Markdown, reading its articles back from the cache, are the slow parts).
Memo = Callable[[Issue, Callable[[], str]], str]
# An entry's content and lead image: both follow from the issue's folder alone.
_Entry = tuple[str, LeadImage | None]


def entry_id(config: Config, view: IssueView) -> str:
    """RFC 4151 tag URI from the domain, the issue date and the slug: never changes.

    Spelled here, not taken from the site layout: readers key entries by id, so it
    must stay the same even if the issue pages move."""
    return f"tag:{config.domain},{view.issue.date.date().isoformat()}:issues/{view.issue.slug}"


def feed_id(config: Config) -> str:
    """The feed's own id: the publication's home URL, stable as long as the site is."""
    return config.publication.base_url


def feed_icon(config: Config) -> str:
    """The absolute URL of [site] feed_icon's copy in the site, or ''."""
    name = config.site.feed_icon
    return FEED_ICON.absolute(config.publication.base_url, ext=icon_suffix(name)) if name else ""


def _content(publication: Publication, view: IssueView, theme: Theme) -> str:
    config = publication.config
    html = theme.render(
        CONTENT_TEMPLATE,
        pub=config.publication,
        note_html=view.note_html,
        articles=view.articles,
    )
    return with_fallbacks(html).strip()


def _entry(publication: Publication, view: IssueView, theme: Theme) -> str:
    """An entry's content and lead image as JSON text, what the memo keeps."""
    entry: _Entry = (_content(publication, view, theme), view.lead_image)
    return json.dumps(to_data(entry), ensure_ascii=False)


def _read_entry(text: str, make: Callable[[], str]) -> _Entry:
    """An entry kept as text; made again if the text does not read as one (a damaged or
    foreign cache: refused, never trusted)."""
    try:
        entry: _Entry = from_data(_Entry, json.loads(text))
        return entry
    except (ValueError, TypeError, RecursionError):  # DecodeError is a ValueError
        fresh: _Entry = from_data(_Entry, json.loads(make()))
        return fresh


def render_feeds(
    publication: Publication, views: list[IssueView], theme: Theme, memo: Memo | None = None
) -> dict[str, bytes]:
    config = publication.config
    latest = views[: config.feeds.max_items]
    makes = [partial(_entry, publication, v, theme) for v in latest]
    texts = [memo(v.issue, m) if memo else m() for v, m in zip(latest, makes, strict=True)]
    entries = [_read_entry(text, make) for text, make in zip(texts, makes, strict=True)]
    return {
        RSS.path(): _feedgen(config, latest, entries, RSS).rss_str(pretty=True),
        ATOM.path(): _feedgen(config, latest, entries, ATOM).atom_str(pretty=True),
        JSON_FEED.path(): _json_feed(config, latest, entries),
    }


def _last_updated(views: list[IssueView]) -> datetime | None:
    return max((v.issue.updated for v in views), default=None)


def _feedgen(
    config: Config, views: list[IssueView], entries: list[_Entry], output: Output
) -> FeedGenerator:
    pub = config.publication
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(feed_id(config))
    fg.title(pub.title)
    fg.subtitle(pub.description or pub.title)  # RSS <description> is required
    fg.link(
        href=output.absolute(pub.base_url),
        rel="self",
        type="application/rss+xml" if output == RSS else "application/atom+xml",
    )
    fg.link(href=INDEX.absolute(pub.base_url), rel="alternate", type="text/html")
    fg.language(pub.language)
    # No uri: the PyPI project named "briefing" is someone else's.
    fg.generator("briefing")
    if pub.author:
        fg.author({"name": pub.author, **({"email": pub.author_email} if pub.author_email else {})})
    if icon := feed_icon(config):
        fg.icon(icon)
        fg.logo(icon)
        fg.image(icon, pub.title, INDEX.absolute(pub.base_url))
    updated = _last_updated(views)
    if updated:  # an empty feed keeps feedgen's default; never happens with issues
        fg.updated(updated)
        fg.lastBuildDate(updated)
    for view, (content, lead) in zip(views, entries, strict=True):
        issue = view.issue
        entry = fg.add_entry(order="append")
        entry.id(entry_id(config, view))
        entry.guid(entry_id(config, view), permalink=False)
        entry.title(issue.title)
        entry.link(href=view.url, rel="alternate", type="text/html")
        entry.published(issue.date)
        entry.updated(issue.updated)
        if issue.summary:
            entry.summary(issue.summary)
        entry.content(content, type="html")
        _entry_author(entry, pub.author, pub.author_email)
        for tag in issue.tags:
            entry.category(term=tag, label=tag)
        if lead:  # RSS <enclosure>, Atom <link rel="enclosure">
            entry.enclosure(lead.url, str(lead.bytes), lead.mime)
    return fg


def _entry_author(entry: FeedEntry, name: str, email: str) -> None:
    """RSS 2.0 <author> must be an email address ("desk@example.org (Desk)"); without one,
    Dublin Core's <dc:creator> names the author. Atom entries inherit the feed's author."""
    if not name:
        return
    if email:
        entry.author({"name": name, "email": email})
    else:
        entry.dc.dc_creator(name)


def _json_feed(config: Config, views: list[IssueView], entries: list[_Entry]) -> bytes:
    pub = config.publication
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": pub.title,
        "home_page_url": INDEX.absolute(pub.base_url),
        "feed_url": JSON_FEED.absolute(pub.base_url),
        "language": pub.language,
    }
    if pub.description:
        feed["description"] = pub.description
    if icon := feed_icon(config):
        feed["icon"] = icon
    if config.site.favicon:
        feed["favicon"] = FAVICON.absolute(pub.base_url, ext=icon_suffix(config.site.favicon))
    if pub.author:
        feed["authors"] = [{"name": pub.author}]
    feed["items"] = [
        {
            "id": entry_id(config, view),
            "url": view.url,
            "title": view.issue.title,
            "content_html": content,
            **({"summary": view.issue.summary} if view.issue.summary else {}),
            "date_published": view.issue.date.isoformat(),
            "date_modified": view.issue.updated.isoformat(),
            **({"tags": list(view.issue.tags)} if view.issue.tags else {}),
            **({"image": lead.url} if lead else {}),
        }
        for view, (content, lead) in zip(views, entries, strict=True)
    ]
    return (json.dumps(feed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
