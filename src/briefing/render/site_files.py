"""The files of the site, rendered in memory: one issue's files, and the shared outputs.

build, check and preview all render through here; paths come from the site
layout. Outputs are rendered in groups (one issue's files; the index; each tag
page; the feeds; the stylesheet), and each group says what it shows of the
model, so the build can tell when a group needs rendering again without
knowing what its pages hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from briefing.errors import relative
from briefing.model import Issue, Publication
from briefing.render.context import IssueView
from briefing.render.theme import Theme
from briefing.site import (
    EMAIL_HTML,
    EMAIL_IMAGE,
    EMAIL_TEXT,
    ISSUE_ASSET,
    ISSUE_PAGE,
    NOT_FOUND,
    ROBOTS,
    SITEMAP,
    STYLESHEET,
    SUBSCRIBE_PAGE,
    TAG_PAGE,
    TAGS_INDEX,
    Outputs,
    index_page,
)

if TYPE_CHECKING:  # the renderers are imported on first use
    from briefing.render.feeds import Memo

_ISSUE = "issue:"  # the group name of one issue's files is this and its slug


def issue_group(slug: str) -> str:
    return _ISSUE + slug


def group_issue(name: str) -> str | None:
    """The slug of the issue whose files the group holds, or None for a shared group."""
    return name.removeprefix(_ISSUE) if name.startswith(_ISSUE) else None


def render_issue_files(
    publication: Publication, all_views: list[IssueView], index: int, theme: Theme
) -> Outputs:
    """Every file of one issue: web page, email HTML, plain text, images."""
    # Renderers are imported on first use: a rebuild with nothing to do needs none.
    from briefing.render.email import render_email
    from briefing.render.text import render_text
    from briefing.render.web import render_issue

    # A view of its own: the HTML it caches is dropped with it, not kept in all_views.
    view = IssueView(all_views[index].issue, all_views[index].base_url)
    newer = all_views[index - 1] if index > 0 else None
    older = all_views[index + 1] if index + 1 < len(all_views) else None
    issue = view.issue
    origin = relative(issue.folder, publication.config.root)
    slug = issue.slug
    outputs = Outputs()
    page = render_issue(publication, view, newer, older, theme)
    outputs.add(ISSUE_PAGE.path(slug=slug), page, origin)
    outputs.add(EMAIL_HTML.path(slug=slug), render_email(publication, view, theme), origin)
    outputs.add(EMAIL_TEXT.path(slug=slug), render_text(publication, view, theme), origin)
    for name in issue.assets:  # read through the guarded path, as the loader checked them
        outputs.add(ISSUE_ASSET.path(slug=slug, name=name), view.images.local.data(name), origin)
    # The web keeps the original; emails get a smaller copy (render/images.py).
    for name, copy in view.images.local.copies().items():
        outputs.add(EMAIL_IMAGE.path(slug=slug, name=name), copy, origin)
    return outputs


def neighbours(all_views: list[IssueView], index: int) -> list[tuple[str, str]]:
    """What an issue's page shows of other issues: its neighbours' links and titles."""
    near = [all_views[i].issue for i in (index - 1, index + 1) if 0 <= i < len(all_views)]
    return [(n.slug, n.title) for n in near]


def listed(issue: Issue) -> tuple[object, ...]:
    """What a listing (the index, a tag page) shows of an issue."""
    i = issue
    return (i.slug, i.title, i.number, i.date, i.tags, i.summary, i.edition, i.draft)


@dataclass(frozen=True)
class SharedGroup:
    """Outputs that show several issues, rendered together."""

    name: str
    lists: tuple[Issue, ...]  # issues it shows as listed() says
    whole: tuple[Issue, ...]  # issues it holds in full (the feeds' newest)
    render: Callable[[], Outputs]
    shows: tuple[object, ...] = ()  # anything else it shows (an archive page: the count)


def shared_groups(
    publication: Publication, all_views: list[IssueView], theme: Theme, memo: Memo | None = None
) -> list[SharedGroup]:
    """The index, the feeds, each tag page and the stylesheet, each a group of its own,
    so an edit re-renders only the groups it shows up in. memo keeps feed entries."""
    from briefing.render.web import STYLESHEET as WEB_STYLESHEET
    from briefing.render.web import render_subscribe, render_tag

    config = publication.config
    origin = relative(config.templates_dir, config.root)

    def one(path: str, render: Callable[[], str | bytes]) -> Callable[[], Outputs]:
        def make() -> Outputs:
            outputs = Outputs()
            outputs.add(path, render(), origin)
            return outputs

        return make

    def feeds() -> Outputs:
        # feedgen (and lxml) load only when the feeds are rendered: an edit to an older
        # issue does not show in them.
        from briefing.render.feeds import render_feeds

        outputs = Outputs()
        for path, data in render_feeds(publication, all_views, theme, memo).items():
            outputs.add(path, data, origin)
        return outputs

    issues = tuple(v.issue for v in all_views)
    newest = issues[: config.feeds.max_items]
    groups = _index_pages(publication, all_views, theme, one)
    groups.append(SharedGroup("feeds", newest, newest, feeds))
    groups += _publishing(publication, all_views, theme, one)
    tagged: dict[str, list[Issue]] = {}  # each tag's issues, newest first: one pass
    for issue in issues:
        for tag in dict.fromkeys(issue.tags):
            tagged.setdefault(tag, []).append(issue)
    for tag in sorted(tagged):  # publication.tags, without a second pass
        render = partial(render_tag, publication, tag, all_views, theme)
        page = one(TAG_PAGE.path(tag=tag), render)
        groups.append(SharedGroup("tag:" + tag, tuple(tagged[tag]), (), page))
    if config.service.url:  # the sign-up page posts to the subscriber service
        subscribe = partial(render_subscribe, publication, theme)
        groups.append(SharedGroup("subscribe", (), (), one(SUBSCRIBE_PAGE.path(), subscribe)))
    stylesheet = partial(theme.read_bytes, WEB_STYLESHEET)  # the guarded read, not the path
    groups.append(SharedGroup("style", (), (), one(STYLESHEET.path(), stylesheet)))
    return groups


def _index_pages(
    publication: Publication,
    all_views: list[IssueView],
    theme: Theme,
    one: Callable[[str, Callable[[], str | bytes]], Callable[[], Outputs]],
) -> list[SharedGroup]:
    """The archive index, [site] per_page issues a page: index.html, page/2/, …"""
    from briefing.render.publish import page_count
    from briefing.render.web import render_index

    per_page = publication.config.site.per_page
    pages = page_count(len(all_views), per_page)
    groups = []
    for number in range(1, pages + 1):
        shown = all_views[(number - 1) * per_page : number * per_page]
        render = partial(render_index, publication, shown, theme, number, pages)
        name = "index" if number == 1 else f"index:{number}"
        lists = tuple(v.issue for v in shown)
        path = index_page(number).path()
        groups.append(SharedGroup(name, lists, (), one(path, render), (number, pages)))
    return groups


def _publishing(
    publication: Publication,
    all_views: list[IssueView],
    theme: Theme,
    one: Callable[[str, Callable[[], str | bytes]], Callable[[], Outputs]],
) -> list[SharedGroup]:
    """Tags index, sitemap, robots.txt, 404 page and icons (briefing.render.publish)."""
    from briefing.render import publish

    issues = tuple(v.issue for v in all_views)
    per_page = publication.config.site.per_page
    sitemap = partial(publish.render_sitemap, publication, per_page)
    tags = partial(publish.render_tags_index, publication, all_views, theme)
    groups = [
        SharedGroup("tags-index", issues, (), one(TAGS_INDEX.path(), tags)),
        # lastmod is each issue's updated, which listed() leaves out.
        SharedGroup(
            "sitemap", issues, (), one(SITEMAP.path(), sitemap), tuple(i.updated for i in issues)
        ),
        SharedGroup(
            "robots", (), (), one(ROBOTS.path(), partial(publish.render_robots, publication))
        ),
        SharedGroup(
            "404",
            (),
            (),
            one(NOT_FOUND.path(), partial(publish.render_not_found, publication, theme)),
        ),
    ]
    for path, data in publish.icon_files(publication):
        # Its key is its bytes: an icon replaced under the same name is copied again.
        shows = (hashlib.sha256(data).hexdigest(),)
        groups.append(SharedGroup("icon:" + path, (), (), one(path, partial(bytes, data)), shows))
    return groups


def render_shared(publication: Publication, all_views: list[IssueView], theme: Theme) -> Outputs:
    """The archive index, tag pages, stylesheet and feeds."""
    outputs = Outputs()
    for group in shared_groups(publication, all_views, theme):
        outputs.update(group.render())
    return outputs
