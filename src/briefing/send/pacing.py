"""How fast a send goes: the rate limit with its throttle slow-down, and the retry backoff.

Both take their clock, sleep and randomness from the caller, so tests can run
them on a fake clock and check the delays exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("briefing")

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], None]  # waits that long, or less when the send is stopped
Random = Callable[[], float]  # uniform in [0, 1)

# A throttling server gets at least this spacing, even from a send without a rate limit,
# and never more than the ceiling (one message every 10 s is slow enough to be heard).
THROTTLE_FLOOR = 0.05
THROTTLE_CEILING = 10.0
EASE = 0.95  # each success takes 5% off a slowed-down spacing


class RateLimiter:
    """Spaces messages evenly across all connections; a throttling reply doubles the
    spacing, and each success eases it back towards the configured rate."""

    def __init__(self, rate: float, clock: Clock, sleep: Sleep) -> None:
        self.base = 1.0 / rate if rate > 0 else 0.0
        self.interval = self.base
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Wait for this message's slot; slots are handed out in order, one interval apart."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def slow_down(self) -> None:
        with self._lock:
            self.interval = min(max(self.interval * 2, THROTTLE_FLOOR), THROTTLE_CEILING)
            log.info("server asked to slow down: one message every %.2f s", self.interval)

    def ease(self) -> None:
        if self.interval > self.base:
            with self._lock:
                self.interval = max(self.base, self.interval * EASE)


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number `attempt + 1` of a deferred message: exponential, capped,
    with ±50% jitter so recipients deferred together are not retried together."""

    first: float = 1.0  # seconds before the first retry
    ceiling: float = 60.0

    def delay(self, attempt: int, random: Random) -> float:
        """attempt: 0 after the first try.
        Within [0.5, 1.5) × min(first × 2^attempt, ceiling)."""
        return min(self.first * 2.0**attempt, self.ceiling) * (0.5 + random())
