"""How news articles are shaped: the patterns both readers use to place or drop text.

Key points under a '…: Quick Looks' line, scraped debris (comment prompts, share
and subscribe lines), 'Related' boxes, a dateline opening the first paragraph, and
text the merge step would read as a field.
"""

from __future__ import annotations

import re

from briefing.importer.article import Note
from briefing.importer.blocks import Block, escape
from briefing.merge import PLACEHOLDER
from briefing.model import KeyPoint

QUOTE_MARKS = '“"„«'
QUICK_LOOKS = re.compile(r"^(?:.{0,80}?:\s*)?quick\s+looks?\s*:?$", re.IGNORECASE)
SECTION_LABEL = re.compile(r"^(?:deep|quick)\s+looks?\s*:?$", re.IGNORECASE)
CONCLUSION = re.compile(r"^conclusion\s*:\s*\S", re.IGNORECASE)
_KEY_POINT = re.compile(r"^(?P<label>[^:]{1,80}?)\s*:\s+(?P<text>\S.*)$")
DEBRIS = re.compile(
    r"""^(?:
        you\s+must\s+(?:register|log\s*in|sign\s*in)\b.{0,60}
      | (?:please\s+)?(?:log\s*in|sign\s*in|register)\s+to\s+
          (?:post\s+a\s+|leave\s+a\s+)?comment.{0,30}
      | (?:leave\s+a\s+(?:comment|reply)|\d+\s+comments?|comments?)
      | (?:click\s+to\s+)?share(?:\s+(?:this|on|via)\b.{0,40})?
      | subscribe\b.{0,80}
      | sign\s+up\s+for\s+(?:our|the|a)\b.{0,60}
      | (?:advertisement|sponsored(?:\s+content)?|ad)
      | (?:related(?:\s+(?:articles?|stories|posts|coverage|reading|content|news))?
          |more\s+stories|you\s+may\s+also\s+like|recommended(?:\s+for\s+you)?
          |read\s+more)\s*:?
      | follow\s+us\s+on\b.{0,60}
      | (?:print|email)\s+this\s+(?:article|story|page)
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
RELATED_HEADING = re.compile(
    r"^(?:related\b.{0,30}|more\s+(?:stories|from\b.{0,40})|you\s+may\s+also\s+like"
    r"|recommended\b.{0,20}|read\s+more\b.{0,20}|read\s+next)\W*$",
    re.IGNORECASE,
)
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’-]{2,}(?:\s+[A-Z][A-Z.'’-]+){0,3}"
    r"(?:,\s+[A-Z][A-Za-z.]*(?:\s+[A-Z][A-Za-z.]*)?)?)"
    r"(?:\s+\([^)]{1,24}\))?\s+(?:—|–|--)\s+\S"
)


def key_point(text: str) -> KeyPoint | None:
    """'Label: text' with a label of at most eight words → a key point (inline Markdown)."""
    match = _KEY_POINT.match(text)
    if not match or len(match.group("label").split()) > 8:
        return None
    return KeyPoint(escape(match.group("label")), escape(match.group("text")))


def dateline(blocks: list[Block]) -> str:
    """The place that opens the first paragraph ('RIVERTON — …'), or ''."""
    first = next((b for b in blocks if b.kind == "para"), None)
    match = _DATELINE.match(first.plain) if first else None
    return match.group("place").strip() if match else ""


def merge_field_notes(blocks: list[Block]) -> list[Note]:
    """Text that looks like a merge field: the send step would fill it in."""
    return [
        (block.line, f"'{match.group(0)}' will be read as a merge field; reword it")
        for block in blocks
        for match in PLACEHOLDER.finditer(block.plain)
    ]
