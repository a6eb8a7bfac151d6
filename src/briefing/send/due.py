"""Scheduled sends: `briefing send --due` and `briefing schedule`.

An issue with `send_at:` is due once that time has passed, it is published (not a
draft, its date reached) and no earlier run finished it. A due run sends each due
issue through SendService.run, so the gate, the per-issue lock and the delivery
ledger are those of a manual send: every subscriber gets an issue at most once,
however often, from however many places, the run is started.

Safe to run every minute: a second `--due` while one runs finds the due lock held
(flock, dropped by the kernel when its process ends, however it ends) and does
nothing. What a due run started and finished is kept in the ledger's database (table
`due_runs`): a run killed mid-send leaves the issue unfinished, so the next run
resumes it (the ledger skips who already got it). A slot missed (the machine was
off) is sent late by the next run, once, and the run says how late; past max_late
it is not sent by itself (a stale issue), and `schedule` says so.

Nothing here reads the clock: the caller passes `now` (the CLI reads it).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from briefing.config import Config
from briefing.errors import BriefingError
from briefing.locks import exclusive
from briefing.model import Issue, Publication
from briefing.out_folder import pause_point

_TABLE = """CREATE TABLE IF NOT EXISTS due_runs (
    slug TEXT PRIMARY KEY,
    send_at TEXT NOT NULL,   -- the issue's send_at when the run started it
    started TEXT NOT NULL,   -- when a due run first started it (the injected now)
    late INTEGER NOT NULL,   -- seconds after send_at
    finished TEXT,           -- when a due run completed it; NULL: not yet
    holder TEXT,             -- host:pid of the run sending it now (the claim)
    held_until TEXT          -- the claim lapses then, unless renewed (see LEASE)
)"""
# How long a claim holds without a heartbeat: a run on another machine (which
# cannot see this machine's flock) takes over an issue only after its holder has
# been silent this long. The holder renews it as messages go out.
LEASE = timedelta(minutes=10)
BEAT_SECONDS = 30.0

WAITING, UNPUBLISHED, DUE, LATE, MISSED, STARTED, DONE = (
    "waiting",
    "not published yet",
    "due",
    "due (late)",
    "missed",
    "started",
    "done",
)


@dataclass(frozen=True)
class Slot:
    """One scheduled issue as the schedule sees it at now."""

    issue: Issue
    state: str
    late: timedelta  # how late it is (or was when started); zero when not yet due
    started: str = ""
    finished: str = ""

    @property
    def send_at(self) -> datetime:
        assert self.issue.send_at is not None
        return self.issue.send_at

    @property
    def sendable(self) -> bool:
        return self.state in (DUE, LATE, STARTED)


class DueBook:
    """The due_runs table in the ledger's database."""

    def __init__(self, config: Config) -> None:
        path = config.root / config.send.ledger
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(_TABLE)

    def close(self) -> None:
        self.db.close()

    def rows(self) -> dict[str, tuple[str, str, int, str | None]]:
        found = self.db.execute("SELECT slug, send_at, started, late, finished FROM due_runs")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in found}

    def start(self, slot: Slot, now: datetime) -> bool:
        """Record the first start of slot; False when a run had started it already."""
        # A row for another send_at (the editor moved the slot) starts afresh.
        cursor = self.db.execute(
            "INSERT INTO due_runs (slug, send_at, started, late) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (slug) DO UPDATE SET send_at = excluded.send_at,"
            " started = excluded.started, late = excluded.late, finished = NULL"
            " WHERE due_runs.send_at != excluded.send_at",
            (slot.issue.slug, slot.send_at.isoformat(), now.isoformat(), _seconds(slot.late)),
        )
        return cursor.rowcount == 1

    def claim(self, slug: str, holder: str, now: datetime) -> str | None:
        """Take the issue for this run; the other holder's name when it is taken.

        A claim lapses at held_until, or at once when its holder is a process of
        this machine that is gone (killed): the flock would tell the same."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "SELECT holder, held_until FROM due_runs WHERE slug = ?", (slug,)
            ).fetchone()
            other, until = (row or (None, None))[0], (row or (None, None))[1]
            if other and other != holder and until and until > now.isoformat() and alive(other):
                return f"{other} (its claim runs until {until})"
            self.db.execute(
                "UPDATE due_runs SET holder = ?, held_until = ? WHERE slug = ?",
                (holder, (now + LEASE).isoformat(), slug),
            )
            return None
        finally:
            self.db.execute("COMMIT")

    def renew(self, slug: str, holder: str, until: datetime) -> None:
        self.db.execute(
            "UPDATE due_runs SET held_until = ? WHERE slug = ? AND holder = ?",
            (until.isoformat(), slug, holder),
        )

    def release(self, slug: str, holder: str) -> None:
        self.db.execute(
            "UPDATE due_runs SET holder = NULL, held_until = NULL WHERE slug = ? AND holder = ?",
            (slug, holder),
        )

    def forget(self, slug: str) -> None:
        """A start that sent nothing (the issue was not built, the gate refused it)."""
        self.db.execute("DELETE FROM due_runs WHERE slug = ? AND finished IS NULL", (slug,))

    def finish(self, slug: str, now: datetime) -> None:
        self.db.execute("UPDATE due_runs SET finished = ? WHERE slug = ?", (now.isoformat(), slug))


def this_run() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(holder: str) -> bool:
    """Whether a holder may still be running: always, for another machine's."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def slots(
    publication: Publication, book: DueBook, now: datetime, max_late: timedelta
) -> list[Slot]:
    """Every issue with send_at, in send_at order, with its state at now."""
    rows = book.rows()
    found = []
    for issue in sorted((i for i in publication.issues if i.send_at), key=_when):
        assert issue.send_at is not None
        row = rows.get(issue.slug)
        if row and row[0] == issue.send_at.isoformat():
            state = DONE if row[3] else STARTED
            found.append(Slot(issue, state, timedelta(seconds=row[2]), row[1], row[3] or ""))
            continue
        late = now - issue.send_at
        if late < timedelta(0):
            state, late = WAITING, timedelta(0)
        elif issue.draft or issue.date > now:
            state = UNPUBLISHED
        elif late > max_late:
            state = MISSED
        else:
            state = LATE if late > timedelta(minutes=5) else DUE
        found.append(Slot(issue, state, late))
    return found


