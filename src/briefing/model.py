"""The validated publication: immutable, built by briefing.sources, read by the renderers.

The front-matter fields of Issue, Article, KeyPoint and Image are declared in
briefing.schema (kind, required, help); a test keeps these classes in step with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from briefing.config import Config
from briefing.segment import Segment


@dataclass(frozen=True)
class KeyPoint:
    label: str
    text: str


@dataclass(frozen=True)
class Image:
    """An image file beside the Markdown that uses it."""

    src: str  # file name relative to the issue folder, as written
    alt: str
    caption: str = ""


@dataclass(frozen=True)
class Markdown:
    """Markdown text and where it starts in its file, for error lines."""

    text: str
    file: Path
    first_line: int  # 1-based line of the file where `text` begins


@dataclass(frozen=True)
class Article:
    slug: str
    path: Path
    headline: str
    body: Markdown
    source: str = ""
    source_url: str = ""
    byline: str = ""
    dateline: str = ""
    edition: str = ""
    dek: str = ""
    key_points_title: str = ""
    key_points: tuple[KeyPoint, ...] = ()
    image: Image | None = None


@dataclass(frozen=True)
class Issue:
    slug: str
    folder: Path
    title: str
    date: datetime  # always timezone-aware
    updated: datetime
    number: int
    note: Markdown
    articles: tuple[Article, ...]
    edition: str = ""
    preheader: str = ""
    tags: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()  # image files (relative to the folder) copied beside the page
    draft: bool = False  # built for preview only: never published or sent
    send_at: datetime | None = None  # when `send --due` sends it
    audience: Segment | None = None  # None: every subscriber

    def published(self, as_of: datetime | None) -> bool:
        """Whether the issue belongs in the published site at the cut-off as_of (None:
        no cut-off). A draft never does; a future-dated issue not before its date."""
        return not self.draft and (as_of is None or self.date <= as_of)

    @property
    def summary(self) -> str:
        return self.preheader or (self.articles[0].dek if self.articles else "")


@dataclass(frozen=True)
class Publication:
    config: Config
    issues: tuple[Issue, ...]  # newest first

    def published(self, as_of: datetime | None) -> Publication:
        """The publication as the site shows it at the cut-off as_of: no drafts, nothing
        dated after as_of. Rendering never reads the clock: the caller says when."""
        return Publication(self.config, tuple(i for i in self.issues if i.published(as_of)))

    def issue(self, slug: str) -> Issue | None:
        return next((i for i in self.issues if i.slug == slug), None)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(sorted({t for i in self.issues for t in i.tags}))
