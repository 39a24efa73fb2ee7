"""Data-quality detectors: gaps, stuck values, clock skew, conflicting duplicates."""

from __future__ import annotations

import pytest

from energy_dash.domain import quality
from energy_dash.domain.quality import QualityEvent

T0 = 1_767_225_600_000
MIN = 60_000


def test_the_nine_kinds():
    assert quality.KINDS == (
        "gap", "counter_reset", "counter_glitch", "spike", "stuck", "clock_skew",
        "unbound", "malformed", "conflict",
    )
    assert set(quality.LABELS) == set(quality.KINDS)
    with pytest.raises(ValueError):
        QualityEvent(T0, "nonsense")


def test_gap_is_more_than_twice_the_expected_interval():
    stamps = [T0, T0 + 5 * MIN, T0 + 15 * MIN, T0 + 26 * MIN, T0 + 31 * MIN]
    events = quality.find_gaps(stamps, 300, device_id="plug")
    # 10 min is exactly 2x (not a gap); 11 min is.
    assert [(e.ts_ms, e.kind, e.device_id) for e in events] == [
        (T0 + 15 * MIN, "gap", "plug")
    ]
    assert events[0].detail == "no reading for 11 min (expected every 5 min)"


def test_stuck_needs_six_hours_of_identical_non_zero_power():
    hour = 60 * MIN
    stuck = [(T0 + i * hour, 1.25) for i in range(7)]  # 6 h of 1.25 kW
    events = quality.find_stuck(stuck, device_id="m")
    assert [(e.ts_ms, e.kind) for e in events] == [(T0, "stuck")]
    assert events[0].detail == "power stayed at exactly 1.25 for 6.0 h"
    # Five hours is not stuck; zero power (night) never is; a change breaks the run.
    assert quality.find_stuck(stuck[:6]) == []
    assert quality.find_stuck([(T0 + i * hour, 0.0) for i in range(12)]) == []
    broken = stuck[:4] + [(T0 + 4 * hour, 1.3)] + [(T0 + i * hour, 1.25)
                                                   for i in range(5, 12)]
    assert [e.ts_ms for e in quality.find_stuck(broken)] == [T0 + 5 * hour]


def test_clock_skew_beyond_two_minutes():
    assert quality.clock_skew(T0 + 120_000, T0) is None
    event = quality.clock_skew(T0 - 3 * 3_600_000, T0, device_id="tasmota")
    assert event is not None and event.kind == "clock_skew"
    assert event.detail == "device clock 3.0 h behind the server"
    ahead = quality.clock_skew(T0 + 121_000, T0)
    assert ahead is not None
    assert ahead.detail == "device clock 2 min ahead of the server"


def test_conflict_only_when_values_differ():
    stored = {"energy_consumed": 0.5, "voltage": 230.0}
    assert quality.conflict(T0, "d", stored, {"energy_consumed": 0.5}) is None
    incoming = {"energy_consumed": 0.7, "voltage": 230.0}
    event = quality.conflict(T0, "d", stored, incoming)
    assert event is not None
    assert event.detail == "same timestamp, different energy_consumed; first kept"
