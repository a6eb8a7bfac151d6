"""One send per issue at a time: an exclusive lock (briefing.locks) beside the ledger.

Two runs of one issue would each plan from the same ledger and both deliver (and the
second would relabel the first one's in-flight message as unknown).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from briefing.errors import SendError
from briefing.locks import exclusive


def lock_path(ledger: Path, slug: str) -> Path:
    """A file name for any slug: safe characters kept, the rest replaced, plus a hash
    so two slugs never share a lock."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", slug)[:80]
    digest = hashlib.sha256(slug.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return ledger.parent / f"send-{safe}-{digest}.lock"


@contextmanager
def issue_lock(ledger: Path, slug: str) -> Iterator[None]:
    """Hold the send lock of one issue, or raise SendError naming the holder."""
    with exclusive(lock_path(ledger, slug)) as holder:
        if holder:
            raise SendError(
                f"issue {slug} is being sent by {holder}; wait for it to finish"
                " (a stopped send releases the lock by itself), then run the same command"
            )
        yield
