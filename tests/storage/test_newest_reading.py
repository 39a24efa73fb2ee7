"""The newest-reading look-ups answer the same whether the reading is recent
(the bounded query) or older than that window (the open query behind it)."""

from __future__ import annotations

import time

from energy_dash.db import session_scope
from energy_dash.storage import readings
from energy_dash.storage.facilities import load_info
from energy_dash.storage.readings import RECENT_MS, store_many

HOUR_MS = 3_600_000


def _store(database_url, facility, stamps):
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        store_many(session, info, [
            {"device_id": device, "ts_ms": ts, "energy_consumed": 0.1,
             "energy_produced": 0.0, "current_load": 10.0}
            for device, ts in stamps])


def test_newest_reading_found_recent_and_long_ago(database_url, facility):
    now = int(time.time() * 1000) // 1000 * 1000
    old = now - RECENT_MS - 30 * 24 * HOUR_MS  # a month before the window
    _store(database_url, facility, [("meter", old - HOUR_MS), ("meter", old)])
    with session_scope(database_url) as session:
        assert readings.newest_ts(session, facility) == old
        assert readings.last_reading(session, facility).ts_ms == old
        assert readings.previous_ts(session, facility, "meter", now) == old
        assert readings.previous_ts(session, facility, "meter", old) == old - HOUR_MS
        assert readings.previous_ts(session, facility, "meter", old - HOUR_MS) is None
        assert readings.previous_ts(session, facility, "other", now) is None
    _store(database_url, facility, [("meter", now - 60_000), ("meter", now + HOUR_MS)])
    with session_scope(database_url) as session:
        # a device clock ahead of ours is still the newest
        assert readings.newest_ts(session, facility) == now + HOUR_MS
        assert readings.last_reading(session, facility).ts_ms == now + HOUR_MS
        assert readings.previous_ts(session, facility, "meter", now) == now - 60_000
        assert readings.previous_ts(session, facility, "meter", now - 60_000) == old
