"""The audience store: every subscriber, their status and how they reached it, in SQLite.

One row per person (keyed the way the send compares addresses: the domain
without case), an append-only event history, and hashes of addresses erased on
request. WAL mode lets readers (a send) run beside a writer (the service); every
write is one `BEGIN IMMEDIATE` transaction, so two processes changing the same
person queue on the lock (busy timeout) instead of losing an update.
Commits are `synchronous=NORMAL` by default, as in the ledger: in the WAL before
the caller hears of them, so they survive the process being killed; a power
cut could lose the last few. The service opens its stores `durable`
(`synchronous=FULL`, an fsync per commit, about 5 ms here) and commits
one-click unsubscribes in groups (briefing.serve.commits), so what a person was
told is on disk.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from briefing.audience.address import normalize, suppression_key
from briefing.audience.records import ACTIVE as ACTIVE
from briefing.audience.records import BOUNCED as BOUNCED
from briefing.audience.records import COMPLAINED as COMPLAINED
from briefing.audience.records import PENDING as PENDING
from briefing.audience.records import STATUSES as STATUSES
from briefing.audience.records import UNSUBSCRIBED as UNSUBSCRIBED
from briefing.audience.records import Consent as Consent
from briefing.audience.records import Event as Event
from briefing.audience.records import Member as Member
from briefing.audience.records import member_from_row

# Statuses that must never be mailed, whichever list an address comes from.
SUPPRESSING = (UNSUBSCRIBED, BOUNCED, COMPLAINED)
# How a status was reached.
SOURCES = (
    "form",  # the sign-up form (pending)
    "confirm",  # the emailed confirmation link (active)
    "import",
    "one-click",  # RFC 8058 POST from a mail client
    "page",  # the unsubscribe page's button
    "resubscribe",
    "mailto",
    "bounce",
    "complaint",
    "suppress",  # `briefing suppress`
)
ERASED = "erased"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    key TEXT PRIMARY KEY,            -- normalize(email)
    lower TEXT NOT NULL,             -- suppression_key(email)
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    status_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    consent_at TEXT,
    consent_source TEXT,
    consent_detail TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscribers_lower ON subscribers (lower);
CREATE INDEX IF NOT EXISTS subscribers_pending ON subscribers (status_at) WHERE status='pending';
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_key ON events (key);
CREATE TABLE IF NOT EXISTS erased (
    hash TEXT PRIMARY KEY,
    at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
_COLUMNS = (
    "email, name, fields, status, source, status_at, created_at,"
    " consent_at, consent_source, consent_detail"
)


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _writer_lock(path: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(path.resolve(), threading.Lock())


def utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """One connection, for one thread; open one Store per thread or process."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], datetime] = utc_now,
        timeout: float = 10.0,
        durable: bool = False,
    ) -> None:
        """durable: fsync every commit (synchronous=FULL), for changes a person was told
        about (the service); NORMAL otherwise (see the module's note)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.clock = path, clock
        # One thread at a time (see the class); any thread may close it when done.
        self._db = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA secure_delete=ON")  # erased data is overwritten, not left
        # One script, one transaction: two processes opening a new store at once are fine.
        self._db.executescript(
            f"BEGIN IMMEDIATE; {_SCHEMA}"
            f" INSERT OR IGNORE INTO meta VALUES ('salt', '{secrets.token_hex(16)}'); COMMIT;"
        )
        self._salt = self._meta("salt") or ""

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start (no lost updates).

        Threads of one process queue on a lock first: SQLite's own busy handler
        sleeps in growing steps, which under contention turns into a long tail."""
        with _writer_lock(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="microseconds")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        return self._meta(key)

    # Reading

    def get(self, address: str) -> Member | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM subscribers WHERE key=?", (normalize(address),)
        ).fetchone()
        return member_from_row(row) if row else None

    def members(self, statuses: Iterable[str] = ()) -> list[Member]:
        """Everyone with one of statuses (everyone when empty), oldest first."""
        wanted = list(statuses)
        where = f" WHERE status IN ({','.join('?' * len(wanted))})" if wanted else ""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM subscribers{where} ORDER BY created_at, key", wanted
        )
        return [member_from_row(row) for row in rows]

    def member_rows(self, statuses: Iterable[str]) -> Iterator[tuple[str, str, str, str]]:
        """(email, name, fields as stored: JSON, status) of everyone with one of statuses,
        oldest first as members() orders them, read as they come: a send keeps these few
        strings per person, not a Member and its dictionary."""
        wanted = list(statuses)
        rows = self._db.execute(
            "SELECT email, name, fields, status FROM subscribers"
            f" WHERE status IN ({','.join('?' * len(wanted))}) ORDER BY created_at, key",
            wanted,
        )
        for email, name, fields, status in rows:
            yield str(email), str(name), str(fields), str(status)

    def history(self, address: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT at, status, source, detail FROM events WHERE key=? ORDER BY id",
            (normalize(address),),
        )
        return [Event(*row) for row in rows]

    def erasure_hash(self, address: str) -> str:
        """The salted hash an erased address is kept as (matched, never listed)."""
        return hashlib.sha256(f"{self._salt}\0{suppression_key(address)}".encode()).hexdigest()

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        """Which of addresses must not be mailed (status or erasure), as suppression keys."""
        keys = {suppression_key(a) for a in addresses}
        rows = self._db.execute(
            "SELECT lower FROM subscribers WHERE status IN (?, ?, ?)", SUPPRESSING
        )
        out = {row[0] for row in rows} & keys
        erased = {row[0] for row in self._db.execute("SELECT hash FROM erased")}
        return out | {k for k in keys if self.erasure_hash(k) in erased}

    def is_wanted(self, address: str) -> bool:
        """Whether address may be mailed right now: checked just before each delivery."""
        row = self._db.execute(
            "SELECT 1 FROM subscribers WHERE lower=? AND status IN (?, ?, ?) LIMIT 1",
            (suppression_key(address), *SUPPRESSING),
        ).fetchone()
        return row is None

    def field_names(self) -> set[str]:
        """Every merge field someone in the store has."""
        rows = self._db.execute(
            "SELECT DISTINCT j.key FROM subscribers, json_each(subscribers.fields) AS j"
        )
        return {str(row[0]) for row in rows}

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status")
        return {status: n for status, n in rows}

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Read-only aggregate queries for reports (see audience.report)."""
        return list(self._db.execute(sql, args))

    # Writing: each public method is one transaction.

    def change(
        self,
        address: str,
        status: str,
        source: str,
        detail: str = "",
        consent: Consent | None = None,
    ) -> bool:
        """Put address in status (creating the row if needed); False when it already was."""
        with self.write():
            return self.apply(address, status, source, detail, consent)

    def apply(
        self,
        address: str,
        status: str,
        source: str,
        detail: str = "",
        consent: Consent | None = None,
        name: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> bool:
        """`change` inside a caller's `write()` transaction, optionally setting name and fields
        of a new row."""
        if status not in STATUSES or source not in SOURCES:
            raise ValueError(f"unknown status {status!r} or source {source!r}")
        now, key = self._now(), normalize(address)
        current = self._db.execute(
            "SELECT status, key FROM subscribers WHERE key=? OR (? AND lower=?)"
            " ORDER BY key=? DESC LIMIT 1",
            # Leaving matches any spelling (suppression ignores case); joining, the exact one.
            (key, status in SUPPRESSING, suppression_key(address), key),
        ).fetchone()
        key = current[1] if current else key
        if current is None:
            self._db.execute(
                "INSERT INTO subscribers (key, lower, email, name, fields, status, source,"
                " status_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, suppression_key(address), address.strip(), name or "",
                 json.dumps(fields or {}), status, source, now, now),
            )  # fmt: skip
        elif current[0] == status:
            return False
        else:
            self._db.execute(
                "UPDATE subscribers SET status=?, source=?, status_at=? WHERE key=?",
                (status, source, now, key),
            )
        if consent is not None:
            self._db.execute(
                "UPDATE subscribers SET consent_at=?, consent_source=?, consent_detail=?"
                " WHERE key=?",
                (now, consent.source, consent.detail, key),
            )
        if status == ACTIVE:  # a new, recorded consent lifts an erasure
            self._db.execute("DELETE FROM erased WHERE hash=?", (self.erasure_hash(address),))
        self._event(key, now, status, source, detail)
        return True

    def _event(self, key: str, at: str, status: str, source: str, detail: str) -> None:
        self._db.execute(
            "INSERT INTO events (key, at, status, source, detail) VALUES (?, ?, ?, ?, ?)",
            (key, at, status, source, detail),
        )

    def set_details(self, address: str, name: str, fields: dict[str, str]) -> None:
        """Name and merge fields of an existing row, inside a caller's `write()`."""
        self._db.execute(
            "UPDATE subscribers SET name=?, fields=? WHERE key=?",
            (name, json.dumps(fields), normalize(address)),
        )

    def sign_up(self, address: str, name: str, fields: dict[str, str], detail: str) -> bool:
        """Record a sign-up; True when a confirmation should be sent.

        Someone already active, bounced or complained is left alone (and gets no
        mail: a stranger cannot use the form to mail them); someone who left stays
        unsubscribed until they confirm again.
        """
        with self.write():
            member = self.get(address)
            if member is None:
                self.apply(address, PENDING, "form", detail, name=name, fields=fields)
            elif member.status == PENDING:
                # Asked again: the new link's window counts (expire_pending), and the
                # consent record names this request.
                now = self._now()
                self._db.execute(
                    "UPDATE subscribers SET status_at=? WHERE key=?", (now, member.key)
                )
                self._event(member.key, now, PENDING, "form", detail)
            else:
                return member.status == UNSUBSCRIBED
            self.set_details(address, name, fields)
            return True

    def expire_pending(self, asked_before: datetime) -> int:
        """Delete sign-ups pending since before asked_before, with their history: their
        link has expired and nobody consented, so the address is not kept. They can sign
        up again (unlike an erased address)."""
        cutoff = asked_before.astimezone(UTC).isoformat(timespec="microseconds")
        # status='pending' as a literal: the partial index subscribers_pending applies.
        find = "SELECT key FROM subscribers WHERE status='pending' AND status_at<?"
        if not self._db.execute(find, (cutoff,)).fetchone():
            return 0  # the usual case: no write lock taken
        with self.write() as db:
            keys = [(row[0],) for row in db.execute(find, (cutoff,))]
            db.executemany("DELETE FROM events WHERE key=?", keys)
            db.executemany("DELETE FROM subscribers WHERE key=?", keys)
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as erase(): no old pages left
        return len(keys)

    def confirm(self, address: str, issued_at: str, detail: str) -> bool:
        """Make a pending sign-up active; False when this confirmation no longer applies
        (erased, bounced, or unsubscribed after the link was sent)."""
        with self.write():
            member = self.get(address)
            if member is None:
                return False
            if member.status == ACTIVE:
                return True  # a repeated click is harmless
            if member.status == PENDING or (
                member.status == UNSUBSCRIBED and member.status_at < issued_at
            ):
                asked = self._db.execute(
                    "SELECT at, detail FROM events WHERE key=? AND source='form'"
                    " ORDER BY id DESC LIMIT 1",
                    (member.key,),
                ).fetchone()
                # The consent record: the request and its confirmation, each with its time.
                record = f"{asked[1]} at {asked[0][:19]}Z; {detail}" if asked else detail
                return self.apply(address, ACTIVE, "confirm", detail, Consent("form", record))
            return False

    def erase(self, address: str) -> bool:
        """Delete everything about address (any spelling); keep a salted hash so no import
        brings it back. The salt lives in the store: the hash is for matching, not secrecy."""
        lower = suppression_key(address)
        with self.write() as db:
            keys = [r[0] for r in db.execute("SELECT key FROM subscribers WHERE lower=?", (lower,))]
            db.executemany("DELETE FROM events WHERE key=?", ((k,) for k in keys))
            found = db.execute("DELETE FROM subscribers WHERE lower=?", (lower,)).rowcount
            db.execute(
                "INSERT OR REPLACE INTO erased VALUES (?, ?)",
                (self.erasure_hash(address), self._now()),
            )
        # The WAL still holds the old pages until a checkpoint copies them back.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return found > 0

    def is_erased(self, address: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM erased WHERE hash=?", (self.erasure_hash(address),)
        ).fetchone()
        return row is not None
