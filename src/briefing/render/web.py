"""The web archive: index, one page per issue, one page per tag, the stylesheet."""

from __future__ import annotations

from briefing.merge import with_fallbacks
from briefing.model import Publication
from briefing.render.context import IssueView
from briefing.render.templates import render

STYLESHEET = "web/style.css"


def render_index(publication: Publication, views: list[IssueView]) -> str:
    return _page(publication, "web/index.html.j2", root="", issue_views=views)


def render_tag(publication: Publication, tag: str, views: list[IssueView]) -> str:
    tagged = [v for v in views if tag in v.issue.tags]
    return _page(publication, "web/tag.html.j2", root="../../", tag=tag, issue_views=tagged)


def render_issue(
    publication: Publication, view: IssueView, newer: IssueView | None, older: IssueView | None
) -> str:
    """One issue's page; the neighbours (in date order) give the newer/older links."""
    return _page(
        publication, "web/issue.html.j2", root="../../", view=view, newer=newer, older=older
    )


def _page(publication: Publication, template: str, root: str, **context: object) -> str:
    """root: the relative path from the page back to the site root ('' or '../../')."""
    config = publication.config
    html = render(
        config.templates_dir, template, config.root, pub=config.publication, root=root, **context
    )
    # Pages have no recipient: merge fields show their fallback.
    return with_fallbacks(html)
