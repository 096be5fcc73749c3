"""Requests per minute per key: a token bucket, answered with 429 and Retry-After when empty.

A bucket holds up to `per_minute` tokens and refills continuously at `per_minute / 60` per second,
so a key can burst its whole minute and then sustains the rate. Buckets live in the API process
(one server); several servers behind a balancer would keep them in the shared database instead.
The concurrent-jobs limit is not here: it is counted by the queue, exactly, at submission.
"""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token of `key`'s bucket; None if allowed, else seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
