"""Atomic shared counters for limits that must hold across workers and hosts.

A limit of N per window is a counter per key: taking a slot checks and counts in
one atomic step (one ``INSERT … ON CONFLICT DO UPDATE … WHERE hits < N RETURNING``
statement in the database, one Lua script in Redis), so a concurrent burst can
never get more than N slots, whatever the number of processes. A key's window
opens at its first hit and lasts ``window_s`` seconds (a lockout window).

Where the counters live (``ENERGY_DASH_RATE_STORAGE``):

- empty or ``database`` (default): the ``rate_counters`` table of the app's
  database; on PostgreSQL shared by every worker on every host, on SQLite by every
  process on the host;
- ``redis://…`` / ``rediss://…`` / ``unix://…``: a Redis server;
- ``memory://``: this process only; right only when exactly one process serves
  (tests, the development server).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from typing import Protocol

from sqlalchemy import text

from energy_dash.db import get_engine

logger = logging.getLogger(__name__)

SWEEP_CHANCE = 0.001  # share of hits that also delete long-expired counters
SWEEP_AGE_MS = 86_400_000
MAX_KEY = 200


class Counters(Protocol):
    """A shared store of windowed counters."""

    def take(self, key: str, limit: int, window_s: float, driver=None) -> int:
        """Take one slot of ``key``: 0 when taken, else seconds until it frees.

        ``driver``: a DB-API transaction wrapper to run on (database counters).
        """

    def give_back(self, key: str) -> None:
        """Return one slot taken in the current window (an attempt that succeeded)."""

    def wait(self, key: str, limit: int) -> int:
        """0 while ``key`` has a free slot, else seconds until its window ends."""

    def clear(self) -> None:
        """Forget every counter (tests)."""


def _seconds(remaining_ms: float) -> int:
    return max(1, math.ceil(remaining_ms / 1000))


class MemoryCounters:
    """Counters in this process's memory (one serving process only)."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: int, window_s: float, driver=None) -> int:
        now = time.monotonic()
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
            if end <= now:
                end, hits = now + window_s, 0
            if hits >= limit:
                return _seconds((end - now) * 1000)
            self._windows[key] = (end, hits + 1)
            if len(self._windows) > 10_000:
                self._windows = {
                    k: v for k, v in self._windows.items() if v[0] > now
                }
        return 0

    def give_back(self, key: str) -> None:
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
            if hits > 0 and end > time.monotonic():
                self._windows[key] = (end, hits - 1)

    def wait(self, key: str, limit: int) -> int:
        now = time.monotonic()
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
        return _seconds((end - now) * 1000) if end > now and hits >= limit else 0

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


_TAKE = (
    "INSERT INTO rate_counters (counter_key, window_end_ms, hits) "
    "VALUES (:key, :end_ms, 1) "
    "ON CONFLICT (counter_key) DO UPDATE SET "
    "hits = CASE WHEN rate_counters.window_end_ms <= :now_ms THEN 1 "
    "ELSE rate_counters.hits + 1 END, "
    "window_end_ms = CASE WHEN rate_counters.window_end_ms <= :now_ms "
    "THEN excluded.window_end_ms ELSE rate_counters.window_end_ms END "
    "WHERE rate_counters.window_end_ms <= :now_ms OR rate_counters.hits < :limit "
    "RETURNING hits"
)
_STATE = "SELECT hits, window_end_ms FROM rate_counters WHERE counter_key = :key"
_TAKE_SQL, _STATE_SQL = text(_TAKE), text(_STATE)


