"""What the inbox has processed, kept in the audience store's own database.

Each message is one transaction: its record, its events, the status changes
they cause and their soft-bounce counts commit together or not at all (SQLite,
`BEGIN IMMEDIATE` on the store). A process killed at any moment therefore
loses nothing and applies nothing twice: the next run finds the message either
recorded with all its effects, or not at all and reads it again. Only moving
the message happens after the commit; a run that finds a recorded message
still in place just moves it.

The key is a digest of the Message-ID and the message's content, header fields
that servers and stores add on the way (Received, Status…) left out, so the same
message is recognised in another folder or a copy of the mailbox.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from briefing.audience.store import Store
from briefing.inbox.classify import Event, Kind, Verdict

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS inbox_messages (
        key TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        note TEXT NOT NULL,
        seen TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS inbox_events (
        key TEXT NOT NULL,
        address TEXT NOT NULL,
        who TEXT NOT NULL,
        issue TEXT,
        kind TEXT NOT NULL,
        code TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (key, address)
    ) WITHOUT ROWID""",
    # Where a processed message sits (IMAP UIDVALIDITY/UID, Maildir name), so a rerun
    # need not download it again to know it.
    """CREATE TABLE IF NOT EXISTS inbox_places (
        source TEXT NOT NULL,
        stable TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (source, stable)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS inbox_events_who ON inbox_events (who, kind, at)",
    "CREATE INDEX IF NOT EXISTS inbox_events_issue ON inbox_events (issue, kind)",
)

# Added or rewritten by the servers and stores a message passes through.
_TRACE = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|status|x-status|x-keywords|x-uid"
    rb"|content-length|lines|x-imapbase|x-mozilla-status2?)\s*:",
    re.IGNORECASE,
)


def message_key(data: bytes) -> tuple[str, str]:
    """(key, Message-ID) of a message's bytes."""
    normal = data.replace(b"\r\n", b"\n")
    head, _, body = normal.partition(b"\n\n")
    lines: list[bytes] = []
    keep = True
    for line in head.split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            keep = not _TRACE.match(line)
        if keep:
            lines.append(line)
    match = re.search(rb"^message-id:\s*(<[^>\s]*>)", head, re.IGNORECASE | re.MULTILINE)
    message_id = match.group(1).decode("ascii", "replace") if match else ""
    digest = hashlib.sha256(b"\n".join(lines) + b"\n\n" + body).hexdigest()
    return hashlib.sha256(f"{message_id}\0{digest}".encode()).hexdigest()[:40], message_id


@dataclass(frozen=True)
class Seen:
    kind: Kind
    note: str


# Applies one event inside the transaction; returns the outcome in words.
Applier = Callable[[sqlite3.Connection, Event, datetime], str]


class InboxState:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.write() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def key_at(self, source: str, stable: str) -> str | None:
        rows = self.store.query(
            "SELECT key FROM inbox_places WHERE source=? AND stable=?", source, stable
        )
        return str(rows[0][0]) if rows else None

    def remember_place(self, source: str, stable: str, key: str) -> None:
        with self.store.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO inbox_places VALUES (?, ?, ?)", (source, stable, key)
            )

    def find(self, key: str) -> Seen | None:
        rows = self.store.query("SELECT kind, note FROM inbox_messages WHERE key=?", key)
        return Seen(Kind(str(rows[0][0])), str(rows[0][1])) if rows else None

    def commit(
        self,
        key: str,
        message_id: str,
        verdict: Verdict,
        at: datetime,
        seen: datetime,
        apply: Applier,
        place: tuple[str, str] | None = None,
    ) -> list[tuple[Event, str]] | None:
        """Record the message (and where it sits) and apply its events in one
        transaction; None when another run recorded it first."""
        with self.store.write() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO inbox_messages VALUES (?, ?, ?, ?, ?)",
                (key, message_id, verdict.kind.value, verdict.note, seen.isoformat()),
            ).rowcount
            if place:
                db.execute("INSERT OR REPLACE INTO inbox_places VALUES (?, ?, ?)", (*place, key))
            if not inserted:
                return None
            done = []
            for event in verdict.events:
                # Recorded before it is applied, so a soft bounce counts itself.
                db.execute(
                    "INSERT OR IGNORE INTO inbox_events VALUES (?, ?, ?, ?, ?, ?, ?, '')",
                    (key, event.address, event.address.lower(), event.issue,
                     event.kind.value, event.code, _stamp(at)),
                )  # fmt: skip
                outcome = apply(db, event, at)
                db.execute(
                    "UPDATE inbox_events SET outcome=? WHERE key=? AND address=?",
                    (outcome, key, event.address),
                )
                done.append((event, outcome))
            return done


def _stamp(when: datetime) -> str:
    """UTC to the second: stamps compare as text in SQL."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def soft_bounces(db: sqlite3.Connection, address: str, until: datetime, days: int) -> int:
    """Soft bounces of address in the window ending at until; one issue counts once
    (an MTA may report the same message more than once)."""
    since = until - timedelta(days=days)
    row = db.execute(
        "SELECT COUNT(DISTINCT COALESCE(issue, key)) FROM inbox_events"
        " WHERE who=? AND kind=? AND at>? AND at<=?",
        (address.lower(), Kind.SOFT_BOUNCED.value, _stamp(since), _stamp(until)),
    ).fetchone()
    return int(row[0])


def issue_counts(store: Store, issue: str) -> dict[str, int]:
    """Per event kind, how many distinct addresses an issue's mail came back for."""
    try:
        rows = store.query(
            "SELECT kind, COUNT(DISTINCT who) FROM inbox_events WHERE issue=? GROUP BY kind",
            issue,
        )
    except sqlite3.OperationalError:  # the inbox never ran: no table yet
        return {}
    return {str(kind): int(str(count)) for kind, count in rows}
