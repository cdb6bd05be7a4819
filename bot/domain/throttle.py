"""Token buckets, one per key (an API token, a sender's address, a person): a steady rate
with a burst of the same size. In memory, per process: each replica gives its own budget."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        count: float,
        per: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        keys: int = 10_000,
    ) -> None:
        """`count` requests every `per` seconds, and at most `count` at once."""
        self.rate = count / per
        self.burst = float(count)
        self.clock = clock
        self.keys = keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.keys:  # the least recently seen go first
            self._buckets.popitem(last=False)
        return wait
