"""The audience store as a send's AudienceSource.

A send goes to the store's active subscribers (pending sign-ups never get an
issue), or to a one-off CSV list (`send --subscribers FILE`); the store's
suppressions apply to both. Right before each message is handed over, the
dispatcher asks `still_wanted`: an unsubscribe committed while a send runs stops
every later message to that address (RFC 8058 asks for prompt effect).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from briefing.audience.access import open_store, store_path
from briefing.audience.address import fields_problem
from briefing.audience.store import ACTIVE, SUPPRESSING, Store
from briefing.audience.transfer import MIGRATED, REASONS
from briefing.config import Config
from briefing.errors import Problem, SendError, relative
from briefing.send.audience import Passes, Subscriber, read_subscribers, read_suppressions
from briefing.send.ledger import snapshot

if TYPE_CHECKING:
    from briefing.send.service import SendRequest

log = logging.getLogger("briefing")


class Suppressed(Collection[str]):
    """Suppression keys of the store: statuses that must not be mailed, and erasures
    (kept as salted hashes, so they are matched, never listed)."""

    def __init__(self, keys: set[str], erased: set[str], hash_of: Callable[[str], str]) -> None:
        self.keys, self.erased, self.hash_of = keys, erased, hash_of

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return key in self.keys or (bool(self.erased) and self.hash_of(key) in self.erased)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys) + len(self.erased)


class StoreAudience:
    def __init__(
        self, config: Config, subscribers_file: Path | None = None, readonly: bool = False
    ) -> None:
        """readonly: read a copy of the store (a dry run changes nothing on disk)."""
        self.config, self.file = config, subscribers_file
        self._copy = tempfile.TemporaryDirectory(prefix="briefing-audience-") if readonly else None
        opened = readonly_config(config, Path(self._copy.name)) if self._copy else config
        self.store = open_store(opened)  # moves the CSV files in on first use
        self._local = threading.local()

    def subscribers(self) -> Collection[Subscriber]:
        if self.file is not None:
            return read_subscribers(self.file, self.config.root)
        self._warn_if_csv_changed()
        label = relative(store_path(self.config), self.config.root)
        # Those who left are listed too, for the plan to count as suppressed.
        rows: list[tuple[str, str, str]] = []
        active = False
        bad: list[Problem] = []
        for email, name, fields, status in self.store.member_rows([ACTIVE, *SUPPRESSING]):
            rows.append((email, name, fields))
            if status == ACTIVE:
                active = True
                # Rows stored before the header-value rule (or by an older briefing):
                # refused here, all at once, rather than halfway through the send.
                if problem := fields_problem(_subscriber(email, name, fields).fields):
                    bad.append(Problem(label, f"{email}: {problem}"))
        if not active:
            raise SendError(
                f"{label} has no active subscribers: add them with `briefing audience import"
                " FILE.csv`, or pass --subscribers FILE for a one-off list"
            )
        if bad:
            raise SendError([*bad, Problem(label, "fix them with `briefing audience import`")])
        return StoreRows(rows)

    def suppressed(self) -> Collection[str]:
        rows = self.store.query(
            f"SELECT lower FROM subscribers WHERE status IN ({','.join('?' * len(SUPPRESSING))})",
            *SUPPRESSING,
        )
        erased = {str(r[0]) for r in self.store.query("SELECT hash FROM erased")}
        # The suppression list file still applies after it moved into the store (an
        # address added to it later must not be mailed), read strictly every send.
        listed = read_suppressions(self.config.root / self.config.send.suppressions, self.root)
        keys = {str(r[0]) for r in rows} | set(listed)
        return Suppressed(keys, erased, self.store.erasure_hash)

    @property
    def root(self) -> Path:
        return self.config.root

    def suppress(self, entries: Iterable[tuple[str, str]]) -> list[str]:
        """Reasons as `briefing suppress` names them: unsubscribed, bounced, complained,
        manual. Returns the addresses that were not suppressed before."""
        added = []
        with self.store.write():
            for address, reason in entries:
                status, source = REASONS.get(reason, REASONS["manual"])
                wanted = self.store.is_wanted(address) and not self.store.is_erased(address)
                self.store.apply(address, status, source, f"briefing send/suppress: {reason}")
                if wanted:
                    added.append(address)
        return added

    def still_wanted(self, subscriber: Subscriber) -> bool:
        """Checked just before each message is handed over, from any worker thread."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(store_path(self.config))
        return store.is_wanted(subscriber.email)

    def _warn_if_csv_changed(self) -> None:
        csv = self.config.root / self.config.send.subscribers
        moved = self.store.meta(MIGRATED)
        if moved and csv.is_file():
            changed = datetime.fromtimestamp(csv.stat().st_mtime, UTC).isoformat(timespec="seconds")
            if changed > moved:
                log.warning(
                    "%s changed after it was moved into the audience store; the store is the"
                    " list now: run `briefing audience import %s` to add its new rows",
                    relative(csv, self.config.root),
                    relative(csv, self.config.root),
                )


def _subscriber(email: str, name: str, fields: str) -> Subscriber:
    return Subscriber(email, name, {**json.loads(fields), "email": email, "name": name})


class StoreRows(Passes):
    """The store's members for a send: three strings each, as stored (a Member and a
    Subscriber, each with a dictionary, took ~1 KB a person), made into Subscribers on
    each pass. Read once, so every pass sees the same people in the same order."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Subscriber]:
        return (_subscriber(*row) for row in self._rows)


def readonly_config(config: Config, folder: Path) -> Config:
    """The configuration with the audience store replaced by a copy in folder: a dry
    run plans from it (and migrates the CSV files into it) and changes nothing on disk."""
    copy = folder / "audience.db"
    source = snapshot(store_path(config))
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return replace(config, audience=replace(config.audience, store=str(copy)))


def store_audience(config: Config, request: SendRequest) -> StoreAudience:
    """SendService's AudienceOpener: the store, or the request's one-off subscribers file."""
    path = request.subscribers
    return StoreAudience(config, path.resolve() if path else None, readonly=request.dry_run)
