"""Where one delivery stands: the states shared by transports, the ledger and the tallies."""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    """queued → sending → sent | deferred | failed | unknown.

    The values are what the ledger stores in SQLite, so ledgers written before
    this enum existed open unchanged.
    """

    QUEUED = "queued"
    SENDING = "sending"  # committed just before the handover; a crash here leaves it
    SENT = "sent"
    DEFERRED = "deferred"  # a temporary (4xx) reply: retried, in this run or the next
    FAILED = "failed"  # a permanent (5xx) reply: never retried
    UNKNOWN = "unknown"  # lost after the handover: the server may have queued it

    @property
    def settled(self) -> bool:
        """A final answer for this recipient: no later run sends to them on its own."""
        return self in (DeliveryState.SENT, DeliveryState.FAILED)
