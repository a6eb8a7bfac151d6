"""Raw articles → the article format (front matter + Markdown body).

Two input shapes, told apart by content:

- plain text as news sites export it (`text`);
- an HTML article page (`page`): fields from Open Graph, JSON-LD and ``<meta>``
  (`fields`), the body from ``<article>`` (else ``<main>``, else ``<body>``),
  sanitised (`sanitise`) and converted to Markdown (`convert`).

`reader` decodes a file and picks the shape; `writer` writes the article file.
Both shapes produce `blocks.Block`s, written as Markdown in one place.

Nothing is fetched and nothing runs: the page is only parsed (`tree`). Text that
is dropped (debris, captions, a repeated headline) or cannot be placed is listed
in ``ImportedArticle.notes`` with its line, so nothing disappears silently. The
Markdown written contains no raw HTML: every ``<`` from the source is escaped,
links are kept only when they are absolute http(s) URLs, and the HTML body passes
through nh3 before it is converted.

Text fields are plain text, except ``dek`` and the key points' ``label`` and
``text``, which are inline Markdown (the renderers treat them so): they are
escaped like the body.
"""

from briefing.importer.article import ImportedArticle
from briefing.importer.reader import import_article
from briefing.importer.writer import (
    FRONT_MATTER_KEYS,
    article_markdown,
    article_slug,
    write_article,
)

__all__ = [
    "FRONT_MATTER_KEYS",
    "ImportedArticle",
    "article_markdown",
    "article_slug",
    "import_article",
    "write_article",
]
