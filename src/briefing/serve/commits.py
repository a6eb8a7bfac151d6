"""Group commit: status changes from many request threads, one transaction and one fsync.

With `synchronous=FULL` every commit waits for the disk (about 5 ms here), which
would cap a writer near 200 commits a second. Request threads instead queue
their change and wait; one writer thread takes everything queued, applies each
change in a savepoint of one transaction, commits once, and only then wakes the
requests: each is answered after its change is on disk, and a burst of
unsubscribes shares the fsyncs.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from briefing.audience.store import Store

MAX_BATCH = 256


@dataclass
class _Change:
    address: str
    status: str
    source: str
    detail: str
    done: threading.Event = field(default_factory=threading.Event)
    changed: bool = False
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path, self.clock = path, clock
        self.batches = 0  # transactions committed, for tests and curiosity
        self._queue: queue.SimpleQueue[_Change | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def change(self, address: str, status: str, source: str, detail: str) -> bool:
        """Store.change, durably; returns once committed (False: already in that status)."""
        self._start()
        job = _Change(address, status, source, detail)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.changed

    def close(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                self._queue.put(None)
                self._thread.join(10)
            self._thread = None

    def _start(self) -> None:
        # Started on first use, in the process that uses it (a pre-forking server forks
        # after loading the application, and a thread does not survive a fork).
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if not alive or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            store = Store(self.path, self.clock, durable=True)
        except BaseException as exc:  # answer what waits; the next change starts anew
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    return
                if job is not None:
                    job.error = exc
                    job.done.set()
        try:
            while (job := self._queue.get()) is not None:
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._queue.put(None)  # stop after this batch
                        break
                    batch.append(more)
                self._commit(store, batch)
        finally:
            store.close()

    def _commit(self, store: Store, batch: list[_Change]) -> None:
        try:
            with store.write() as db:
                for job in batch:
                    db.execute("SAVEPOINT change")
                    try:
                        job.changed = store.apply(job.address, job.status, job.source, job.detail)
                        db.execute("RELEASE change")
                    except Exception as exc:  # this change alone is undone
                        db.execute("ROLLBACK TO change")
                        db.execute("RELEASE change")
                        job.error = exc
            self.batches += 1
        except BaseException as exc:  # the commit failed: no change of the batch happened
            for job in batch:
                job.error = job.error or exc
        finally:
            for job in batch:
                job.done.set()
