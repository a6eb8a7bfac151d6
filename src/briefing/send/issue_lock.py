"""One send per issue at a time: an exclusive flock(2) on a lock file beside the ledger.

Two runs of one issue would each plan from the same ledger and both deliver (and the
second would relabel the first one's in-flight message as unknown). The kernel drops
a flock when its process ends, however it ends, so a crashed send never leaves the
issue stuck; the file records who holds it, for the second run's message.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from briefing.errors import SendError
from briefing.headers import is_control


def lock_path(ledger: Path, slug: str) -> Path:
    """A file name for any slug: safe characters kept, the rest replaced, plus a hash
    so two slugs never share a lock."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", slug)[:80]
    digest = hashlib.sha256(slug.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return ledger.parent / f"send-{safe}-{digest}.lock"


@contextmanager
def issue_lock(ledger: Path, slug: str) -> Iterator[None]:
    """Hold the send lock of one issue, or raise SendError naming the holder."""
    path = lock_path(ledger, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            holder = "".join(c for c in raw if not is_control(c)) or "another process"
            raise SendError(
                f"issue {slug} is being sent by {holder}; wait for it to finish"
                " (a stopped send releases the lock by itself), then run the same command"
            ) from None
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} since {since}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race)
