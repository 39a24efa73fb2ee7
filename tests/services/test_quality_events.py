"""The data-quality log on both engines: record, throttle, read, detect."""

from __future__ import annotations

import time

from energy_dash.db import session_scope
from energy_dash.domain.quality import QualityEvent
from energy_dash.services import quality

T0 = 1_767_225_600_000
MIN = 60_000


def test_record_throttle_and_read(database_url, facility):
    events = [
        QualityEvent(T0, "counter_glitch", "plug", "register 0 after 12.5"),
        QualityEvent(T0 + MIN, "malformed", "plug", "payload is not JSON"),
        QualityEvent(T0 + 2 * MIN, "malformed", "plug", "payload is not JSON"),
    ]
    with session_scope(database_url, write=True) as session:
        kept = quality.record(session, facility, events, now_ms=T0)
    assert kept == 2  # the repeated malformed message within 15 min is noise
    assert quality.record_now(database_url, None, [
        QualityEvent(T0, "unbound", None, "tele/unknown/SENSOR")]) == 1
    rows = quality.list_events(database_url, [facility])
    assert [(r["ts_ms"], r["kind"], r["device_id"]) for r in rows] == [
        (T0, "counter_glitch", "plug"), (T0 + MIN, "malformed", "plug")]
    assert quality.list_events(database_url, [facility], T0 + 1)[0]["kind"] == (
        "malformed")
    assert quality.open_count(database_url, facility, T0 + 3600_000) == 2
    assert quality.open_count(database_url, facility, T0 + 25 * 3600_000) == 0
    everything = quality.list_events(database_url, None)
    assert {r["facility_id"] for r in everything} == {facility, None}


def test_detect_gaps_and_stuck_power_once(database_url, facility):
    points = [(T0 + i * 5 * MIN, "m", 0.0, 0.1) for i in range(80)]  # 1.2 kW, 6.6 h
    points += [(T0 + 80 * 5 * MIN + 20 * MIN, "m", 0.0, 0.2)]  # a 20 min gap
    events = quality.detect_series(points, 300)
    assert sorted(e.kind for e in events) == ["gap", "stuck"]
    stuck = next(e for e in events if e.kind == "stuck")
    # the reading after the gap books 0.2 kWh over a capped 10 min: 1.2 kW too
    assert stuck.detail == "power stayed at exactly 1.2 for 7.0 h"
    with session_scope(database_url, write=True) as session:
        fresh = quality.new_only(session, facility, events)
        quality.record(session, facility, fresh)
    with session_scope(database_url, write=True) as session:
        assert quality.new_only(session, facility, events) == []


def test_the_periodic_check_logs_gaps_once(database_url, facility):
    from energy_dash.storage.facilities import load_info
    from energy_dash.storage.readings import store_many

    now = int(time.time() * 1000) // 60_000 * 60_000
    stamps = [now - 60 * MIN + i * MIN for i in range(10)]  # every 60 s
    stamps += [now - 30 * MIN + i * MIN for i in range(5)]  # then a 21 min gap
    rows = [{"ts_ms": ts, "device_id": "m", "energy_produced": 0.0,
             "energy_consumed": 0.01 * (i % 3), "current_load": 1.0}
            for i, ts in enumerate(stamps)]
    with session_scope(database_url, write=True) as session:
        store_many(session, load_info(session, facility), rows)
    assert quality.check_all(database_url, now) == 1
    assert quality.check_all(database_url, now + MIN) == 0
    [event] = quality.list_events(database_url, [facility])
    assert (event["kind"], event["ts_ms"]) == ("gap", now - 51 * MIN)
