"""Run `briefing inbox` and die by SIGKILL part-way, at a chosen moment.

KILL_WHERE=transaction: inside the N-th message's transaction, after its status
change was written but before COMMIT. KILL_WHERE=move: after the N-th acted-on
message was committed, before it is moved.
Usage: KILL_AT=N KILL_WHERE=… python kill_inbox.py --project DIR inbox …
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from datetime import datetime

import briefing.inbox.service as service
from briefing.audience.store import Store
from briefing.cli import main
from briefing.inbox.apply import Policy, applier
from briefing.inbox.classify import Event
from briefing.inbox.sources import MaildirSource
from briefing.inbox.state import Applier

KILL_AT, WHERE = int(os.environ["KILL_AT"]), os.environ["KILL_WHERE"]
calls = 0


def _count() -> None:
    global calls
    calls += 1
    if calls == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def dying_applier(store: Store, policy: Policy) -> Applier:
    real = applier(store, policy)

    def apply(db: sqlite3.Connection, event: Event, at: datetime) -> str:
        outcome = real(db, event, at)
        _count()
        return outcome

    return apply


real_move = MaildirSource.move


def dying_move(self: MaildirSource, ref: str, folder: str) -> None:
    _count()
    real_move(self, ref, folder)


if WHERE == "transaction":
    service.applier = dying_applier
else:
    MaildirSource.move = dying_move  # type: ignore[method-assign]
sys.argv[0] = "briefing"
main()
