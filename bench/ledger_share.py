"""The ledger's share of an outbox send, measured in the benchmark's own process.

send_bench.py runs this at its smallest list size: the same outbox send as the
CLI's (briefing's planner and Dispatcher, what SendService.run does after
preparing the issue) with a Ledger subclass that times every ledger call, and
with a ledger that records nothing, alternating which goes first in each round.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from briefing.build import load
from briefing.send.audience import Subscriber, read_subscribers
from briefing.send.dispatch import Dispatcher, Options, Tally
from briefing.send.ledger import Ledger
from briefing.send.message import MessageTemplate
from briefing.send.plan import plan_send
from briefing.send.prepare import make_template, prepare_issue
from briefing.send.states import DeliveryState
from briefing.send.transports import OutboxTransport

SLUG = "trump-xi-call"
SECRET = "bench-unsubscribe-secret-0123456789"


def reset(project: Path) -> None:
    """A fresh ledger and an empty outbox, so every run sends to the whole list."""
    for name in (".briefing", "outbox"):
        shutil.rmtree(project / name, ignore_errors=True)


# Ledger methods that only read or tidy up; every other public method is a ledger write.
_NOT_WRITES = {"close", "counts", "problems"}


def _ledger_methods() -> list[str]:
    """Public Ledger methods, whatever they are today (recover, enqueue, states, mark, …)."""
    return [n for n, v in vars(Ledger).items() if callable(v) and not n.startswith("_")]


class TimedLedger(Ledger):
    """The real ledger, adding up the time of each of its methods (close aside)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seconds: defaultdict[str, float] = defaultdict(float)


def _timed(name: str) -> Callable[..., Any]:
    def method(self: TimedLedger, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(super(TimedLedger, self), name)(*args, **kwargs)
        finally:
            self.seconds[name] += time.perf_counter() - started

    return method


class NullLedger(Ledger):
    """Records nothing: every recipient is new, every write is dropped."""

    def recover(self, issue: str, idempotent: bool) -> int:
        return 0

    def states(self, issue: str, besides: DeliveryState | None = None) -> dict[str, DeliveryState]:
        return {}


def _ignored(*args: Any, **kwargs: Any) -> None:
    return None


for _name in _ledger_methods():
    if _name != "close":
        setattr(TimedLedger, _name, _timed(_name))
    if _name not in _NOT_WRITES and _name not in vars(NullLedger):
        setattr(NullLedger, _name, _ignored)


@dataclass
class LedgerShare:
    n: int
    with_ledger: list[float] = field(default_factory=list)  # plan + dispatch seconds, each round
    without: list[float] = field(default_factory=list)  # the same with a NullLedger
    calls: list[dict[str, float]] = field(default_factory=list)  # Ledger method -> seconds

    @property
    def timed(self) -> float:
        """Share of the send spent inside ledger calls (median over rounds)."""
        shares = [sum(c.values()) / t for c, t in zip(self.calls, self.with_ledger, strict=True)]
        return statistics.median(shares)

    @property
    def added(self) -> float:
        """How much longer the send takes with the ledger than with none."""
        plain = statistics.median(self.without)
        return (statistics.median(self.with_ledger) - plain) / plain


def _send_in_process(
    template: MessageTemplate, audience: Collection[Subscriber], ledger: Ledger, folder: Path
) -> Tally:
    """SendService.run's plan and dispatch, with the ledger given (nobody suppressed)."""
    plan = plan_send(SLUG, audience, (), ledger, idempotent=True, resend_unknown=False)
    make = partial(OutboxTransport, folder)
    return Dispatcher(SLUG, template, ledger, make, Options(connections=1)).run(plan.to_send)


def ledger_share(project: Path, subscribers: Path, n: int, rounds: int) -> LedgerShare:
    """The same outbox send as the CLI's, planned and dispatched, with a TimedLedger and with a
    NullLedger, alternating which goes first in each round."""
    publication = load(project)
    config = publication.config
    prepared = prepare_issue(publication, SLUG, project / "site")
    template = make_template(config, prepared, SECRET.encode())
    audience = read_subscribers(subscribers, project)
    folder = project / "outbox" / SLUG
    found = LedgerShare(n)
    for round_ in range(rounds):
        kinds: list[type[Ledger]] = [TimedLedger, NullLedger]
        for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            reset(project)
            ledger = kind(project / config.send.ledger)
            started = time.perf_counter()
            try:
                tally = _send_in_process(template, audience, ledger, folder)
            finally:
                ledger.close()
            # Ctrl-C inside the dispatcher finishes the message in flight and returns; stop too.
            if tally.interrupted:
                raise KeyboardInterrupt
            if tally.sent != n:
                raise RuntimeError(f"the in-process send delivered {tally.sent} of {n}")
            seconds = time.perf_counter() - started
            if isinstance(ledger, TimedLedger):
                found.with_ledger.append(seconds)
                found.calls.append(dict(ledger.seconds))
            else:
                found.without.append(seconds)
    reset(project)
    return found


def print_ledger(share: LedgerShare) -> None:
    n, total = share.n, statistics.median(share.with_ledger)
    rounds = len(share.with_ledger)
    print(f"\n== the ledger's share of an outbox send to {n} (in process, median of {rounds}) ==")
    print(f"  send with the ledger: {total:.2f} s ({n / total:.0f} messages/s)")
    for name in sorted(share.calls[0], key=lambda k: -share.calls[0][k]):
        seconds = statistics.median(c.get(name, 0.0) for c in share.calls)
        print(f"    Ledger.{name:<9} {seconds:7.3f} s  {seconds / total:6.1%}")
    print(f"    all ledger calls {share.timed:6.1%} of the send")
    plain = statistics.median(share.without)
    print(
        f"  send with a ledger that records nothing: {plain:.2f} s ({n / plain:.0f} messages/s);"
        f" the real ledger adds {share.added:+.1%}"
    )
