"""`briefing check`'s editorial calendar: drafts, future issues, schedules and segments.

Kept beside check.py (which judges what an issue renders to): these findings come
from the model, the cut-off the caller passes (the CLI reads the clock) and, for
segments, the subscribers' fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from briefing.errors import relative
from briefing.model import Issue, Publication

# (file, line, rule, message): the fields of briefing.check.Finding, which the CLI
# makes of them (this module sits below check, among the ground's helpers).
Finding = tuple[str, int, str, str]


def calendar_findings(
    publication: Publication,
    as_of: datetime,
    slugs: Iterable[str] = (),
    audience: Sequence[Mapping[str, str]] | None = None,
) -> list[Finding]:
    """Drafts, issues dated after as_of, schedules that cannot work, and segments that
    match no active subscriber (audience: their fields, with tags; None: unknown)."""
    wanted = set(slugs)
    found: list[Finding] = []
    for issue in publication.issues:
        if not wanted or issue.slug in wanted:
            found += _issue(issue, publication.config.root, as_of, audience)
    return found


def _issue(
    issue: Issue, root: Path, as_of: datetime, audience: Sequence[Mapping[str, str]] | None
) -> Iterator[Finding]:
    path = issue.folder / "issue.md"
    label = relative(path, root)
    lines = _key_lines(path)
    if issue.draft:
        yield (
            label,
            lines.get("draft", 1),
            "draft",
            "a draft: left out of the site and the feeds, and `send` refuses it;"
            " remove 'draft: true' to publish it",
        )
    if issue.date > as_of:
        yield (
            label,
            lines.get("date", 1),
            "future",
            f"dated {issue.date.isoformat()}, after the cut-off {as_of.isoformat()}:"
            " a build before then leaves it out",
        )
    if issue.send_at is not None and issue.send_at < issue.date:
        yield (
            label,
            lines.get("send_at", 1),
            "send-at",
            f"send_at {issue.send_at.isoformat()} is before the issue's date: `send --due`"
            " waits until the issue is published (its date) and the site is built",
        )
    segment = issue.audience
    if segment and audience is not None and not any(segment.matches(f) for f in audience):
        yield (
            label,
            lines.get("audience", 1),
            "segment",
            f"the audience ({segment.describe()}) matches none of the"
            f" {len(audience)} active subscribers",
        )


def _key_lines(path: Path) -> dict[str, int]:
    """Top-level front matter keys → their line (1-based), read plainly."""
    found: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return found
    for number, line in enumerate(text.split("\n")[1:], start=2):
        if line.strip() == "---":
            break
        key, sep, _ = line.partition(":")
        if sep and key and not key[0].isspace():
            found.setdefault(key.strip(), number)
    return found
