"""One `briefing inbox` run: read every message, classify, record, apply, move.

Per message: skip it if recorded before; classify; record it and apply its
events in one transaction (see state for why that survives a crash); then move
it if it was acted on and a folder is named.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from briefing.inbox.apply import Policy, applier
from briefing.inbox.classify import ACTIONS, Context, Kind, Verdict, classify
from briefing.inbox.sources import Mail, Source, header_of
from briefing.inbox.state import Applier, InboxState, message_key
from briefing.inbox.verp import VerpIndex

log = logging.getLogger("briefing")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Options:
    move_to: str = ""  # folder for messages acted on; '' leaves them in place
    policy: Policy = field(default_factory=Policy)
    dry_run: bool = False  # classify and report only: nothing recorded, applied or moved


@dataclass(frozen=True)
class Handled:
    """What became of one message, for the report."""

    ref: str
    kind: Kind
    note: str
    outcomes: tuple[tuple[str, str, str], ...]  # (kind, address, outcome)
    before: bool  # processed by an earlier run


@dataclass
class Report:
    handled: list[Handled] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """Events by kind for messages new to this run, plus messages left alone."""
        counts: Counter[str] = Counter()
        for item in self.handled:
            if item.before:
                counts["already processed"] += 1
            elif item.outcomes:
                counts.update(kind for kind, _, _ in item.outcomes)
            else:
                counts[item.kind.value] += 1
        return counts


def message_time(data: bytes, now: datetime) -> datetime:
    """When a bounce happened: its Date, unless missing, unreadable or in the future."""
    for line in header_of(data).decode("latin-1").splitlines():
        if line.lower().startswith("date:"):
            try:
                when = parsedate_to_datetime(line[5:].strip())
            except (TypeError, ValueError, IndexError):
                return now
            if when.tzinfo is None or when > now:
                return now
            return when.astimezone(UTC)
    return now


def _ledger_column(path: Path, sql: str, *args: str) -> list[str]:
    """One column of a read-only query on the send ledger; empty without a ledger."""
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [str(row[0]) for row in db.execute(sql, args)]
    except sqlite3.Error as exc:
        log.warning("%s: cannot read deliveries for VERP tokens: %s", path, exc)
        return []
    finally:
        db.close()


def ledger_index(secret: bytes, ledger: Path) -> VerpIndex:
    """VERP tokens resolved through the deliveries the send ledger holds."""
    return VerpIndex(
        secret,
        lambda: _ledger_column(ledger, "SELECT DISTINCT issue FROM deliveries"),
        lambda issue: _ledger_column(
            ledger, "SELECT recipient FROM deliveries WHERE issue=?", issue
        ),
    )


def run_inbox(
    source: Source,
    state: InboxState,
    ctx: Context,
    options: Options,
    clock: Clock = lambda: datetime.now(UTC),
) -> Report:
    report = Report()
    apply = applier(state.store, options.policy)

    def known(stable: str) -> bool:
        return state.key_at(source.label, stable) is not None

    try:
        for mail in source.messages(known):
            if options.dry_run:
                report.handled.append(_preview(mail, source.label, state, ctx))
                continue
            item = _handle(mail, source.label, state, apply, ctx, clock)
            report.handled.append(item)
            if options.move_to and item.kind in ACTIONS:
                source.move(mail.ref, options.move_to)
    finally:
        source.close()
    return report


def _handle(
    mail: Mail, label: str, state: InboxState, apply: Applier, ctx: Context, clock: Clock
) -> Handled:
    if mail.known:  # not downloaded: what it was comes from the record
        seen = state.find(state.key_at(label, mail.stable) or "")
        kind, note = (seen.kind, seen.note) if seen else (Kind.IGNORED, "processed before")
        return Handled(mail.ref, kind, note, (), before=True)
    key, message_id = message_key(mail.data)
    seen = state.find(key)
    if seen is not None:
        if mail.stable:  # seen elsewhere (a copy, another folder): known here from now on
            state.remember_place(label, mail.stable, key)
        return Handled(mail.ref, seen.kind, seen.note, (), before=True)
    now = clock()
    verdict = _verdict(mail, ctx)
    place = (label, mail.stable) if mail.stable else None
    at = message_time(mail.data, now)
    done = state.commit(key, message_id, verdict, at, now, apply, place)
    if done is None:  # another run got there first
        return Handled(mail.ref, verdict.kind, verdict.note, (), before=True)
    outcomes = tuple((e.kind.value, e.address, outcome) for e, outcome in done)
    return Handled(mail.ref, verdict.kind, verdict.note, outcomes, before=False)


def _preview(mail: Mail, label: str, state: InboxState, ctx: Context) -> Handled:
    """What _handle would find, without writing anything."""
    key = state.key_at(label, mail.stable) if mail.known else message_key(mail.data)[0]
    if seen := state.find(key or ""):
        return Handled(mail.ref, seen.kind, seen.note, (), before=True)
    verdict = _verdict(mail, ctx)
    outcomes = tuple((e.kind.value, e.address, "dry run: not applied") for e in verdict.events)
    return Handled(mail.ref, verdict.kind, verdict.note, outcomes, before=False)


def _verdict(mail: Mail, ctx: Context) -> Verdict:
    if mail.header_only:
        size = f"{mail.size / 1_048_576:.1f} MB"
        return Verdict(Kind.IGNORED, f"{size}: too large for a bounce or complaint; not read")
    return classify(mail.data, ctx)
