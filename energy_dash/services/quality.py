"""Data-quality log use cases: record events, read them, find gaps and stuck values.

Ingest paths record what they see as it happens (counter glitches, resets, spikes,
clock skew, unbound topics, malformed messages, conflicting duplicates); the
periodic check finds what only shows over time (gaps, stuck values). Noisy kinds
(a device publishing garbage every second) are recorded once per quarter hour
and topic, so the log stays readable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from energy_dash.db import connected, session_scope
from energy_dash.domain import quality
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.registers import reading_interval_s
from energy_dash.storage import facilities as facility_store
from energy_dash.storage import quality as store
from energy_dash.storage import readings as reading_store

logger = logging.getLogger(__name__)

THROTTLED = frozenset((quality.UNBOUND, quality.MALFORMED, quality.CLOCK_SKEW,
                       quality.CONFLICT))
THROTTLE_MS = 15 * 60 * 1000
OPEN_WINDOW_MS = 24 * 3600 * 1000
"""Events younger than this count as open issues on the dashboard."""

_recent: dict[tuple, int] = {}
_recent_lock = threading.Lock()


def _admit(
    database: str, facility_id: int | None, event: QualityEvent, now_ms: int
) -> bool:
    if event.kind not in THROTTLED:
        return True
    key = (database, facility_id, event.kind, event.device_id, event.detail[:60])
    with _recent_lock:
        last = _recent.get(key)
        if last is not None and now_ms - last < THROTTLE_MS:
            return False
        if len(_recent) > 50_000:
            _recent.clear()
        _recent[key] = now_ms
    return True


def record(
    session: Session,
    facility_id: int | None,
    events: Iterable[QualityEvent],
    *,
    now_ms: int | None = None,
) -> int:
    """Add events inside the caller's transaction; returns how many were kept."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    database = str(session.get_bind().url)
    kept = [e for e in events if _admit(database, facility_id, e, now_ms)]
    return store.add_events(session, facility_id, kept)


def record_now(
    database_url: str | None, facility_id: int | None, events: Iterable[QualityEvent]
) -> int:
    """:func:`record` in its own short transaction."""
    events = list(events)
    if not events:
        return 0
    with session_scope(database_url, write=True) as session:
        return record(session, facility_id, events)


def list_events(
    database_url: str | None,
    facility_ids: Sequence[int] | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Events as dicts (ts_ms, facility_id, device_id, kind, detail)."""
    with session_scope(database_url) as session:
        rows = store.fetch_events(session, facility_ids, start_ms, end_ms,
                                  limit=limit, newest_first=newest_first)
    names = ("ts_ms", "facility_id", "device_id", "kind", "detail")
    return [dict(zip(names, row, strict=True)) for row in rows]


def open_count(
    database_url: str | None, facility_id: int, now_ms: int, *,
    conn: Connection | None = None,
) -> int:
    """Events of the last 24 hours: the count on the dashboard's hardware tile.

    ``conn``: the caller's connection (a page tick reads everything on one)."""
    with connected(database_url, conn) as conn:
        return store.count_since(conn, facility_id, now_ms - OPEN_WINDOW_MS)


def detect_series(
    points: Sequence[tuple[int, str, float | None, float | None]],
    expected_interval_s: float,
) -> list[QualityEvent]:
    """Gaps and stuck power in ``(ts_ms, device_id, produced, consumed)`` rows.

    Power per reading is its interval energy over its interval (the one
    definition in :mod:`energy_dash.domain.registers`).
    """
    by_device: dict[str, list[tuple[int, float | None, float | None]]] = {}
    for ts, device, produced, consumed in points:
        by_device.setdefault(device, []).append((ts, produced, consumed))
    events: list[QualityEvent] = []
    for device, rows in sorted(by_device.items()):
        rows.sort()
        events += quality.find_gaps([r[0] for r in rows], expected_interval_s,
                                    device_id=device)
        for column in (1, 2):
            series = []
            previous = None
            for row in rows:
                energy = row[column]
                interval = reading_interval_s(previous, row[0], expected_interval_s)
                power = None if energy is None else round(energy * 3600 / interval, 6)
                series.append((row[0], power))
                previous = row[0]
            events += quality.find_stuck(series, device_id=device)
    return events


def new_only(
    session: Session, facility_id: int, events: Iterable[QualityEvent]
) -> list[QualityEvent]:
    """Drop events at or before the newest already logged of their kind and device."""
    newest: dict[tuple[str, str | None], int | None] = {}
    kept = []
    for event in events:
        key = (event.kind, event.device_id)
        if key not in newest:
            newest[key] = store.last_event_ts(session, facility_id, event.device_id,
                                              event.kind)
        last = newest[key]
        if last is None or event.ts_ms > last:
            kept.append(event)
    return kept


CHECK_WINDOW_MS = 7 * 3600 * 1000
"""The periodic check looks this far back (a stuck value needs 6 hours)."""
CHECK_LIMIT = 50_000


def check_all(database_url: str | None, now_ms: int) -> int:
    """Find gaps and stuck values of every facility's recent readings; log new ones.

    Runs every quarter hour (``jobs``); an anomaly already logged (same kind,
    device and start) is not logged again. Returns how many events were added.
    """
    added = 0
    with session_scope(database_url, write=True) as session:
        for facility in facility_store.all_infos(session):
            points = reading_store.energy_points(
                session, facility.id, now_ms - CHECK_WINDOW_MS, CHECK_LIMIT, now_ms)
            found = detect_series(points, facility.expected_interval_s)
            added += record(session, facility.id, new_only(session, facility.id,
                                                           found), now_ms=now_ms)
    return added
