"""Per-client and per-address rate limits: sliding windows in memory.

In memory, per process: enough for one `briefing serve` (the supported set-up);
several server processes each keep their own counts, so the effective limit is
that many times higher.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimit:
    """At most `limit` events per `window` seconds per key; keeps at most `keys` keys."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float], keys: int = 100_000
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for key; False (and not counted) when over the limit."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently used last
            if len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
