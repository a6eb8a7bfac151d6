"""The web archive: index, one page per issue, one page per tag, the stylesheet."""

from __future__ import annotations

from pathlib import PurePosixPath

from briefing.merge import with_fallbacks
from briefing.model import Publication
from briefing.render.context import IssueView
from briefing.render.theme import Theme
from briefing.site import (
    FAVICON,
    ISSUE_PAGE,
    SUBSCRIBE_PAGE,
    TAG_PAGE,
    Urls,
    index_page,
)

STYLESHEET = "web/style.css"


def render_index(
    publication: Publication,
    views: list[IssueView],
    theme: Theme,
    page_number: int = 1,
    page_count: int = 1,
) -> str:
    """One page of the archive: views are the issues it lists."""
    return _page(
        publication,
        theme,
        "web/index.html.j2",
        index_page(page_number).path(),
        issue_views=views,
        page_number=page_number,
        page_count=page_count,
    )


def render_tag(publication: Publication, tag: str, views: list[IssueView], theme: Theme) -> str:
    tagged = [v for v in views if tag in v.issue.tags]
    path = TAG_PAGE.path(tag=tag)
    return _page(publication, theme, "web/tag.html.j2", path, tag=tag, issue_views=tagged)


def render_issue(
    publication: Publication,
    view: IssueView,
    newer: IssueView | None,
    older: IssueView | None,
    theme: Theme,
) -> str:
    """One issue's page; the neighbours (in date order) give the newer/older links."""
    path = ISSUE_PAGE.path(slug=view.issue.slug)
    return _page(publication, theme, "web/issue.html.j2", path, view=view, newer=newer, older=older)


def render_subscribe(publication: Publication, theme: Theme) -> str:
    """The subscribe/ page: the sign-up form alone (written only with a [service] url)."""
    return _page(publication, theme, "web/subscribe.html.j2", SUBSCRIBE_PAGE.path())


def signup_context(publication: Publication) -> dict[str, object]:
    """What web/_signup.html.j2 needs; signup_action is '' (no form) without a service."""
    service = publication.config.service
    return {
        "signup_action": service.url + "subscribe" if service.url else "",
        "signup_fields": service.fields,
        "signup_values": {},
        "signup_error": "",
    }


def _page(
    publication: Publication, theme: Theme, template: str, path: str, **context: object
) -> str:
    """The page written at path. Its links come from `urls` (relative to the page) and
    `absolute_urls` (canonical and feed links); `root`, the way back to the site root,
    stays for themes written before them."""
    pub = publication.config.publication
    urls = context.pop("urls", None) or Urls.page(path)
    assert isinstance(urls, Urls)
    icon = publication.config.site.favicon
    html = theme.render(
        template,
        pub=pub,
        urls=urls,
        absolute_urls=Urls(pub.base_url),
        root=urls.prefix,
        favicon=urls(FAVICON, ext=icon_suffix(icon)) if icon else "",
        **(signup_context(publication) | context),
    )
    # Pages have no recipient: merge fields show their fallback.
    return with_fallbacks(html)


def icon_suffix(name: str) -> str:
    """The suffix an icon file keeps in the site (favicon.png, feed-icon.svg)."""
    return PurePosixPath(name).suffix.lower()
