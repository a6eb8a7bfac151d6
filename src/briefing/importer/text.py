"""Plain text as news sites export it → an imported article.

The shape: a header line ``Title/ Source/ DATELINE/ Author/ Edition/ Dek``, an
``…: Quick Looks`` line with ``- Label: text`` key points, then the body one
paragraph per line (subheadings, quotes, a ``Conclusion: …`` subheading, and
trailing debris such as a comment prompt). Every part is optional but the title.
"""

from __future__ import annotations

import re

from briefing.errors import ContentError, Problem
from briefing.importer.article import ImportedArticle, Note, finish_notes
from briefing.importer.blocks import Block, escape, guard, render
from briefing.importer.heuristics import (
    CONCLUSION,
    DEBRIS,
    QUICK_LOOKS,
    QUOTE_MARKS,
    SECTION_LABEL,
    dateline,
    key_point,
    merge_field_notes,
)
from briefing.importer.normalise import clean, same, snippet, strip_by
from briefing.model import KeyPoint

_HEADER_FIELDS = ("headline", "source", "dateline", "byline", "edition", "dek")
_POINT_BULLET = re.compile(r"^[-•*–]\s+(.*)$")
_BULLET = re.compile(r"^[-•*]\s+(\S.*)$")

Line = tuple[int, str]  # file line number, cleaned text


def from_text(text: str, label: str) -> ImportedArticle:
    """The article in a plain-text export; ContentError when it has no title."""
    lines = [(number, clean(line)) for number, line in enumerate(text.split("\n"), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise ContentError(Problem(label, "is empty; there is no article to import", line=1))
    notes: list[Note] = []
    fields = _header(lines[0], label, notes)
    rest = lines[1:]
    points, points_title, stray = _key_points(rest, notes)
    blocks = _blocks(rest, fields["headline"], notes)
    if stray:
        blocks.insert(0, _stray_list(stray))
    notes += merge_field_notes(blocks)
    return ImportedArticle(
        headline=fields["headline"],
        source=fields.get("source", ""),
        byline=fields.get("byline", ""),
        dateline=fields.get("dateline") or dateline(blocks),
        edition=fields.get("edition", ""),
        dek=fields.get("dek", ""),
        key_points_title=points_title,
        key_points=tuple(points),
        body=render(blocks),
        notes=finish_notes(notes, bool(blocks)),
    )


def _header(first: Line, label: str, notes: list[Note]) -> dict[str, str]:
    """The header line's fields, or the first line as the headline."""
    number, text = first
    parts = [p.strip() for p in re.split(r"\s*/\s+", text, maxsplit=5)]
    if len(parts) < 5:
        if len(text) > 150:
            notes.append(
                (number, "the first line is long for a headline; the file may lack a title")
            )
        return {"headline": text}
    parts += [""] * (6 - len(parts))
    fields = dict(zip(_HEADER_FIELDS, parts, strict=True))
    fields["byline"] = strip_by(fields["byline"])
    fields["dek"] = escape(fields["dek"])
    if not fields["headline"]:
        raise ContentError(
            Problem(label, "the header line has no title before the first '/ '", line=1)
        )
    return fields


def _key_points(rest: list[Line], notes: list[Note]) -> tuple[list[KeyPoint], str, list[Line]]:
    """Takes the '…: Quick Looks' line and its bullets off the front of `rest`.

    Returns the key points, their title, and the bullets without a label (kept in
    the body). Without a single key point, the title line stays in the body.
    """
    if not (rest and QUICK_LOOKS.match(rest[0][1])):
        return [], "", []
    title_line, title = rest.pop(0)
    points: list[KeyPoint] = []
    stray: list[Line] = []
    while rest and (bullet := _POINT_BULLET.match(rest[0][1])):
        number, _ = rest.pop(0)
        point = key_point(bullet.group(1))
        if point:
            points.append(point)
        else:
            stray.append((number, bullet.group(1)))
            notes.append(
                (number, "key point without a 'Label:'; kept at the top of the body as a list")
            )
    if not points:
        rest.insert(0, (title_line, title))
        return [], "", stray
    return points, title, stray


def _stray_list(stray: list[Line]) -> Block:
    return Block(
        "list",
        "",
        " ".join(t for _, t in stray),
        stray[0][0],
        [guard(escape(t)) for _, t in stray],
        [t for _, t in stray],
    )


def _blocks(lines: list[Line], headline: str, notes: list[Note]) -> list[Block]:
    blocks: list[Block] = []
    seen_paragraph = False
    previous = 0
    for index, (number, line) in enumerate(lines):
        dropped = _dropped(line, headline, seen_paragraph)
        if dropped:
            notes.append((number, dropped))
        elif bullet := _BULLET.match(line):
            _add_item(blocks, bullet.group(1), number, follows=previous == number - 1)
        else:
            block = _block(line, number, lines[index + 1 :])
            blocks.append(block)
            seen_paragraph = seen_paragraph or block.kind != "heading"
        previous = number
    return blocks


def _dropped(line: str, headline: str, seen_paragraph: bool) -> str:
    """Why a body line is left out, or ''."""
    if DEBRIS.match(line) and len(line) <= 120:
        return f"dropped debris: '{snippet(line)}'"
    if not seen_paragraph and same(line, headline):
        return "dropped the repeated headline"
    if SECTION_LABEL.match(line):
        return f"dropped the section label '{line}'"
    return ""


def _add_item(blocks: list[Block], item: str, number: int, follows: bool) -> None:
    """A bullet line: into the list on the line before, else a new list."""
    if blocks and blocks[-1].kind == "list" and follows:
        blocks[-1].items.append(guard(escape(item)))
        blocks[-1].items_plain.append(item)
    else:
        blocks.append(Block("list", "", item, number, [guard(escape(item))], [item]))


def _block(line: str, number: int, following: list[Line]) -> Block:
    if line[0] in QUOTE_MARKS:
        return Block("quote", guard(escape(line)), line, number)
    if _is_heading(line, following):
        return Block("heading", escape(line), line, number)
    return Block("para", escape(line), line, number)


def _is_heading(line: str, following: list[Line]) -> bool:
    """A subheading: short, no final punctuation, not a quote, and text follows it.

    Conservative on purpose: a false paragraph costs the editor one '## ', a false
    heading turns a sentence into a title.
    """
    if not any(not DEBRIS.match(text) for _, text in following):
        return False
    if CONCLUSION.match(line) and len(line) <= 120 and line[-1] not in ".!…":
        return True
    return _title_shaped(line) and _title_case_question(line)


def _title_shaped(line: str) -> bool:
    """2–14 words, up to 100 characters, a capital or digit first, no final punctuation."""
    if not 2 <= len(line.split()) <= 14 or len(line) > 100:
        return False
    if not (line[0].isupper() or line[0].isdigit()) or re.match(r"^\d+[.)]\s", line):
        return False
    return line[-1].isalnum() or line[-1] == "?"


def _title_case_question(line: str) -> bool:
    """A question is a heading only in title case ('Is the East Bank Next?')."""
    if line[-1] != "?":
        return True
    long_words = [w for w in line.split() if len(w) > 3]
    capitalised = [w for w in long_words if w[0].isupper()]
    return len(capitalised) >= 0.6 * max(len(long_words), 1)
