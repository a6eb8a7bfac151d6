"""Turn events into statuses in the audience store: bounced at once on a hard bounce,
or after enough soft bounces in the window; complained; unsubscribed.

Runs inside the transaction that records the message (see state). Only an
active or pending subscriber changes status: someone who already left keeps
the status (and history) they have. An address the store does not know is
added, suppressed, only when a signed token proves we mailed it (a one-off
`--subscribers` list); an unsigned one (a forged or stray report) changes nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from briefing.audience.store import ACTIVE, PENDING, Store
from briefing.inbox.classify import Event, Kind
from briefing.inbox.state import Applier, soft_bounces


@dataclass(frozen=True)
class Policy:
    soft_limit: int = 3  # soft bounces …
    soft_days: int = 30  # … within this many days make an address bounced


_STATUS = {
    Kind.BOUNCED: ("bounced", "bounce"),
    Kind.SOFT_BOUNCED: ("bounced", "bounce"),
    Kind.COMPLAINED: ("complained", "complaint"),
    Kind.UNSUBSCRIBED: ("unsubscribed", "mailto"),
}


def applier(store: Store, policy: Policy) -> Applier:
    def apply(db: sqlite3.Connection, event: Event, at: datetime) -> str:
        status, source = _STATUS[event.kind]
        detail = f"{event.code} {event.detail}".strip()[:300]
        reached = status
        if event.kind is Kind.SOFT_BOUNCED:
            count = soft_bounces(db, event.address, at, policy.soft_days)
            if count < policy.soft_limit:
                return f"soft bounce {count} of {policy.soft_limit} in {policy.soft_days} days"
            detail = f"{count} soft bounces in {policy.soft_days} days, last {event.code}"
            reached = f"bounced after {count} soft bounces"
        current = _status(store, event.address)
        if current is None and not event.signed:
            return f"{status}: not on the list, no change"
        if current is not None and current not in (ACTIVE, PENDING):
            return f"{status}: no change (already {current})"
        if event.issue:
            detail = f"{detail} (issue {event.issue})"
        store.apply(event.address, status, source, detail)
        return reached

    return apply


def _status(store: Store, address: str) -> str | None:
    """The subscriber's status; a report may spell the address in another case, and
    leaving matches any spelling (as the store's suppression does)."""
    if member := store.get(address):
        return member.status
    rows = store.query("SELECT status FROM subscribers WHERE lower=? LIMIT 1", address.lower())
    return str(rows[0][0]) if rows else None
