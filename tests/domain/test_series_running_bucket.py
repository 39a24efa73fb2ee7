"""The bucket still running holds its readings' real intervals (the one interval
rule), not one expected interval per reading."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_dash.domain.series import (
    bucket_power,
    covered_since_s,
    lookback_ms,
    running_bucket_ms,
)

T = 1_767_225_600_000  # 2026-01-01 00:00 UTC
MIN = 60_000


def _raw(stamps_ms, devices):
    index = pd.to_datetime(stamps_ms, unit="ms", utc=True)
    return pd.DataFrame({"device_id": devices}, index=index)


def test_covered_time_uses_each_readings_previous_one():
    # one meter every minute since 23:50, one that posts its first reading at 00:02
    stamps = [T - 2 * MIN, T - MIN, T, T + MIN, T + 2 * MIN, T + 2 * MIN]
    frame = _raw(stamps, ["a", "a", "a", "a", "a", "b"])
    # a: 60 s each for 00:00, 00:01, 00:02; b: its first, the expected 300 s
    assert covered_since_s(frame, T, 300) == 480.0
    # a reading 15 minutes after its previous one counts at most twice 300 s
    late = _raw([T - 15 * MIN, T], ["a", "a"])
    assert covered_since_s(late, T, 300) == 600.0
    assert covered_since_s(_raw([], []), T, 300) == 0.0
    assert lookback_ms(300) == 600_000


def test_running_bucket_power_of_a_fast_meter_on_a_slow_facility():
    index = pd.date_range("2026-01-01 00:00", periods=3, freq="5min", tz="UTC")
    now = T + 12 * MIN  # the 00:10 bucket holds 00:10, 00:11, 00:12
    assert running_bucket_ms(index, "5min", T + 30 * MIN, now) == T + 10 * MIN
    samples = np.array([5, 5, 3])
    consumed = np.array([0.35, 0.35, 0.21])  # 0.07 kWh a minute: 4.2 kW
    guessed = bucket_power(index, consumed, consumed, samples, "5min", T + 30 * MIN,
                           now, 300)
    # without the real intervals: one expected 300 s per reading
    assert guessed["consumption_kw"].round(9).tolist() == [4.2, 4.2, 0.84]
    new = bucket_power(index, consumed, consumed, samples, "5min", T + 30 * MIN,
                       now, 300, 180.0)
    assert new["consumption_kw"].round(9).tolist() == [4.2, 4.2, 4.2]
    assert running_bucket_ms(index, "5min", T + 30 * MIN, T + 20 * MIN) is None
