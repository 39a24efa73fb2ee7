"""The pandas data module (README "Notebooks") on both engines, with exact values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility


def minute_frame(start: str, periods: int, **columns) -> pd.DataFrame:
    index = pd.date_range(start, periods=periods, freq="1min", tz="UTC")
    base = {"energy_produced": 0.01, "energy_consumed": 0.02, "current_load": 40.0}
    base.update(columns)
    return pd.DataFrame(base, index=index)


def test_write_then_read_round_trip(database_url, facility):
    frame = minute_frame("2025-06-01 10:00", 5, voltage=[230.0, 231, 232, 233, 234])
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result == {"accepted": 5, "duplicates": 0, "rejected": []}

    out = data.read_readings(facility, database_url=database_url)
    assert list(out.index) == list(frame.index)
    assert out.index.name == "timestamp"
    assert str(out.index.tz) == "UTC"
    assert out["voltage"].tolist() == [230.0, 231.0, 232.0, 233.0, 234.0]
    assert out["facility_id"].unique().tolist() == [facility]
    assert out["device_id"].unique().tolist() == ["notebook"]
    assert out["current"].isna().all()


def test_half_open_interval_naive_is_utc_and_tz(database_url, facility):
    data.write_readings(
        minute_frame("2025-06-01 10:00", 10), facility, database_url=database_url
    )
    out = data.read_readings(
        facility,
        "2025-06-01 10:02",
        "2025-06-01 10:05",
        tz="Europe/Berlin",
        database_url=database_url,
    )
    assert [t.strftime("%H:%M %z") for t in out.index] == [
        "12:02 +0200",
        "12:03 +0200",
        "12:04 +0200",
    ]
    only = data.read_readings(facility, columns=["voltage"], database_url=database_url)
    assert list(only.columns) == ["facility_id", "device_id", "voltage"]


def test_duplicates_and_rejections_name_fields(database_url, facility):
    frame = minute_frame("2025-06-01 10:00", 3)
    data.write_readings(frame, facility, database_url=database_url)
    mixed = minute_frame("2025-06-01 10:02", 3)
    mixed.iloc[1, mixed.columns.get_loc("current_load")] = 140.0
    mixed["voltage"] = [230.0, 230.0, -5.0]
    result = data.write_readings(mixed, facility, database_url=database_url)
    assert result["accepted"] == 0
    assert result["duplicates"] == 1
    assert result["rejected"] == [
        {
            "index": 1,
            "details": [{"field": "current_load", "message": "must be <= 100"}],
        },
        {"index": 2, "details": [{"field": "voltage", "message": "must be >= 0"}]},
    ]
    assert len(data.read_readings(facility, database_url=database_url)) == 3


def test_write_to_unknown_facility_is_an_error(database_url):
    with pytest.raises(ValueError, match="facility 42 does not exist"):
        data.write_readings(
            minute_frame("2025-06-01", 1), 42, database_url=database_url
        )


def test_hourly_resample_sums_energy_and_averages_electrical(database_url, facility):
    frame = minute_frame("2025-06-01 10:00", 120)
    frame["energy_produced"] = np.arange(120) * 0.001
    frame["voltage"] = np.where(np.arange(120) < 60, 228.0, 232.0)
    data.write_readings(frame, facility, database_url=database_url)
    hourly = data.read_readings(facility, resample="1h", database_url=database_url)
    assert len(hourly) == 2
    assert hourly["energy_produced"].round(6).tolist() == [
        round(sum(range(60)) * 0.001, 6),
        round(sum(range(60, 120)) * 0.001, 6),
    ]
    assert hourly["energy_consumed"].round(6).tolist() == [1.2, 1.2]
    assert hourly["voltage"].tolist() == [228.0, 232.0]
    assert hourly["samples"].tolist() == [60, 60]
    # self-supplied sums min(produced, consumed) per reading, not per bucket
    expected = np.minimum(frame["energy_produced"], 0.02)
    assert hourly["self_supplied"].sum() == pytest.approx(expected.sum())


def test_unaligned_bounds_match_raw_resampling(database_url, facility):
    rng = np.random.default_rng(7)
    frame = minute_frame(
        "2025-06-01 00:00",
        6 * 60,
        energy_produced=rng.random(360) * 0.05,
        voltage=230 + rng.normal(0, 3, 360),
    )
    data.write_readings(frame, facility, database_url=database_url)
    start, end = "2025-06-01 00:07", "2025-06-01 05:52"
    fast = data.read_readings(
        facility, start, end, resample="1h", database_url=database_url
    )
    raw = data.read_readings(facility, start, end, database_url=database_url)
    slow = raw.resample("1h").agg({"energy_produced": "sum", "voltage": "mean"})
    np.testing.assert_allclose(fast["energy_produced"], slow["energy_produced"])
    np.testing.assert_allclose(fast["voltage"], slow["voltage"])
    assert fast["samples"].sum() == len(raw) == 345
    five = data.read_readings(
        facility, start, end, resample="5min", database_url=database_url
    )
    assert five["samples"].sum() == 345
    assert five.index[0] == pd.Timestamp("2025-06-01 00:05", tz="UTC")


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2025-03-30", 23), ("2025-10-26", 25), ("2025-03-29", 24)],
)
def test_daily_buckets_are_local_days_across_dst(database_url, facility, day, hours):
    # one kWh every minute for four days around the change, in UTC
    start = pd.Timestamp(day, tz="Europe/Berlin") - pd.Timedelta(days=2)
    frame = minute_frame(start.tz_convert("UTC"), 4 * 24 * 60, energy_consumed=1.0)
    data.write_readings(frame, facility, database_url=database_url)
    daily = data.read_readings(
        facility, resample="1D", tz="Europe/Berlin", database_url=database_url
    )
    local = daily.loc[pd.Timestamp(day, tz="Europe/Berlin")]
    assert local["energy_consumed"] == hours * 60
    assert local["samples"] == hours * 60
    assert daily.index.tz is not None


def test_resample_of_all_facilities_keeps_each_calendar(database_url, facility):
    with session_scope(database_url) as session:
        session.add(Facility(name="Tokyo", timezone="Asia/Tokyo"))
    frame = minute_frame("2025-06-01 00:00", 24 * 60, energy_consumed=1.0)
    data.write_readings(frame, facility, database_url=database_url)
    data.write_readings(frame, 2, database_url=database_url)
    daily = data.read_readings(resample="1D", database_url=database_url)
    berlin = daily[daily.facility_id == facility]
    tokyo = daily[daily.facility_id == 2]
    # 2025-06-01 00:00 UTC is 02:00 in Berlin and 09:00 in Tokyo
    assert berlin["energy_consumed"].tolist() == [22 * 60, 2 * 60]
    assert tokyo["energy_consumed"].tolist() == [15 * 60, 9 * 60]


def test_empty_reads_have_the_documented_shape(database_url, facility):
    raw = data.read_readings(facility, database_url=database_url)
    assert raw.empty and raw.index.name == "timestamp" and str(raw.index.tz) == "UTC"
    hourly = data.read_readings(facility, resample="1h", database_url=database_url)
    assert hourly.empty and "energy_consumed" in hourly.columns


def test_unknown_column_is_a_clear_error(database_url, facility):
    with pytest.raises(ValueError, match="unknown column"):
        data.read_readings(facility, columns=["watts"], database_url=database_url)


def test_list_facilities(database_url, facility):
    frame = data.list_facilities(database_url=database_url)
    assert frame.loc[0, "name"] == "Test Facility"
    assert frame.loc[0, "timezone"] == "Europe/Berlin"
    assert frame.loc[0, "nominal_voltage"] == 230.0


def test_alerts_come_from_the_write_path(database_url, facility):
    volts = [230.0] * 3 + [255.0, 266.0, 252.0, 250.0, 230.0] + [0.0, 0.0, 230.0]
    frame = minute_frame("2025-06-01 10:00", len(volts), voltage=volts)
    data.write_readings(frame, facility, database_url=database_url)
    alerts = data.read_alerts(facility, database_url=database_url)
    assert alerts[["kind", "level", "extreme_value"]].values.tolist() == [
        ["outage", "critical", 0.0],
        ["voltage_high", "critical", 266.0],
    ]
    high = alerts.iloc[1]
    assert high["started_at"] == pd.Timestamp("2025-06-01 10:03", tz="UTC")
    # 252 V is still above 230 × 1.09 = 250.7 V (hysteresis); 250 V closes it
    assert high["ended_at"] == pd.Timestamp("2025-06-01 10:06", tz="UTC")
    assert high["duration_s"] == 180.0
    window = data.read_alerts(
        facility, "2025-06-01 10:07", "2025-06-01 10:20", database_url=database_url
    )
    assert window["kind"].tolist() == ["outage"]


def test_read_forecast_is_empty_before_the_first_run(database_url, facility):
    frame = data.read_forecast(facility, database_url=database_url)
    assert frame.empty and list(frame.columns) == ["yhat", "yhat_lower", "yhat_upper"]
    with pytest.raises(ValueError):
        data.read_forecast(facility, target="wind", database_url=database_url)


def test_importing_the_data_module_starts_nothing():
    code = (
        "import sys; import energy_dash.data; "
        "print(sorted(m for m in ('dash', 'flask', 'apscheduler', 'prophet') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
