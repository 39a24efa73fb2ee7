"""A small in-process, per-key fixed-window rate limiter for the sensor API.

The counters live in the memory of one process: under gunicorn with ``-w N`` each
worker counts on its own, so a key may make up to N times the configured number
of requests per window in total. That is deliberate — the limit protects the
server from a runaway device, it is not an accounting quota, and it costs a dict
lookup instead of a network round trip on the hot path.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable

from energy_dash.config import parse_rate

MAX_TRACKED = 10_000  # windows kept before expired ones are swept


class RateLimiter:
    """At most ``count`` hits per ``window_s`` seconds per key (fixed windows).

    A key's window opens at its first hit and lasts ``window_s`` seconds; hits over
    the limit are refused (and not counted) until it ends.
    """

    def __init__(
        self, count: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if count < 1 or window_s <= 0:
            raise ValueError("a rate limit needs count >= 1 and a positive window")
        self.count = count
        self.window_s = float(window_s)
        self._clock = clock
        self._windows: dict[Hashable, tuple[float, int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_setting(cls, text: str | None) -> RateLimiter | None:
        """A limiter for ``"600/minute"``-style text; None when ``"0"`` or empty."""
        text = (text or "").strip()
        if text in {"", "0"}:
            return None
        count, window_s = parse_rate(text)
        if count <= 0:
            return None
        return cls(count, window_s)

    def hit(self, key: Hashable) -> int:
        """Count one request; 0 when allowed, else the seconds to wait (>= 1)."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            if used >= self.count:
                return max(1, math.ceil(start + self.window_s - now))
            self._windows[key] = (start, used + 1)
            if len(self._windows) > MAX_TRACKED:
                self._sweep(now)
        return 0

    def _sweep(self, now: float) -> None:
        expired = [k for k, (s, _) in self._windows.items() if now - s >= self.window_s]
        for k in expired:
            del self._windows[k]

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
