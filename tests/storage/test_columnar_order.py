"""Batches in (device, time) order skip the hash and sort steps of the bulk
writer; out-of-order and repeated rows must still count and sum exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from energy_dash import data
from energy_dash.db import get_engine


def minutes(stamps, device=None) -> pd.DataFrame:
    index = pd.DatetimeIndex(stamps, tz="UTC")
    frame = pd.DataFrame({"energy_produced": 0.01, "energy_consumed": 0.02,
                          "current_load": 30.0}, index=index)
    if device is not None:
        frame["device_id"] = device
    return frame


def rollups(url: str, facility: int) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT bucket_ms, samples FROM reading_rollups WHERE facility_id = :f "
            "ORDER BY bucket_ms"), {"f": facility})]


def test_a_repeat_inside_a_time_ordered_batch_is_one_duplicate(database_url, facility):
    stamps = pd.date_range("2025-03-01", periods=40, freq="1min").tolist()
    stamps.insert(20, stamps[20])  # the same minute twice, still in order
    result = data.write_readings(minutes(stamps), facility, database_url=database_url)
    assert result == {"accepted": 40, "duplicates": 1, "rejected": []}
    assert [n for _, n in rollups(database_url, facility)] == [15, 15, 10]


def test_shuffled_devices_and_times_sum_like_ordered_ones(database_url, facility):
    stamps = pd.date_range("2025-03-01", periods=30, freq="1min")
    frame = pd.concat([minutes(stamps, "b"), minutes(stamps, "a")])
    shuffled = frame.iloc[np.random.default_rng(3).permutation(len(frame))]
    result = data.write_readings(shuffled, facility, database_url=database_url)
    assert result == {"accepted": 60, "duplicates": 0, "rejected": []}
    start = int(stamps[0].timestamp() * 1000)
    assert rollups(database_url, facility) == [(start, 30), (start + 900_000, 30)]
    again = data.write_readings(frame, facility, database_url=database_url)
    assert again == {"accepted": 0, "duplicates": 60, "rejected": []}
