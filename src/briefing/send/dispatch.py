"""Delivering one prepared issue to many recipients: workers, rate, retries, the ledger.

Each of `connections` worker threads owns one transport session and takes
recipients from a shared queue. Every delivery is bracketed by ledger commits
(see ledger.py), so a run stopped at any moment can be resumed by running it
again. Ctrl-C sets `stop`: workers finish the message in flight and return.

The policy a reader may want to change sits in a few small methods of
Dispatcher: `retryable` (which results are tried again within the run),
`backoff_delay` (how long before the next try) and `pace` (a throttling reply
slows the whole send down, successes ease it back). A circuit breaker stops the
send when most recent recipients were refused permanently with the same reply: a
relay that refuses everyone (a broken account, a blocked IP) must not make a
whole list look bounced, so that run suppresses nobody.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random as _random
import re
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import partial

from briefing.errors import SendError
from briefing.headers import CONTROL
from briefing.send.audience import Subscriber
from briefing.send.ledger import Ledger, Row
from briefing.send.message import MessageTemplate
from briefing.send.pacing import Backoff, Clock, Random, RateLimiter, Sleep
from briefing.send.states import DeliveryState
from briefing.send.transports import (
    END_OF_DATA,
    OutboxTransport,
    Result,
    SmtpTransport,
    Transport,
)

log = logging.getLogger("briefing")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Options:
    rate: float = 0.0  # messages per second across all connections; 0 = no limit
    connections: int = 1
    max_attempts: int = 5  # tries per message within one run on temporary (4xx) replies
    backoff: Backoff = field(default_factory=Backoff)  # the delay between those tries
    # The breaker trips when, of the last `breaker_window` results, at least
    # `breaker_share` are permanent refusals with one reply (0: no breaker).
    breaker_window: int = 20
    breaker_share: float = 0.8


@dataclass
class Tally:
    """What one run did, counted by the state each delivery ended in."""

    counts: Counter[DeliveryState] = field(default_factory=Counter)
    bounced: list[str] = field(default_factory=list)
    interrupted: bool = False
    withheld: int = 0  # left out at the last moment: unsubscribed while the send ran

    @property
    def sent(self) -> int:
        return self.counts[DeliveryState.SENT]

    @property
    def failed(self) -> int:
        return self.counts[DeliveryState.FAILED]

    @property
    def deferred(self) -> int:
        return self.counts[DeliveryState.DEFERRED]

    @property
    def unknown(self) -> int:
        return self.counts[DeliveryState.UNKNOWN]


def refusal(result: Result) -> str | None:
    """What makes two permanent refusals "the same reply": the code and the RFC 3463
    status (550 5.1.1), or the code and the text without addresses; None otherwise."""
    if result.state != DeliveryState.FAILED:
        return None
    status = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", result.reply)
    text = status.group(1) if status else re.sub(r"\S*@\S*", "", result.reply).strip()[:80]
    return f"{result.code} {text}"


class CircuitBreaker:
    """Watches the results in order; trip() says whether the relay refuses everyone."""

    def __init__(self, window: int, share: float) -> None:
        self.window, self.share = window, share
        self._recent: deque[str | None] = deque(maxlen=max(window, 1))
        self._refusals = 0  # results in _recent that are refusals (not None)
        self.tripped: str | None = None  # the refusal, once tripped
        self.reply = ""  # one reply of it, as the server said it

    def see(self, result: Result) -> bool:
        """Count one result; True when this one trips the breaker."""
        if self.window <= 0 or self.tripped:
            return False
        seen = refusal(result)
        if len(self._recent) == self._recent.maxlen and self._recent[0] is not None:
            self._refusals -= 1  # the oldest leaves the window
        self._recent.append(seen)
        self._refusals += seen is not None
        # Fewer refusals in the window than the share: no reply can have it (and the
        # Counter below, ~5 µs, would be made for every message of a healthy send).
        if len(self._recent) < self.window or self._refusals < self.share * self.window:
            return False
        (most, count), *_ = Counter(self._recent).most_common(1)
        if most is None or count < self.share * self.window:
            return False
        self.tripped, self.reply = most, result.reply
        return True


class Dispatcher:
    """One run over a list of recipients. Clock, sleep and randomness are injected:
    by default the monotonic clock, a sleep that Ctrl-C cuts short, and random.random."""

    def __init__(
        self,
        issue: str,
        template: MessageTemplate,
        ledger: Ledger,
        make_transport: Callable[[], Transport],
        options: Options = Options(),
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
        random: Random = _random.random,
        still_wanted: Callable[[Subscriber], bool] | None = None,
    ) -> None:
        self.issue, self.template, self.ledger = issue, template, ledger
        self.still_wanted = still_wanted
        self.make_transport, self.options, self.progress = make_transport, options, progress
        self.stop = stop or threading.Event()
        self.sleep = sleep or self._interruptible_sleep
        self.random = random
        self.limiter = RateLimiter(options.rate, clock, self.sleep)
        self.tally = Tally()
        self.breaker = CircuitBreaker(options.breaker_window, options.breaker_share)
        self._refused: list[tuple[Subscriber, Result]] = []  # permanent refusals this run
        # The recipients, taken in order by the workers under _feeding: drawn from the
        # plan as they go (a queue filled up front held every recipient at once).
        self._work: Iterator[Subscriber] = iter(())
        self._feeding = threading.Lock()
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._done = self._total = 0

    def _interruptible_sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    # --- policy ---------------------------------------------------------------------------

    def retryable(self, result: Result) -> bool:
        """Only a temporary refusal is tried again in this run. A failure is final; an
        unknown fate may already be in the recipient's mailbox (see --resend-unknown)."""
        return result.state == DeliveryState.DEFERRED

    def backoff_delay(self, attempt: int) -> float:
        return self.options.backoff.delay(attempt, self.random)

    def pace(self, result: Result) -> None:
        """421/451/454 slow the whole send down (every connection shares the limiter)."""
        if result.throttle:
            self.limiter.slow_down()
        elif not self.retryable(result):
            self.limiter.ease()

    # --- running --------------------------------------------------------------------------

    def run(self, recipients: Collection[Subscriber]) -> Tally:
        """Deliver to every recipient (or until stopped); raise what a worker raised."""
        self._work = iter(recipients)
        self._total = len(recipients)
        threads = [
            threading.Thread(target=self._worker, name=f"send-{n}", daemon=True)
            for n in range(min(self.options.connections, max(1, len(recipients))))
        ]
        with _ctrl_c_stops(self):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if self._errors:
            raise self._errors[0]
        if self.breaker.tripped:
            self._hold_back()
        return self.tally

    def _hold_back(self) -> None:
        """After the breaker tripped: the refusals of that one reply are not believed.
        Their rows go back to deferred (the next run tries them again), nobody of this
        run is suppressed, and the send stops with the reply for the editor."""
        held = [(s, r) for s, r in self._refused if refusal(r) == self.breaker.tripped]
        self.ledger.mark_many(
            self.issue,
            [(s.key, DeliveryState.DEFERRED, r.code, r.reply) for s, r in held],
        )
        self.tally.counts[DeliveryState.FAILED] -= len(held)
        self.tally.counts[DeliveryState.DEFERRED] += len(held)
        self.tally.bounced.clear()
        shown = CONTROL.sub("", self.breaker.reply)[:200]
        raise SendError(
            f"stopped: the relay refused {len(held)} recipients with the same reply"
            f" ({self.breaker.tripped}: {shown}); it is likely refusing everyone, so"
            " nobody was suppressed and they stay queued; fix the relay or its account,"
            " then run the same command"
        )

    def interrupt(self) -> None:
        """Stop taking new recipients; each worker finishes the message in flight."""
        self.tally.interrupted = True
        self.stop.set()

    def _worker(self) -> None:
        transport = self.make_transport()
        try:
            if isinstance(transport, OutboxTransport):
                while batch := self._take(transport.batch_size):
                    self._deliver_batch(transport, batch)
                return
            ahead = _Ahead(self) if isinstance(transport, SmtpTransport) else None
            while subscriber := (ahead.take() if ahead else self._take_one()):
                result = self.deliver(transport, subscriber, ahead)
                if result is not None:  # None: stopped first, the row stays queued
                    self._record(subscriber, result)
        except BaseException as exc:
            self._errors.append(exc)
            self.stop.set()
        finally:
            transport.close()

    def _take(self, size: int) -> list[Subscriber]:
        batch: list[Subscriber] = []
        with self._feeding:
            while len(batch) < size and not self.stop.is_set():
                subscriber = next(self._work, None)
                if subscriber is None:
                    break
                batch.append(subscriber)
        return batch

    def _take_one(self) -> Subscriber | None:
        batch = self._take(1)
        return batch[0] if batch else None

    def deliver(
        self, transport: Transport, subscriber: Subscriber, ahead: _Ahead | None = None
    ) -> Result | None:
        """The last result for subscriber, or None when stopped before anything was sent.
        ahead: the session's next message, assembled while the relay reads this one."""
        result: Result | None = None
        for attempt in range(self.options.max_attempts):
            self.limiter.wait()
            if self.stop.is_set():  # Ctrl-C while waiting: start nothing new
                return result
            if not self._wanted(subscriber):  # the row stays as it was (not sent)
                return None
            sender = self.template.envelope_from(subscriber)
            handover = partial(self.ledger.mark, self.issue, subscriber.key, DeliveryState.SENDING)
            if isinstance(transport, SmtpTransport):  # stuffed from parts stuffed once
                wire = ahead.wire_for(subscriber) if ahead else self._wire_for(subscriber)
                meanwhile = ahead.prepare if ahead else None
                result = transport.deliver_wire(sender, subscriber.email, wire, handover, meanwhile)
            else:
                message = self.template.render_for(subscriber)
                result = transport.deliver(sender, subscriber.email, message, handover)
            self.pace(result)
            if not self.retryable(result):
                return result
            if attempt + 1 < self.options.max_attempts:
                delay = self.backoff_delay(attempt)
                # Said while it waits: which address, why, and for how long.
                log.warning(
                    "%s: %s %s; try %d of %d in %.1f s",
                    subscriber.email,
                    result.code,
                    result.reply,
                    attempt + 2,
                    self.options.max_attempts,
                    delay,
                )
                self.sleep(delay)
        return result

    def _wire_for(self, subscriber: Subscriber, date: float | None = None) -> list[bytes]:
        """What follows DATA for subscriber, in pieces: stuffed from parts stuffed once per
        issue, then the end of data."""
        wire = self.template.data_parts(subscriber, date)
        wire.append(END_OF_DATA)
        return wire

    def _deliver_batch(self, transport: OutboxTransport, batch: list[Subscriber]) -> None:
        """Outbox files in batches: each file is made durable, the folder once per batch,
        and only then does the ledger say sent (two transactions per batch, not two
        commits and two folder fsyncs per message). A crash leaves the batch `sending`,
        which the next run writes again: rewriting an outbox file is harmless."""
        self.ledger.mark_many(
            self.issue, [(s.key, DeliveryState.SENDING, None, None) for s in batch]
        )
        started: list[Subscriber] = []
        try:
            for subscriber in batch:
                self.limiter.wait()
                if self.stop.is_set():  # Ctrl-C: the rest of the batch stays queued
                    break
                if not self._wanted(subscriber):
                    continue
                message = self.template.render_for(subscriber)
                transport.write(subscriber.email, message, self.template.return_path(subscriber))
                started.append(subscriber)
        finally:
            # The files written, in order, up to the first that failed (raised below).
            results, failure = transport.sync()
            written = list(zip(started, results, strict=False))
            rows: list[Row] = [(s.key, r.state, None, r.reply) for s, r in written]
            done = {s.key for s, _ in written}
            rows += [(s.key, DeliveryState.QUEUED, None, None) for s in batch if s.key not in done]
            self.ledger.mark_many(self.issue, rows)
            for subscriber, result in written:
                self._count(subscriber, result)
        if failure is not None:
            raise failure

    def _wanted(self, subscriber: Subscriber) -> bool:
        """The audience's last word just before the handover (an unsubscribe committed
        while the send runs must stop every later message to that address)."""
        if self.still_wanted is None or self.still_wanted(subscriber):
            return True
        with self._lock:
            self.tally.withheld += 1
        return False

    def _record(self, subscriber: Subscriber, result: Result) -> None:
        self.ledger.mark(self.issue, subscriber.key, result.state, result.code, result.reply)
        self._count(subscriber, result)

    def _count(self, subscriber: Subscriber, result: Result) -> None:
        with self._lock:
            if result.state == DeliveryState.FAILED:
                self._refused.append((subscriber, result))
            if self.breaker.see(result):
                log.warning("circuit breaker: %s to most recipients", self.breaker.tripped)
                self.stop.set()  # each worker finishes its message in flight
            self.tally.counts[result.state] += 1
            if result.bounced:
                self.tally.bounced.append(subscriber.email)
            self._done += 1
            if self.progress:
                self.progress(self._done, self._total)


