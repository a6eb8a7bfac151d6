"""The delivery ledger: one SQLite row per issue and recipient, the truth about a send.

States (DeliveryState, stored as their string values, so old ledgers still open):
queued → sending → sent | deferred (4xx, retried on the next run) |
failed (5xx, never retried) | unknown. A row is marked `sending` and committed
just before the message is handed over (for SMTP: after RCPT, before DATA), and
its result is committed as soon as the reply is read. A process killed in
between leaves `sending`; the next run turns that into `unknown` for SMTP (the
server may or may not have accepted it) and back into `queued` for the outbox,
whose writes are idempotent.

WAL mode with synchronous=NORMAL: a commit survives the process being killed
(SIGKILL) without an fsync per message; only a power cut can lose the last few.
"""

from __future__ import annotations

import functools
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from briefing.audience.address import suppression_key
from briefing.config import Config
from briefing.errors import Problem, SendError, relative
from briefing.send.states import DeliveryState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    issue TEXT NOT NULL,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL,
    code INTEGER,
    reply TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL,
    PRIMARY KEY (issue, recipient)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS routes (
    issue TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    recorded TEXT NOT NULL
) WITHOUT ROWID;
"""


# (recipient, state, code, reply): one row of a batch update.
Row = tuple[str, DeliveryState, int | None, str | None]


@dataclass(frozen=True)
class Delivery:
    recipient: str
    state: DeliveryState
    code: int | None
    reply: str | None
    attempts: int
    updated: str


def _now() -> str:
    return _second(math.floor(time.time()))


@functools.lru_cache(maxsize=2)
def _second(seconds: int) -> str:
    """An ISO time to the second, made once per second (a send marks ~2,000 rows a second)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