def _driver_sql(sql: str, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """``:name`` SQL as ``%s`` SQL plus the parameter order (DB-API hot path)."""
    order = []
    out = sql
    while True:
        positions = [(out.find(":" + n), n) for n in names if ":" + n in out]
        if not positions:
            return out, tuple(order)
        _, name = min(positions)
        out = out.replace(":" + name, "%s", 1)
        order.append(name)


_TAKE_DRIVER = _driver_sql(_TAKE, ("key", "end_ms", "now_ms", "limit"))
_STATE_DRIVER = _driver_sql(_STATE, ("key",))
_GIVE_BACK_SQL = text(
    "UPDATE rate_counters SET hits = hits - 1 "
    "WHERE counter_key = :key AND hits > 0 AND window_end_ms > :now_ms"
)
_SWEEP_SQL = text("DELETE FROM rate_counters WHERE window_end_ms < :before_ms")
_CLEAR_SQL = text("DELETE FROM rate_counters")


class DatabaseCounters:
    """Counters in the ``rate_counters`` table (migration 0007).

    The conditional upsert is atomic on both engines: PostgreSQL locks the
    conflicting row and re-checks the ``WHERE`` on its newest version; SQLite runs
    the statement under its database write lock.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def take(self, key: str, limit: int, window_s: float, driver=None) -> int:
        now_ms = int(time.time() * 1000)
        params = {"key": key[:MAX_KEY], "now_ms": now_ms, "limit": limit,
                  "end_ms": now_ms + int(window_s * 1000)}
        if driver is not None:
            return self._take_on(driver, params)
        with get_engine(self.database_url).begin() as conn:
            taken = conn.execute(_TAKE_SQL, params).first()
            if taken is None:
                state = conn.execute(_STATE_SQL, params).first()
            if random.random() < SWEEP_CHANCE:
                conn.execute(_SWEEP_SQL, {"before_ms": now_ms - SWEEP_AGE_MS})
        if taken is not None:
            return 0
        return _seconds(state[1] - now_ms) if state is not None else 1

    @staticmethod
    def _take_on(driver, params: dict) -> int:
        """The same statement on the caller's DB-API connection (its own commit):
        the sensor hot path needs no second pooled connection."""
        sql, order = _TAKE_DRIVER
        taken = driver.execute(sql, tuple(params[n] for n in order)).fetchone()
        state = None
        if taken is None:
            sql, order = _STATE_DRIVER
            state = driver.execute(sql, tuple(params[n] for n in order)).fetchone()
        driver.connection.commit()
        if taken is not None:
            return 0
        return _seconds(state[1] - params["now_ms"]) if state is not None else 1

    def give_back(self, key: str) -> None:
        params = {"key": key[:MAX_KEY], "now_ms": int(time.time() * 1000)}
        with get_engine(self.database_url).begin() as conn:
            conn.execute(_GIVE_BACK_SQL, params)

    def wait(self, key: str, limit: int) -> int:
        now_ms = int(time.time() * 1000)
        with get_engine(self.database_url).connect() as conn:
            state = conn.execute(_STATE_SQL, {"key": key[:MAX_KEY]}).first()
        if state is None or state[1] <= now_ms or state[0] < limit:
            return 0
        return _seconds(state[1] - now_ms)

    def clear(self) -> None:
        with get_engine(self.database_url).begin() as conn:
            conn.execute(_CLEAR_SQL)


_TAKE_LUA = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits >= tonumber(ARGV[1]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {hits, 0}
"""
_GIVE_BACK_LUA = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then redis.call('DECR', KEYS[1]) end
return hits
"""


class RedisCounters:
    """Counters in Redis; each check-and-count is one server-side script."""

    PREFIX = "energy_dash:limit:"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2)
        self._take = self.client.register_script(_TAKE_LUA)
        self._give_back = self.client.register_script(_GIVE_BACK_LUA)

    def take(self, key: str, limit: int, window_s: float, driver=None) -> int:
        hits, pttl = self._take(
            keys=[self.PREFIX + key[:MAX_KEY]], args=[limit, int(window_s * 1000)]
        )
        return 0 if int(hits) else _seconds(max(int(pttl), 1))

    def give_back(self, key: str) -> None:
        self._give_back(keys=[self.PREFIX + key[:MAX_KEY]])

    def wait(self, key: str, limit: int) -> int:
        name = self.PREFIX + key[:MAX_KEY]
        hits, pttl = self.client.pipeline().get(name).pttl(name).execute()
        if hits is None or int(hits) < limit:
            return 0
        return _seconds(max(int(pttl), 1))

    def clear(self) -> None:
        for name in self.client.scan_iter(self.PREFIX + "*"):
            self.client.delete(name)


def counters_for(storage: str | None, database_url: str) -> Counters:
    """The counters named by ``ENERGY_DASH_RATE_STORAGE`` (see the module doc)."""
    value = (storage or "").strip()
    if value in ("", "database", "db", "database://"):
        return DatabaseCounters(database_url)
    if value.startswith("memory://"):
        return MemoryCounters()
    if value.split("://", 1)[0] in ("redis", "rediss", "unix"):
        return RedisCounters(value)
    raise ValueError(
        "ENERGY_DASH_RATE_STORAGE must be 'database', 'memory://' or a redis:// URL"
    )


class WindowLimit:
    """At most ``count`` slots per ``window_s`` seconds per key, in shared counters."""

    def __init__(self, counters: Counters, count: int, window_s: float,
                 namespace: str) -> None:
        if count < 1 or window_s <= 0:
            raise ValueError("a limit needs count >= 1 and a positive window")
        self.counters = counters
        self.count = count
        self.window_s = float(window_s)
        self.namespace = namespace

    def take(self, key: object, driver=None) -> int:
        """0 when the slot is taken, else the seconds to wait (>= 1)."""
        return self.counters.take(f"{self.namespace}:{key}", self.count,
                                  self.window_s, driver)

    @classmethod
    def from_rate(cls, counters: Counters, text: str | None,
                  namespace: str) -> WindowLimit | None:
        """A limit for ``"600/minute"``-style text; None when ``"0"`` or empty."""
        from energy_dash.config import parse_rate

        text = (text or "").strip()
        if text in {"", "0"}:
            return None
        count, window_s = parse_rate(text)
        return cls(counters, count, window_s, namespace) if count > 0 else None

    def give_back(self, key: object) -> None:
        self.counters.give_back(f"{self.namespace}:{key}")

    def wait(self, key: object) -> int:
        return self.counters.wait(f"{self.namespace}:{key}", self.count)


__all__ = [
    "Counters",
    "DatabaseCounters",
    "MemoryCounters",
    "RedisCounters",
    "WindowLimit",
    "counters_for",
]
