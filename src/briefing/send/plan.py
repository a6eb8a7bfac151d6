"""Who gets the issue now: the audience, less suppressions, less what the ledger settled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from briefing.send.audience import Passes, Subscriber
from briefing.send.ledger import Ledger
from briefing.send.states import DeliveryState


class Recipients(Passes):
    """The subscribers the plan picked, in audience order, found again on each pass.

    Nothing per recipient is held: the audience is gone through once more, skipping
    the positions the plan left out (later spellings of one person, suppressed
    addresses) and those the ledger settled. The audience must give the same
    subscribers in the same order on every pass, as a list or SubscriberRows does."""

    def __init__(
        self,
        audience: Collection[Subscriber],
        skipped: frozenset[int],
        states: dict[str, DeliveryState],
        resend_unknown: bool,
        count: int,
    ) -> None:
        self._audience, self._skipped, self._states = audience, skipped, states
        self._resend_unknown, self._count = resend_unknown, count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Subscriber]:
        skipped, states, resend = self._skipped, self._states, self._resend_unknown
        for position, subscriber in enumerate(self._audience):
            if position not in skipped and wanted(states.get(subscriber.key), resend):
                yield subscriber


@dataclass(frozen=True)
class Plan:
    to_send: Recipients
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
    subscribers: Collection[Subscriber],
    suppressed: Collection[str],
    ledger: Ledger,
    idempotent: bool,
    resend_unknown: bool,
    dry_run: bool = False,
) -> Plan:
    """Unless dry_run, brings the ledger up to date first: in-flight rows of a killed
    run are settled (queued again when resending is harmless, else unknown) and new
    subscribers are queued. `suppressed` holds suppression keys. The subscribers are
    gone through once here and once more by whoever iterates Plan.to_send."""
    # Queued rows are left out: a queued recipient is planned as one the ledger lacks
    # (a fresh send of 100,000 would otherwise hold 100,000 ledger rows here). They are
    # read before new rows are queued: queuing adds only queued rows, so it changes none.
    if dry_run:
        states = ledger.states(slug, besides=DeliveryState.QUEUED)
        recovered = sum(state == DeliveryState.SENDING for state in states.values())
        settled = DeliveryState.QUEUED if idempotent else DeliveryState.UNKNOWN
        states = {k: settled if v == DeliveryState.SENDING else v for k, v in states.items()}
    else:
        recovered = ledger.recover(slug, idempotent)
        states = ledger.states(slug, besides=DeliveryState.QUEUED)
    counted: Counter[DeliveryState | None] = Counter()
    skipped: set[int] = set()
    people = 0

    def audience() -> Iterator[str]:
        """The ledger keys of the audience, once per person and less suppressions,
        counting as it goes (one pass, whatever the list's length)."""
        nonlocal people
        seen: set[str] = set()
        for position, subscriber in enumerate(subscribers):
            # One message per person: spellings that differ only in case (Ada@x, ada@x)
            # are one recipient, the first as written (RFC 5321 2.4 lets a local part be
            # case-sensitive, but no real mailbox is, and suppression ignores case).
            key = subscriber.suppression_key
            if key in seen:
                skipped.add(position)
                continue
            seen.add(key)
            people += 1
            if key in suppressed:
                skipped.add(position)
                continue
            counted[states.get(subscriber.key)] += 1
            yield subscriber.key

    if dry_run:
        for _ in audience():
            pass
    else:
        ledger.enqueue(slug, audience())
    to_send = sum(n for state, n in counted.items() if wanted(state, resend_unknown))
    return Plan(
        to_send=Recipients(subscribers, frozenset(skipped), states, resend_unknown, to_send),
        already_sent=counted[DeliveryState.SENT],
        suppressed=people - sum(counted.values()),
        failed_before=counted[DeliveryState.FAILED],
        unknown=0 if resend_unknown else counted[DeliveryState.UNKNOWN],
        recovered=recovered,
    )
