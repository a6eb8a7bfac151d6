"""Exclusive locks between processes: flock(2) on a lock file that names its holder.

The kernel drops a flock when its process ends, however it ends, so a crashed run
never leaves a lock stuck; the file records who holds it, for the message a second
run prints. The file stays after release: removing it would race with a new holder.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from briefing.headers import CONTROL


@contextmanager
def exclusive(path: Path) -> Iterator[str | None]:
    """Hold the lock at path and yield None, or yield who holds it (e.g. "process 42
    since 2026-11-30 03:00:00 UTC") without taking it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            yield CONTROL.sub("", raw) or "another process"
            return
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} since {since}\n".encode(), 0)
        yield None
    finally:
        os.close(fd)
