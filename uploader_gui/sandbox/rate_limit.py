"""Redox's rate limit, as its pages describe it: so many requests per window per IP, then 429.

The sandbox only listens on loopback, so every client shares one window. Each answer
carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(whole seconds until the window starts again); a refused request gets a 429 with the
same headers and no ``Retry-After``, so a client must read them to wait the right time.
"""

from __future__ import annotations

import math
import threading
import time


class RateWindow:
    """A fixed window: ``limit`` requests per ``seconds`` (Redox: 10,000 per 5 minutes)."""

    def __init__(self, limit: int = 10_000, seconds: float = 300.0) -> None:
        self._lock = threading.Lock()
        self.set(limit, seconds)

    def set(self, limit: int, seconds: float) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("the rate limit needs at least one request per positive window")
        with self._lock:
            self.limit, self.seconds = int(limit), float(seconds)
            self._start, self._count = time.monotonic(), 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Count one request: whether it may go, and the headers to answer with."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.seconds:
                self._start, self._count = now, 0
            allowed = self._count < self.limit
            if allowed:
                self._count += 1
            reset = max(1, math.ceil(self.seconds - (now - self._start)))
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - self._count)),
                "X-RateLimit-Reset": str(reset),
            }
        return allowed, headers
