"""An imported article → an ``NN-slug.md`` file: YAML front matter, then the Markdown body.

The keys, their order and the key points' own keys come from `briefing.schema`,
the one declaration of article fields the loader reads by; each value is written
double-quoted, so YAML 1.1 reads it back as the same string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from briefing.importer.article import ImportedArticle
from briefing.schema import ARTICLE_FIELDS, KEY_POINT_FIELDS, Kind, names
from briefing.sources.issues import slugify


def _text(key: str, value: str) -> list[str]:
    return [f"{key}: {_yaml(value)}"]


def _key_points(key: str, points: Any) -> list[str]:
    lines = [f"{key}:"]
    for point in points:
        for index, field in enumerate(KEY_POINT_FIELDS):
            lead = "  - " if index == 0 else "    "
            lines.append(f"{lead}{field.name}: {_yaml(getattr(point, field.name))}")
    return lines


# How each kind of value is written; the schema's other kinds (an image) are never imported.
_WRITERS: dict[Kind, Callable[[str, Any], list[str]]] = {
    Kind.TEXT: _text,
    Kind.URL: _text,
    Kind.KEY_POINTS: _key_points,
}
# The article fields written, in the schema's order, each an ImportedArticle attribute.
_WRITTEN = tuple(f for f in ARTICLE_FIELDS if f.kind in _WRITERS)
FRONT_MATTER_KEYS = names(_WRITTEN)


def article_markdown(article: ImportedArticle) -> str:
    """The text of an ``NN-slug.md`` article file: front matter, then the body."""
    lines = ["---"]
    for field in _WRITTEN:
        value = getattr(article, field.name)
        if value:  # empty fields are left out; the loader reads them as empty
            lines += _WRITERS[field.kind](field.name, value)
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