def _when(issue: Issue) -> datetime:
    assert issue.send_at is not None
    return issue.send_at


@dataclass(frozen=True)
class Outcome:
    slot: Slot
    sent: int = 0
    complete: bool = False
    error: str = ""  # why it could not be sent this time
    resumed: bool = False  # an earlier run had started it
    held_by: str = ""  # another run (another machine) is sending it: left alone


# Sends one issue, calling beat() as messages go: (messages sent, complete).
SendOne = Callable[[Issue, Callable[[], None]], tuple[int, bool]]


@contextmanager
def due_lock(config: Config) -> Iterator[bool]:
    """Hold the due lock (True), or learn another due run holds it (False)."""
    with exclusive((config.root / config.send.ledger).parent / "send-due.lock") as holder:
        yield holder is None


def run_due(
    config: Config,
    publication: Publication,
    now: datetime,
    max_late: timedelta,
    send_one: SendOne,
) -> list[Outcome] | None:
    """Send every due issue once; None when another due run holds the lock."""
    with due_lock(config) as held:
        if not held:
            return None
        pause_point("due-locked")
        with closing(DueBook(config)) as book:
            todo = [s for s in slots(publication, book, now, max_late) if s.sendable]
            return [_send(book, slot, now, send_one) for slot in todo]


def _send(book: DueBook, slot: Slot, now: datetime, send_one: SendOne) -> Outcome:
    slug, me = slot.issue.slug, this_run()
    fresh = book.start(slot, now) if slot.state != STARTED else False
    if other := book.claim(slug, me, now):
        return Outcome(slot, held_by=other)
    started, last = time.monotonic(), [time.monotonic()]

    def beat() -> None:  # renew the claim now and then, on the injected clock's terms
        if time.monotonic() - last[0] >= BEAT_SECONDS:
            last[0] = time.monotonic()
            elapsed = timedelta(seconds=last[0] - started)
            book.renew(slug, me, now + elapsed + LEASE)

    try:
        sent, complete = send_one(slot.issue, beat)
    except BriefingError as exc:
        if fresh:
            book.forget(slug)  # nothing went out: still due, not yet late-started
        else:
            book.release(slug, me)
        return Outcome(slot, error=exc.message.splitlines()[0], resumed=not fresh)
    if complete:
        book.finish(slug, now)
    book.release(slug, me)
    return Outcome(slot, sent, complete, resumed=not fresh)


def parse_duration(text: str) -> timedelta:
    """'90m', '6h', '2d' (or a bare number of hours) as a timedelta; ValueError else."""
    units = {"m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    unit = value[-1] if value[-1:] in units else "h"
    number = value[:-1] if value[-1:] in units else value
    if not number.isdigit():
        raise ValueError(f"'{text}' is not a duration like 30m, 6h or 2d")
    return timedelta(seconds=int(number) * units[unit])


def ledger_path(config: Config) -> Path:
    return config.root / config.send.ledger
