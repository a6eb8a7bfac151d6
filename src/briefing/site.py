"""The site layout: every kind of file `build` writes, with its path and URL, declared once.

A path is relative to the site folder. A URL is the path with a trailing
`index.html` cut (pretty URLs). Email and feeds are read away from the site, so
they get absolute URLs (base_url + URL); pages link each other with relative
URLs, so the site also works from a preview server, file:// or another host.

A new output (a sitemap, a 404 page, a sign-up page, a tags index) is one
`Output` declaration here; renderers, check, preview and send take paths and
URLs from these declarations and spell none themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from briefing.errors import BriefingError, Problem


@dataclass(frozen=True)
class Output:
    """One kind of output file; pattern names its path, with {fields} filled per file."""

    pattern: str

    def path(self, **fields: str) -> str:
        return self.pattern.format(**fields)

    def url(self, **fields: str) -> str:
        """The URL relative to the site root: the folder for an index page."""
        path = self.path(**fields)
        if path == "index.html" or path.endswith("/index.html"):
            return path.removesuffix("index.html")
        return path

    def folder(self, **fields: str) -> str:
        """The folder holding the file, with a trailing slash ('' for the site root)."""
        head, _, _ = self.path(**fields).rpartition("/")
        return head + "/" if head else ""

    def absolute(self, base_url: str, **fields: str) -> str:
        return base_url + self.url(**fields)

    def matches(self, path: str) -> bool:
        """Whether path is a file of this kind (each field standing for one path segment)."""
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(self.pattern))
        return re.fullmatch(pattern, path) is not None


# One issue: its web page, the email `send` delivers, its plain-text twin, its images.
ISSUE_PAGE = Output("issues/{slug}/index.html")
EMAIL_HTML = Output("issues/{slug}/email.html")
EMAIL_TEXT = Output("issues/{slug}/email.txt")
ISSUE_ASSET = Output("issues/{slug}/{name}")
# An image's email-sized copy (render/images.py); the page keeps the original.
EMAIL_IMAGE = Output("issues/{slug}/email-images/{name}")
# Shared by the whole site.
INDEX = Output("index.html")
TAG_PAGE = Output("tags/{tag}/index.html")
SUBSCRIBE_PAGE = Output("subscribe/index.html")  # only with a [service] url
STYLESHEET = Output("style.css")
RSS = Output("rss.xml")
ATOM = Output("atom.xml")
JSON_FEED = Output("feed.json")
# The archive past its first page ([site] per_page): page/2/, page/3/, …
INDEX_PAGE = Output("page/{number}/index.html")
TAGS_INDEX = Output("tags/index.html")
# What static hosts and search engines look for at the root.
SITEMAP = Output("sitemap.xml")
ROBOTS = Output("robots.txt")
NOT_FOUND = Output("404.html")  # served for any missing path: its links are root-relative
# [site] favicon and feed_icon, copied under these names ({ext}: the file's, e.g. .png).
FAVICON = Output("favicon{ext}")
FEED_ICON = Output("feed-icon{ext}")


def index_page(number: int) -> Output:
    """The archive's page number (1: the site's index)."""
    return INDEX if number == 1 else Output(INDEX_PAGE.path(number=str(number)))


def issue_folder(slug: str) -> str:
    """The folder every file of one issue is written in."""
    return ISSUE_PAGE.folder(slug=slug)


def to_root(page: str) -> str:
    """The relative URL from the page at path page back to the site root ('' or '../../')."""
    return "../" * page.count("/")


class Urls:
    """URLs as one output links them: prefixed by the way back to the site root for a
    page ('../../'), or by base_url for email and feeds. Templates get these, so no
    template spells a path."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @classmethod
    def page(cls, path: str) -> Urls:
        """Relative URLs for the page written at path."""
        return cls(to_root(path))

    def __call__(self, output: Output, **fields: str) -> str:
        return self.prefix + output.url(**fields)

    @property
    def home(self) -> str:
        return self(INDEX)

    @property
    def stylesheet(self) -> str:
        return self(STYLESHEET)

    @property
    def rss(self) -> str:
        return self(RSS)

    @property
    def atom(self) -> str:
        return self(ATOM)

    @property
    def json_feed(self) -> str:
        return self(JSON_FEED)

    @property
    def tags_index(self) -> str:
        return self(TAGS_INDEX)

    def index_page(self, number: int) -> str:
        return self(index_page(number))

    def issue(self, slug: str) -> str:
        return self(ISSUE_PAGE, slug=slug)

    def tag(self, tag: str) -> str:
        return self(TAG_PAGE, tag=tag)


class Outputs:
    """Files of the site, keyed by site-relative path; two claims on one path fail."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._origin: dict[str, str] = {}

    def add(self, path: str, data: bytes | str, origin: str) -> None:
        clean = PurePosixPath(path)
        if clean.is_absolute() or ".." in clean.parts or str(clean) != path:
            raise BriefingError(Problem(origin, f"output path '{path}' leaves the site folder"))
        if path in self.files:
            raise collision(path, origin, self._origin[path])
        self.files[path] = data.encode("utf-8") if isinstance(data, str) else data
        self._origin[path] = origin

    def origin(self, path: str) -> str:
        return self._origin[path]

    def update(self, other: Outputs) -> None:
        for path, data in other.files.items():
            self.add(path, data, other.origin(path))


def collision(path: str, origin: str, first: str) -> BriefingError:
    return BriefingError(
        Problem(origin, f"would write {path}, which {first} already writes; rename one of them")
    )
