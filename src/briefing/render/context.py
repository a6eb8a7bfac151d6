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

from briefing.merge import personal_without_web
from briefing.model import Article, Issue, Publication
from briefing.render.images import CONTENT_WIDTH, IssueImages, Shown
from briefing.render.markdown import (
    ImageSizer,
    base_free,
    heading_shift,
    inline_html,
    parse,
    render_tokens,
    without_blocks,
)
from briefing.site import EMAIL_IMAGE, ISSUE_PAGE

# Headings: the issue title is <h1>, the note's own headings start at <h2>, article
# headlines are <h2> and their body headings start at <h3> (email, page and feeds).
NOTE_TOP, BODY_TOP = 2, 3


class Images:
    """Where and how big each output shows an issue's local images: the page at their
    own size (its CSS scales them), feeds and email at most the email column wide,
    email from the email-sized copy when there is one."""

    def __init__(self, issue: Issue, url: str, base_url: str) -> None:
        # Labels relative to the project: issues live in <project>/issues/<folder>/.
        self.local = IssueImages(issue.folder, issue.assets, issue.folder.parent.parent)
        self.slug, self.url, self.base_url = issue.slug, url, base_url

    def web(self, src: str) -> Shown | None:
        name = self.local.name(src)
        if name is None:
            return None
        measured = self.local.measured(name)
        return Shown(src, measured.width, measured.height)

    def feed(self, src: str) -> Shown | None:
        name = self.local.name(src)
        if name is None:
            return None
        width, height = self.local.measured(name).shown(CONTENT_WIDTH)
        return Shown(urljoin(self.url, src), width, height)

    def email(self, src: str) -> Shown | None:
        name = self.local.name(src)
        if name is None:
            return None
        measured = self.local.measured(name)
        width, height = measured.shown(CONTENT_WIDTH)
        if self.local.copy(name) is not None:
            src = EMAIL_IMAGE.absolute(self.base_url, slug=self.slug, name=name)
        return Shown(urljoin(self.url, src), width, height)


@dataclass(frozen=True)
class ArticleView:
    article: Article
    url: str  # the issue page this article lives on; "" keeps URLs relative
    tokens: list[Token]  # the body, parsed once for every output
    images: Images | None = None
    web_tokens: list[Token] | None = None  # for pages and feeds (personal blocks left out)
    # The page's view of this article when the feeds' body HTML is the same (base_free).
    page: ArticleView | None = None

    def _sizer(self, email: bool = False) -> ImageSizer | None:
        if self.images is None:
            return None
        if email:
            return self.images.email
        return self.images.feed if self.url else self.images.web

    @cached_property
    def body_html(self) -> Markup:
        """For the page (relative URLs) or the feeds (absolute)."""
        if self.page is not None:
            return self.page.body_html
        tokens = self.tokens if self.web_tokens is None else self.web_tokens
        shift = heading_shift(self.tokens, BODY_TOP)
        return Markup(render_tokens(tokens, self.url, images=self._sizer(), shift=shift))

    @cached_property
    def email_body_html(self) -> Markup:
        shift = heading_shift(self.tokens, BODY_TOP)
        sizer = self._sizer(email=True)
        return Markup(render_tokens(self.tokens, self.url, images=sizer, shift=shift, email=True))

    @property
    def lead(self) -> Shown | None:
        """The article's image as the page or the feeds show it (src and size)."""
        sizer = self._sizer()
        image = self.article.image
        return sizer(image.src) if image and sizer else None

    @property
    def email_image(self) -> Shown | None:
        sizer = self._sizer(email=True)
        image = self.article.image
        return sizer(image.src) if image and sizer else None

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

    # Pages and feeds have no recipient: blocks with a personal field are left out.
    @cached_property
    def web_note_tokens(self) -> list[Token]:
        return without_blocks(self.note_tokens, personal_without_web)

    @cached_property
    def web_article_tokens(self) -> list[list[Token]]:
        return [without_blocks(t, personal_without_web) for t in self.article_tokens]

    @cached_property
    def images(self) -> Images:
        return Images(self.issue, self.url, self.base_url)

    def _note(self, url: str, sizer: ImageSizer, email: bool = False) -> Markup:
        shift = heading_shift(self.note_tokens, NOTE_TOP)
        tokens = self.note_tokens if email else self.web_note_tokens
        return Markup(render_tokens(tokens, url, images=sizer, shift=shift, email=email))

    @cached_property
    def note_html(self) -> Markup:
        """For the feeds."""
        if base_free(self.web_note_tokens, self.url):
            return self.web_note_html  # the same HTML: rendered once
        return self._note(self.url, self.images.feed)

    @cached_property
    def email_note_html(self) -> Markup:
        return self._note(self.url, self.images.email, email=True)

    @cached_property
    def articles(self) -> list[ArticleView]:
        return [
            ArticleView(a, self.url, t, self.images, w, page if base_free(w, self.url) else None)
            for a, t, w, page in zip(
                self.issue.articles,
                self.article_tokens,
                self.web_article_tokens,
                self.web_articles,
                strict=True,
            )
        ]

    @property
    def lead_image(self) -> LeadImage | None:
        return lead_image(self)

    # Pages keep relative URLs as written, so the site also works from a preview
    # server, a file:// URL or another host.
    @cached_property
    def web_note_html(self) -> Markup:
        return self._note("", self.images.web)

    @cached_property
    def web_articles(self) -> list[ArticleView]:
        return [
            ArticleView(a, "", t, self.images, w)
            for a, t, w in zip(
                self.issue.articles, self.article_tokens, self.web_article_tokens, strict=True
            )
        ]


@dataclass(frozen=True)
class LeadImage:
    """The issue's lead image (its first article's image) as cards and feeds show it."""

    url: str  # absolute
    alt: str
    width: int
    height: int
    bytes: int
    mime: str


def lead_image(view: IssueView) -> LeadImage | None:
    local = view.images.local
    for article in view.issue.articles:
        name = local.name(article.image.src) if article.image else None
        if article.image and name is not None:
            measured = local.measured(name)
            return LeadImage(
                urljoin(view.url, article.image.src),
                article.image.alt,
                measured.width,
                measured.height,
                measured.bytes,
                "image/" + measured.format.lower(),
            )
    return None


def views(publication: Publication) -> list[IssueView]:
    base = publication.config.publication.base_url
    return [IssueView(issue, base) for issue in publication.issues]
