"""Who gets the issue now: the audience, less suppressions, less what the ledger settled."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from briefing.send.audience import Subscriber
from briefing.send.ledger import Ledger
from briefing.send.states import DeliveryState


@dataclass(frozen=True)
class Plan:
    to_send: list[Subscriber]
    already_sent: int
    suppressed: int
    failed_before: int
    unknown: int  # left alone: resent only with --resend-unknown
    recovered: int  # rows a killed run left in flight


def wanted(state: DeliveryState | None, resend_unknown: bool) -> bool:
    """Whether a recipient in this ledger state gets the message in this run.

    Sent and failed are final. Unknown means the server may have the message (the
    connection dropped after DATA, or the process died mid-handover): sending again
    risks a duplicate, so only the editor can ask for it (--resend-unknown).
    Everything else (new, queued, deferred) is sent.
    """
    if state is None:
        return True
    if state == DeliveryState.UNKNOWN:
        return resend_unknown
    return not state.settled


def plan_send(
    slug: str,
    subscribers: list[Subscriber],
    suppressed: Collection[str],
    ledger: Ledger,
    idempotent: bool,
    resend_unknown: bool,
    dry_run: bool = False,
) -> Plan:
    """Unless dry_run, brings the ledger up to date first: in-flight rows of a killed
    run are settled (queued again when resending is harmless, else unknown) and new
    subscribers are queued. `suppressed` holds suppression keys."""
    # One message per person: spellings that differ only in case (Ada@x, ada@x) are one
    # recipient, the first as written (RFC 5321 2.4 lets a local part be case-sensitive,
    # but no real mailbox is, and suppression already ignores case).
    once: dict[str, Subscriber] = {}
    for s in subscribers:
        once.setdefault(s.suppression_key, s)
    audience = [s for key, s in once.items() if key not in suppressed]
    # Queued rows are left out: a queued recipient is planned as one the ledger lacks
    # (a fresh send of 100,000 would otherwise hold 100,000 ledger rows here).
    if dry_run:
        states = ledger.states(slug, besides=DeliveryState.QUEUED)
        recovered = sum(state == DeliveryState.SENDING for state in states.values())
        settled = DeliveryState.QUEUED if idempotent else DeliveryState.UNKNOWN
        states = {k: settled if v == DeliveryState.SENDING else v for k, v in states.items()}
    else:
        recovered = ledger.recover(slug, idempotent)
        ledger.enqueue(slug, (s.key for s in audience))
        states = ledger.states(slug, besides=DeliveryState.QUEUED)
    counted = [states.get(s.key) for s in audience]
    return Plan(
        to_send=[s for s in audience if wanted(states.get(s.key), resend_unknown)],
        already_sent=counted.count(DeliveryState.SENT),
        suppressed=len(once) - len(audience),
        failed_before=counted.count(DeliveryState.FAILED),
        unknown=0 if resend_unknown else counted.count(DeliveryState.UNKNOWN),
        recovered=recovered,
    )
