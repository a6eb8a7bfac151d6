"""Run `briefing` with the outbox transport dying by SIGKILL in the middle of a write.

The KILL_AT_WRITE-th message (1-based) gets as far as half a temporary file, as a
crash inside `atomic_write` would leave it, and then the process kills itself.
Usage: python kill_mid_write.py --project DIR send SLUG ...
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import briefing.send.transports as transports
from briefing.cli import main

KILL_AT = int(os.environ["KILL_AT_WRITE"])
real_write = transports.atomic_write
calls = 0


def dying_write(target: Path, data: bytes, durable: bool = False, **kw: bool) -> None:
    global calls
    calls += 1
    if calls == KILL_AT:
        fd, _ = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.write(fd, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    real_write(target, data, durable, **kw)


transports.atomic_write = dying_write  # type: ignore[assignment]
sys.argv[0] = "briefing"
main()
