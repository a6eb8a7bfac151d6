"""An HTML article page → an imported article: fields, then the story sanitised and converted.

The steps hand each other values, never shared state: the tree, the page's
fields and story region, the sanitised HTML (with a byline or dek found in the
body), the Markdown blocks; each returns its own notes, merged here in that order.
"""

from __future__ import annotations

from briefing.importer.article import ImportedArticle, finish_notes
from briefing.importer.blocks import render
from briefing.importer.convert import take_key_points, to_blocks
from briefing.importer.fields import read_fields
from briefing.importer.heuristics import dateline, merge_field_notes
from briefing.importer.sanitise import sanitise
from briefing.importer.tree import parse_html


def from_html(text: str, label: str) -> ImportedArticle:
    """The article in an HTML page; ContentError when the page has no headline."""
    page = read_fields(parse_html(text), label)
    safe = sanitise(page.region, page.source_url, page.byline, page.dek)
    blocks, converter_notes = to_blocks(parse_html(safe.html), page.headline)
    points, points_title = take_key_points(blocks)
    notes = [*page.notes, *safe.notes, *converter_notes, *merge_field_notes(blocks)]
    return ImportedArticle(
        headline=page.headline,
        source=page.source,
        source_url=page.source_url,
        byline=safe.byline,
        dateline=dateline(blocks),
        dek=safe.dek,
        key_points_title=points_title,
        key_points=points,
        body=render(blocks),
        published=page.published,
        notes=finish_notes(notes, bool(blocks)),
    )
