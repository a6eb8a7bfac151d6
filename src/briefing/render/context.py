"""What every template sees: the model plus its Markdown rendered to HTML with absolute URLs.

Built once per issue and shared by the email, web and feed renderers, so the
feeds say exactly what the email says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urljoin

from markdown_it.token import Token
from markupsafe import Markup

from briefing.model import Article, Issue, Publication
from briefing.render.markdown import inline_html, parse, render_tokens
from briefing.site import ISSUE_PAGE


@dataclass(frozen=True)
class ArticleView:
    article: Article
    url: str  # the issue page this article lives on; "" keeps URLs relative
    tokens: list[Token]  # the body, parsed once for every output

    @cached_property
    def body_html(self) -> Markup:
        return Markup(render_tokens(self.tokens, self.url))

    @cached_property
    def dek_html(self) -> Markup:
        return Markup(inline_html(self.article.dek))

    @cached_property
    def key_points(self) -> list[tuple[Markup, Markup]]:
        return [
            (Markup(inline_html(p.label)), Markup(inline_html(p.text)))
            for p in self.article.key_points
        ]

    @property
    def image_url(self) -> str:
        if not self.article.image:
            return ""
        return urljoin(self.url, self.article.image.src) if self.url else self.article.image.src

    @property
    def anchor(self) -> str:
        return self.article.slug


@dataclass(frozen=True)
class IssueView:
    """An issue with the URLs and HTML its outputs need."""

    issue: Issue
    base_url: str

    @property
    def url(self) -> str:
        """The issue page's absolute URL."""
        return ISSUE_PAGE.absolute(self.base_url, slug=self.issue.slug)

    @property
    def path(self) -> str:
        """The issue page's URL relative to the site root (themes written before `urls`)."""
        return ISSUE_PAGE.url(slug=self.issue.slug)

    # Email and feeds are read away from the site: every URL in them is absolute.
    @cached_property
    def note_tokens(self) -> list[Token]:
        return parse(self.issue.note)

    @cached_property
    def article_tokens(self) -> list[list[Token]]:
        return [parse(a.body) for a in self.issue.articles]

    @cached_property
    def note_html(self) -> Markup:
        return Markup(render_tokens(self.note_tokens, self.url))

    @cached_property
    def articles(self) -> list[ArticleView]:
        return [
            ArticleView(a, self.url, t)
            for a, t in zip(self.issue.articles, self.article_tokens, strict=True)
        ]

    # Pages keep relative URLs as written, so the site also works from a preview
    # server, a file:// URL or another host.
    @cached_property
    def web_note_html(self) -> Markup:
        return Markup(render_tokens(self.note_tokens))

    @cached_property
    def web_articles(self) -> list[ArticleView]:
        return [
            ArticleView(a, "", t)
            for a, t in zip(self.issue.articles, self.article_tokens, strict=True)
        ]


def views(publication: Publication) -> list[IssueView]:
    base = publication.config.publication.base_url
    return [IssueView(issue, base) for issue in publication.issues]
