"""Scheduled sends: `briefing send --due` (called from cli/send.py) and `briefing schedule`."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from briefing.cli.app import State, cli
from briefing.errors import BriefingError, SendError

# The send service loads inside the commands, not at import: `briefing --help` stays quick.
if TYPE_CHECKING:
    from briefing.model import Issue
    from briefing.send.due import Outcome, Slot
    from briefing.send.service import SendRequest

MAX_LATE = "24h"


def moment(value: str | None) -> datetime:
    """--at as an aware time, or now: the clock is read here, at the CLI, and nowhere below."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def max_late_option(value: str) -> timedelta:
    from briefing.send.due import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def send_due(state: State, at: str | None, max_late: str, request: SendRequest) -> None:
    """Send every issue whose send_at has passed, each once; for cron and timers."""
    from briefing.send.due import run_due
    from briefing.send.service import SendService

    now, limit = moment(at), max_late_option(max_late)
    service = SendService.open(state.root)

    def send_one(issue: Issue, beat: Callable[[], None]) -> tuple[int, bool]:
        try:
            one = dataclasses.replace(request, slug=issue.slug)
            summary = service.run(one, progress=lambda done, total: beat())
        except BriefingError:
            raise
        except Exception as exc:  # a route change and the like: one line, next issue
            raise SendError(str(exc).splitlines()[0]) from exc
        return summary.tally.sent, summary.complete

    outcomes = run_due(service.config, service.publication, now, limit, send_one)
    if outcomes is None:
        click.echo("Another `briefing send --due` is running; nothing to do here.")
        return
    if not outcomes:
        click.echo(f"Nothing due at {now.isoformat(timespec='seconds')}.")
    for outcome in outcomes:
        click.echo(_describe(outcome))
    if any(o.error for o in outcomes):
        sys.exit(1)
    if not all(o.complete or o.held_by for o in outcomes):
        sys.exit(2)


def _describe(outcome: Outcome) -> str:
    slot, slug = outcome.slot, outcome.slot.issue.slug
    if outcome.error:
        return f"{slug}: not sent: {outcome.error}"
    if outcome.held_by:
        return f"{slug}: left alone: another run is sending it, {outcome.held_by}"
    line = f"{slug}: sent {outcome.sent}"
    if outcome.resumed:
        line += " (resumed a run that had stopped)"
    elif slot.late >= timedelta(minutes=5):
        line += f", {_duration(slot.late)} late (send_at {slot.send_at.isoformat()})"
    if not outcome.complete:
        line += "; not complete: the next run goes on (see `briefing status " + slug + "`)"
    return line


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
    return " ".join(parts)


@cli.command("schedule")
@click.option("--at", metavar="DATE", help="Show the schedule as at DATE (default: now).")
@click.option(
    "--max-late",
    default=MAX_LATE,
    show_default=True,
    help="How late `send --due` may still send a missed slot (30m, 6h, 2d).",
)
@click.pass_obj
def schedule_command(state: State, at: str | None, max_late: str) -> None:
    """List the issues with send_at: when each is due and where it stands.

    \b
    Example:
      briefing schedule
      briefing schedule --at 2025-06-17T07:00:00-04:00
    """
    from briefing.send.due import DueBook, slots
    from briefing.send.service import SendService
    from briefing.site import EMAIL_HTML

    now, limit = moment(at), max_late_option(max_late)
    service = SendService.open(state.root)
    with closing(DueBook(service.config)) as book:
        found = slots(service.publication, book, now, limit)
    if not found:
        click.echo("No issue has send_at; add 'send_at: 2025-06-03T07:30:00-04:00' to an issue.md.")
        return
    click.echo(f"As at {now.isoformat(timespec='seconds')}:")
    site = state.root / "site"
    for slot in found:
        line = _state(slot, now)
        built = (site / EMAIL_HTML.path(slug=slot.issue.slug)).is_file()
        if slot.sendable and not built:
            line += "; not built in site/ yet: run `briefing build`"
        click.echo(f"  {slot.send_at.isoformat():<25}  {slot.issue.slug:<32}  {line}")


def _state(slot: Slot, now: datetime) -> str:
    from briefing.send.due import STARTED

    if slot.finished:
        return f"done (sent {slot.started}, {_duration(slot.late)} after send_at)"
    if slot.state == STARTED:
        return f"started {slot.started}, not complete: the next `send --due` goes on"
    if slot.state == "waiting":
        return f"waiting: due in {_duration(slot.send_at - now)}"
    if slot.state == "missed":
        return (
            f"missed by {_duration(slot.late)} (over --max-late): send it by hand,"
            f" `briefing send {slot.issue.slug}`, or move send_at"
        )
    if slot.state == "not published yet":
        return "due, but not published yet (a draft, or its date is still ahead)"
    return f"due now{f', {_duration(slot.late)} late' if slot.late >= timedelta(minutes=5) else ''}"


def due_request(slug: str | None, options: dict[str, Any]) -> SendRequest:
    """The request every due issue is sent with (the send options given with --due)."""
    from briefing.send.service import SendRequest

    if slug:
        raise click.UsageError("--due sends every issue that is due: give no SLUG")
    if options.get("test_to") or options.get("dry_run"):
        raise click.UsageError("--due cannot be combined with --to or --dry-run; see `schedule`")
    return SendRequest(slug="", **options)