class Ledger:
    """Thread-safe: one connection, one lock; every state change is its own commit."""

    def __init__(self, path: Path, db: sqlite3.Connection | None = None) -> None:
        """db: an open connection to use instead of the file (see snapshot)."""
        if db is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.path = path
        self._db = db
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            # A checkpoint (WAL pages copied into the file, two fsyncs) runs inside the
            # commit that fills the WAL, between a relay's reply and the next message: at
            # the default 1,000 pages one in every 500 messages stalls, and each writes
            # hundreds of scattered pages. Ten times fewer, for a WAL of at most ~40 MB.
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self, issue: str, idempotent: bool) -> int:
        """Rows a killed run left in `sending`: unknown, or queued again when resending is safe."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE deliveries SET state=?, updated=? WHERE issue=? AND state=?",
                (
                    (DeliveryState.QUEUED if idempotent else DeliveryState.UNKNOWN).value,
                    _now(),
                    issue,
                    DeliveryState.SENDING.value,
                ),
            )
            return cursor.rowcount

    def enqueue(self, issue: str, recipients: Iterable[str]) -> None:
        """Add recipients not yet in the ledger for this issue, in one transaction."""
        now = _now()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (issue, recipient, state, updated)"
                " VALUES (?, ?, ?, ?)",
                ((issue, r, DeliveryState.QUEUED.value, now) for r in recipients),
            )
            self._db.execute("COMMIT")

    def states(self, issue: str, besides: DeliveryState | None = None) -> dict[str, DeliveryState]:
        """Each recipient's state; besides: leave out the rows in that state."""
        with self._lock:
            rows = self._db.execute(
                "SELECT recipient, state FROM deliveries WHERE issue=? AND state IS NOT ?",
                (issue, besides and besides.value),
            )
            return {recipient: DeliveryState(state) for recipient, state in rows.fetchall()}

    def mark(
        self,
        issue: str,
        recipient: str,
        state: DeliveryState,
        code: int | None = None,
        reply: str | None = None,
    ) -> None:
        attempt = 1 if state == DeliveryState.SENDING else 0
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state=?, code=?, reply=?, attempts=attempts+?, updated=?"
                " WHERE issue=? AND recipient=?",
                (state.value, code, reply, attempt, _now(), issue, recipient),
            )

    def mark_many(self, issue: str, rows: list[Row]) -> None:
        """(recipient, state, code, reply) for many rows, in one transaction."""
        now = _now()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE deliveries SET state=?, code=?, reply=?, attempts=attempts+?, updated=?"
                " WHERE issue=? AND recipient=?",
                [
                    (
                        state.value,
                        code,
                        reply,
                        int(state == DeliveryState.SENDING),
                        now,
                        issue,
                        recipient,
                    )
                    for recipient, state, code, reply in rows
                ],
            )
            self._db.execute("COMMIT")

    def forget(self, address: str, alias: str) -> int:
        """Rename every row of address (any spelling: suppression ignores case) to alias,
        and write alias in its servers' replies: a data-deletion request leaves the
        counts of past sends as they were and no trace of the address. Returns the
        number of rows renamed."""
        key = suppression_key(address)
        pattern = re.compile(re.escape(address.strip()), re.IGNORECASE)
        with self._lock:
            db = self._db
            db.create_function("spelling", 1, suppression_key, deterministic=True)
            db.create_function("scrubbed", 1, lambda r: r and pattern.sub(alias, r))
            db.execute("PRAGMA secure_delete=ON")  # the old rows are overwritten, not left
            db.execute("BEGIN IMMEDIATE")
            try:
                # OR REPLACE: two spellings of one person in one issue become one row.
                renamed = db.execute(
                    "UPDATE OR REPLACE deliveries SET recipient=?, reply=scrubbed(reply)"
                    " WHERE spelling(recipient)=?",
                    (alias, key),
                ).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            # The WAL still holds the old pages until a checkpoint copies them back.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return renamed

    def route(self, issue: str) -> str | None:
        """How the issue's first run went (send/route.py), as recorded."""
        with self._lock:
            row = self._db.execute("SELECT route FROM routes WHERE issue=?", (issue,)).fetchone()
            return None if row is None else str(row[0])

    def set_route(self, issue: str, route: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO routes (issue, route, recorded) VALUES (?, ?, ?)",
                (issue, route, _now()),
            )

    def issues(self) -> dict[str, dict[DeliveryState, int]]:
        """Every issue in the ledger with its counts per state."""
        with self._lock:
            rows = self._db.execute(
                "SELECT issue, state, COUNT(*) FROM deliveries GROUP BY issue, state"
            ).fetchall()
        found: dict[str, dict[DeliveryState, int]] = {}
        for issue, state, n in rows:
            found.setdefault(issue, {})[DeliveryState(state)] = n
        return found

    def last_update(self, issue: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(updated) FROM deliveries WHERE issue=?", (issue,)
            ).fetchone()
            return None if row is None else row[0]

    def counts(self, issue: str) -> dict[DeliveryState, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM deliveries WHERE issue=? GROUP BY state", (issue,)
            )
            return {DeliveryState(state): n for state, n in rows.fetchall()}

    def problems(self, issue: str) -> list[Delivery]:
        """Deliveries that did not (or may not have) gone through, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT recipient, state, code, reply, attempts, updated FROM deliveries"
                " WHERE issue=? AND state IN (?, ?, ?) ORDER BY updated, recipient",
                (
                    issue,
                    DeliveryState.FAILED.value,
                    DeliveryState.DEFERRED.value,
                    DeliveryState.UNKNOWN.value,
                ),
            )
            return [
                Delivery(recipient, DeliveryState(state), code, reply, attempts, updated)
                for recipient, state, code, reply, attempts, updated in rows.fetchall()
            ]


def snapshot(path: Path) -> sqlite3.Connection:
    """An in-memory copy of a SQLite file, read without writing a byte beside it: a WAL
    database opened even read-only leaves -wal and -shm files, so it is opened
    immutable unless a -wal file shows another process has it open (then read-only,
    whose files exist already). A missing file gives an empty database."""
    copy = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    if path.is_file():
        wal = path.with_name(path.name + "-wal").exists()
        mode = "mode=ro" if wal else "immutable=1"
        source = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
        try:
            source.backup(copy)
        finally:
            source.close()
    return copy


def open_ledger(config: Config, readonly: bool = False) -> Ledger:
    """The publication's ledger; a ledger that cannot be opened is a user error.
    readonly: a snapshot in memory (dry runs and status change nothing on disk)."""
    path = config.root / config.send.ledger
    try:
        return Ledger(path, snapshot(path) if readonly else None)
    except Exception as exc:  # sqlite3.Error, OSError
        raise SendError(
            Problem(relative(path, config.root), f"cannot open the ledger: {exc}")
        ) from None
