"""Delivering one prepared issue to many recipients: workers, rate, retries, the ledger.

Each of `connections` worker threads owns one transport session and takes
recipients from a shared queue. Every delivery is bracketed by ledger commits
(see ledger.py), so a run stopped at any moment can be resumed by running it
again. Ctrl-C sets `stop`: workers finish the message in flight and return.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from briefing.send.audience import Subscriber
from briefing.send.ledger import DEFERRED, FAILED, QUEUED, SENDING, SENT, UNKNOWN, Ledger
from briefing.send.message import MessageTemplate
from briefing.send.transports import OutboxTransport, Result, Transport

log = logging.getLogger("briefing")


@dataclass(frozen=True)
class Options:
    rate: float = 0.0  # messages per second across all connections; 0 = no limit
    connections: int = 1
    max_attempts: int = 5
    backoff: float = 1.0  # first retry delay in seconds; doubles each time, with jitter
    backoff_max: float = 60.0


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    bounced: list[str] = field(default_factory=list)
    interrupted: bool = False


class RateLimiter:
    """Spaces messages evenly; a throttling reply doubles the spacing, success eases it back."""

    def __init__(self, rate: float) -> None:
        self.base = 1.0 / rate if rate > 0 else 0.0
        self.interval = self.base
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            stop.wait(slot - now)

    def slow_down(self) -> None:
        with self._lock:
            self.interval = min(max(self.interval * 2, 0.05), 10.0)
            log.info("server asked to slow down: one message every %.2f s", self.interval)

    def ease(self) -> None:
        if self.interval > self.base:
            with self._lock:
                self.interval = max(self.base, self.interval * 0.95)


Progress = Callable[[int, int], None]
# A transport's result → the ledger state it leaves.
_STATES = {"sent": SENT, "failed": FAILED, "unknown": UNKNOWN, "deferred": DEFERRED}


def dispatch(
    issue: str,
    template: MessageTemplate,
    recipients: list[Subscriber],
    ledger: Ledger,
    make_transport: Callable[[], Transport],
    options: Options,
    stop: threading.Event,
    progress: Progress | None = None,
) -> Tally:
    tally = Tally()
    work: queue.SimpleQueue[Subscriber] = queue.SimpleQueue()
    for subscriber in recipients:
        work.put(subscriber)
    limiter = RateLimiter(options.rate)
    lock = threading.Lock()
    errors: list[BaseException] = []
    done = 0
    sender = template.sender.envelope_from

    def record(subscriber: Subscriber, result: Result) -> None:
        ledger.mark(issue, subscriber.key, _STATES[result.state], result.code, result.reply)
        count(subscriber, result)

    def count(subscriber: Subscriber, result: Result) -> None:
        nonlocal done
        state = _STATES[result.state]
        with lock:
            setattr(tally, state, getattr(tally, state) + 1)
            if result.bounced:
                tally.bounced.append(subscriber.email)
            done += 1
            if progress:
                progress(done, len(recipients))

    def deliver(transport: Transport, subscriber: Subscriber) -> Result | None:
        """The last result for subscriber, or None when stopped before anything was sent."""
        result: Result | None = None
        for attempt in range(options.max_attempts):
            limiter.wait(stop)
            if stop.is_set():  # Ctrl-C while waiting: start nothing new
                return result
            result = transport.deliver(
                sender,
                subscriber.email,
                template.render_for(subscriber),
                handover=lambda: ledger.mark(issue, subscriber.key, SENDING),
            )
            if result.state != "deferred":
                limiter.ease()
                return result
            if result.throttle:
                limiter.slow_down()
            log.info("%s: %s %s (try %d)", subscriber.email, result.code, result.reply, attempt + 1)
            if attempt + 1 < options.max_attempts:
                delay = min(options.backoff * 2**attempt, options.backoff_max)
                stop.wait(delay * random.uniform(0.5, 1.5))  # jitter spreads retries apart
        return result

    def deliver_batch(transport: OutboxTransport, batch: list[Subscriber]) -> None:
        """Outbox files in batches: each file is made durable, the folder once per batch,
        and only then does the ledger say sent (two transactions per batch, not two
        commits and two folder fsyncs per message). A crash leaves the batch `sending`,
        which the next run writes again: rewriting an outbox file is harmless."""
        ledger.mark_many(issue, [(s.key, SENDING, None, None) for s in batch])
        written: list[tuple[Subscriber, Result]] = []
        try:
            for subscriber in batch:
                limiter.wait(stop)
                if stop.is_set():  # Ctrl-C: the rest of the batch stays queued
                    break
                message = template.render_for(subscriber)
                written.append((subscriber, transport.write(subscriber.email, message)))
        finally:
            if written:
                transport.sync()
            rows: list[tuple[str, str, int | None, str | None]] = [
                (s.key, SENT, None, r.reply) for s, r in written
            ]
            rows += [(s.key, QUEUED, None, None) for s in batch[len(written) :]]
            ledger.mark_many(issue, rows)
            for subscriber, result in written:
                count(subscriber, result)

    def take(size: int) -> list[Subscriber]:
        batch: list[Subscriber] = []
        while len(batch) < size and not stop.is_set():
            try:
                batch.append(work.get_nowait())
            except queue.Empty:
                break
        return batch

    def worker() -> None:
        transport = make_transport()
        try:
            if isinstance(transport, OutboxTransport):
                while batch := take(transport.batch_size):
                    deliver_batch(transport, batch)
                return
            while batch := take(1):
                result = deliver(transport, batch[0])
                if result is not None:  # None: stopped first, the row stays queued
                    record(batch[0], result)
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            transport.close()

    threads = [
        threading.Thread(target=worker, name=f"send-{n}", daemon=True)
        for n in range(min(options.connections, max(1, len(recipients))))
    ]

    def interrupt(signum: int, frame: object) -> None:
        # Ctrl-C: stop taking new recipients; each worker finishes the message in flight.
        # (A KeyboardInterrupt inside Thread.join() would leave the thread unjoinable
        # before Python 3.13, so the main thread must never be interrupted there.)
        tally.interrupted = True
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupt) if in_main else None
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if errors:
        raise errors[0]
    return tally
