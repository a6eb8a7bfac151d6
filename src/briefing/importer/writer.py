"""An imported article → an ``NN-slug.md`` file: YAML front matter, then the Markdown body."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from briefing.importer.article import ImportedArticle
from briefing.sources.issues import slugify

# The article keys written, in order (a subset of the loader's article fields).
# Seam for the one field schema (issue 8): once the article fields are declared in
# one place, take these keys, and how each is written, from there.
FRONT_MATTER_KEYS = (
    "headline",
    "source",
    "source_url",
    "byline",
    "dateline",
    "edition",
    "dek",
    "key_points_title",
    "key_points",
)
_TEXT_KEYS = FRONT_MATTER_KEYS[:-1]  # one string each; key_points is a list of pairs


def article_markdown(article: ImportedArticle) -> str:
    """The text of an ``NN-slug.md`` article file: front matter, then the body."""
    lines = ["---"]
    for key in _TEXT_KEYS:
        value = getattr(article, key)
        if value:
            lines.append(f"{key}: {_yaml(value)}")
    if article.key_points:
        lines.append("key_points:")
        for point in article.key_points:
            lines.append(f"  - label: {_yaml(point.label)}")
            lines.append(f"    text: {_yaml(point.text)}")
    lines.append("---")
    body = article.body.strip("\n")
    return "\n".join(lines) + "\n" + (body + "\n" if body else "")


def article_slug(headline: str) -> str:
    return slugify(headline, fallback="article")


def write_article(article: ImportedArticle, folder: Path) -> Path:
    """Write the article into an issue folder as the next ``NN-slug.md``; never overwrites."""
    numbers = [
        int(m.group(1)) for p in folder.glob("*.md") if (m := re.match(r"^(\d{2,3})-", p.name))
    ]
    path = folder / f"{max(numbers, default=0) + 1:02d}-{article_slug(article.headline)}.md"
    with path.open("x", encoding="utf-8", newline="\n") as out:
        out.write(article_markdown(article))
    return path


def _yaml(value: str) -> str:
    """A double-quoted YAML scalar: read back as this exact string (YAML 1.1 or 1.2)."""
    dumped: str = yaml.dump(value, default_style='"', allow_unicode=True, width=2**31 - 1)
    return dumped.strip()