class _Ahead:
    """One SMTP session's next recipient, taken and its message assembled while the relay
    reads the current one (~55 µs of personalising that would otherwise wait for it).

    Only the assembling moves: the audience check, the ledger's marks and every command
    stay in their turn. The Date header (and a DKIM signature's t=) has whole seconds,
    so a message assembled within the second it is sent is byte for byte the one
    assembled then; one from an earlier second is assembled again."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._next: Subscriber | None = None
        self._ready: tuple[Subscriber, int, list[bytes]] | None = None

    def take(self) -> Subscriber | None:
        """The next recipient of this session: the one taken ahead, if any."""
        taken, self._next = self._next, None
        if taken is None:
            return self.dispatcher._take_one()
        # Stopped meanwhile: like one never taken, its row stays queued.
        return None if self.dispatcher.stop.is_set() else taken

    def prepare(self) -> None:
        """Called by the transport once a message went out, before its reply is read."""
        if self._next is not None or self.dispatcher.stop.is_set():
            return  # taken already (this message is a retry)
        self._next = self.dispatcher._take_one()
        if self._next is None:
            return
        started = time.time()
        try:
            wire = self.dispatcher._wire_for(self._next, started)
        except Exception:  # assembled again in its turn, which reports it
            self._ready = None
            return
        second = math.floor(started)
        self._ready = (self._next, second, wire) if math.floor(time.time()) == second else None

    def wire_for(self, subscriber: Subscriber) -> list[bytes]:
        """subscriber's message as DATA carries it: the one assembled ahead if it is
        theirs and of this second, else assembled now."""
        ready, now = self._ready, time.time()
        if ready is not None and ready[0] is subscriber:  # not a retry's: the next one's
            self._ready = None
            if ready[1] == math.floor(now):
                return ready[2]
        return self.dispatcher._wire_for(subscriber, now)


@contextlib.contextmanager
def _ctrl_c_stops(dispatcher: Dispatcher) -> Iterator[None]:
    """While workers run, Ctrl-C interrupts the dispatcher instead of the main thread.
    (A KeyboardInterrupt inside Thread.join() would leave the thread unjoinable before
    Python 3.13, so the main thread must never be interrupted there.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: dispatcher.interrupt())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
