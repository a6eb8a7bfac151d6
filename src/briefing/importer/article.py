"""What an import produces: the article's fields, its Markdown body, and notes for the editor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from briefing.model import KeyPoint

# A note about dropped or unplaced text, with the input line when one is known.
Note = tuple[int | None, str]


@dataclass(frozen=True)
class ImportedArticle:
    headline: str
    source: str = ""
    source_url: str = ""
    byline: str = ""
    dateline: str = ""
    edition: str = ""
    dek: str = ""  # inline Markdown
    key_points_title: str = ""
    key_points: tuple[KeyPoint, ...] = ()  # label and text: inline Markdown
    body: str = ""  # Markdown: paragraphs, "## " subheadings, "> " quotes, "- " lists
    published: datetime | None = None  # from the page, when it gives one (with tz)
    notes: tuple[str, ...] = ()  # dropped or unplaced text, each "line N: …"


def finish_notes(notes: list[Note], has_body: bool) -> tuple[str, ...]:
    """The notes in line order (those without a line last), each as 'line N: …'."""
    notes = list(notes)
    if not has_body:
        notes.append((None, "no body text found; the article has only its front matter"))
    ordered = sorted(notes, key=lambda n: (n[0] is None, n[0] or 0))
    return tuple(f"line {line}: {text}" if line else text for line, text in ordered)
