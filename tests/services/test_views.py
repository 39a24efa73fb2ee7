"""energy_dash.services.live and .history on both engines, with constructed
readings and exact values.

The ``facility`` fixture is Europe/Berlin, 230 V nominal (warning ±10 %, critical
±15 %, hysteresis 1 %), 60 s expected interval. 2025-03-30 is the 23-hour spring
DST day in Berlin, 2025-10-26 the 25-hour autumn one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Alert, Facility
from energy_dash.services import csv_format, history
from energy_dash.services import live as views
from energy_dash.storage import accounts

MIN = 60_000
HOUR = 3_600_000


def ms(text: str) -> int:
    """Epoch ms of an ISO instant with offset (or Z)."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def store(url: str, facility: int, rows: list[dict]) -> None:
    """Write readings through the public data API (the API's validation applies)."""
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
    for name, default in (("current_load", 10.0),):
        if name not in frame:
            frame[name] = default
    result = data.write_readings(frame, facility, database_url=url)
    assert result["rejected"] == [] and result["accepted"] == len(rows)


def reading(ts: int, produced: float = 0.0, consumed: float = 0.0, **extra) -> dict:
    return {"ts": ts, "energy_produced": produced, "energy_consumed": consumed, **extra}


# ------------------------------------------------------------------ facility
def test_facility_view_bands_and_unknown(database_url, facility):
    view = views.facility_view(facility, database_url=database_url)
    assert view.timezone == "Europe/Berlin"
    assert view.expected_interval_s == 60
    assert view.bands()["warning_low"] == 207.0
    assert view.bands()["critical_high"] == 264.5
    assert view.stale_after_ms() == 120_000
    assert views.facility_view(999, database_url=database_url) is None


# ------------------------------------------------------------ power and state
def test_power_kw_is_interval_energy_over_interval_length(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    # First reading alone: the expected interval (60 s) is its length.
    store(database_url, facility, [reading(t, 0.5, 1.0, voltage=231.0, current1=10,
                                           current2=11, current3=12)])
    state = views.latest_state(facility, now=t + 1000, database_url=database_url)
    assert state["interval_s"] == 60.0
    assert state["production_kw"] == pytest.approx(30.0)
    assert state["consumption_kw"] == pytest.approx(60.0)
    assert state["net_import_kw"] == pytest.approx(30.0)

    # The next reading 90 s later: 1.5 kWh in 90 s is 60 kW; 0.25 kWh is 10 kW.
    # Another device's reading in between does not shorten the interval.
    store(database_url, facility, [
        reading(t + 30_000, 9.0, 9.0, device_id="other-meter"),
        reading(t + 90_000, 1.5, 0.25, voltage=229.0, current1=9, current2=12,
                current3=12),
    ])
    state = views.latest_state(facility, now=t + 95_000, database_url=database_url)
    assert state["last_ms"] == t + 90_000
    assert state["interval_s"] == 90.0
    assert state["production_kw"] == pytest.approx(60.0)
    assert state["consumption_kw"] == pytest.approx(10.0)
    assert state["net_import_kw"] == pytest.approx(-50.0)  # exporting
    assert state["voltage"] == 229.0
    assert state["imbalance_pct"] == pytest.approx(2 / 11 * 100)  # 9, 12, 12 A
    assert state["load_pct"] == 10.0


def test_connected_means_younger_than_twice_the_expected_interval(
    database_url, facility
):
    t = ms("2025-06-02T10:00:00Z")
    assert views.latest_state(facility, now=t, database_url=database_url)[
        "connected"
    ] is False
    store(database_url, facility, [reading(t, 1, 1)])
    young = views.latest_state(facility, now=t + 119_999, database_url=database_url)
    old = views.latest_state(facility, now=t + 120_000, database_url=database_url)
    assert young["connected"] is True and old["connected"] is False
    assert old["age_s"] == 120.0


def test_imbalance_pct_scalars_and_arrays():
    assert views.imbalance_pct(10, 11, 12) == pytest.approx(100 / 11)
    assert views.imbalance_pct(10, 10, 10) == 0.0
    assert views.imbalance_pct(0, 0, 0) is None
    assert views.imbalance_pct(None, 10, 10) is None
    # max |I - mean| / mean: 20, 10, 0 -> mean 10, deviation 10 -> 100 %
    assert views.imbalance_pct(20, 10, 0) == pytest.approx(100.0)
    series = views.imbalance_pct(pd.Series([10.0, 20.0]), pd.Series([10.0, 10.0]),
                                 pd.Series([10.0, 0.0]))
    assert list(series) == [0.0, 100.0]


# ----------------------------------------------------------- local calendar
def test_today_on_the_23_hour_spring_dst_day(database_url, facility):
    # Berlin 2025-03-30 runs from 2025-03-29T23:00Z to 2025-03-30T22:00Z.
    store(database_url, facility, [
        reading(ms("2025-03-29T22:59:00Z"), 100, 100),  # 23:59 on the 29th (CET)
        reading(ms("2025-03-29T23:00:00Z"), 2, 1),       # 00:00 on the 30th
        reading(ms("2025-03-30T01:00:00Z"), 1, 3),       # 03:00 CEST
        reading(ms("2025-03-30T21:59:00Z"), 0.5, 0.0),   # 23:59 CEST
        reading(ms("2025-03-30T22:00:00Z"), 100, 100),  # 00:00 on the 31st
    ])
    totals = views.today_totals(
        facility, now=ms("2025-03-30T12:00:00Z"), database_url=database_url
    )
    assert totals["day"] == "2025-03-30"
    assert totals["end_ms"] - totals["start_ms"] == 23 * HOUR
    assert totals["produced_kwh"] == pytest.approx(3.5)
    assert totals["consumed_kwh"] == pytest.approx(4.0)
    # Σ min(p, c) per reading: min(2,1) + min(1,3) + min(.5,0) = 2 of 4 consumed,
    # not min(3.5, 4) / 4.
    assert totals["self_sufficiency_pct"] == pytest.approx(50.0)
    assert totals["net_import_kwh"] == pytest.approx(0.5)


def test_today_on_the_25_hour_autumn_dst_day(database_url, facility):
    # Berlin 2025-10-26 runs from 2025-10-25T22:00Z to 2025-10-26T23:00Z.
    store(database_url, facility, [
        reading(ms("2025-10-25T21:59:00Z"), 7, 7),      # 23:59 CEST on the 25th
        reading(ms("2025-10-25T22:00:00Z"), 1, 2),      # 00:00 CEST on the 26th
        reading(ms("2025-10-26T22:30:00Z"), 3, 1),      # 23:30 CET on the 26th
        reading(ms("2025-10-26T23:00:00Z"), 7, 7),      # 00:00 on the 27th
    ])
    totals = views.today_totals(
        facility, day=date(2025, 10, 26), database_url=database_url
    )
    assert totals["end_ms"] - totals["start_ms"] == 25 * HOUR
    assert (totals["produced_kwh"], totals["consumed_kwh"]) == (4.0, 3.0)
    assert totals["self_sufficiency_pct"] == pytest.approx(2 / 3 * 100)


def test_self_sufficiency_undefined_without_consumption(database_url, facility):
    store(database_url, facility, [reading(ms("2025-06-02T10:00:00Z"), 5, 0)])
    totals = views.today_totals(facility, day=date(2025, 6, 2),
                                database_url=database_url)
    assert totals["produced_kwh"] == 5.0
    assert totals["self_sufficiency_pct"] is None


def test_daily_energy_on_local_days_across_dst(database_url, facility):
    store(database_url, facility, [
        reading(ms("2025-03-28T23:30:00Z"), 1, 2),  # 00:30 on the 29th (CET)
        reading(ms("2025-03-29T22:30:00Z"), 3, 1),  # 23:30 on the 29th
        reading(ms("2025-03-29T23:30:00Z"), 2, 4),  # 00:30 on the 30th
        reading(ms("2025-03-31T21:30:00Z"), 6, 3),  # 23:30 CEST on the 31st
    ])
    daily = history.daily_energy(facility, date(2025, 3, 29), 4,
                               database_url=database_url)
    assert list(daily.index.strftime("%Y-%m-%d %H:%M%z")) == [
        "2025-03-29 00:00+0100", "2025-03-30 00:00+0100",
        "2025-03-31 00:00+0200", "2025-04-01 00:00+0200",
    ]
    assert list(daily["produced_kwh"].fillna(-1)) == [4.0, 2.0, 6.0, -1]
    assert list(daily["consumed_kwh"].fillna(-1)) == [3.0, 4.0, 3.0, -1]
    # 29th: min(1,2)+min(3,1) = 2 of 3; 30th: 2 of 4; 31st: 3 of 3
    assert daily["self_sufficiency_pct"].iloc[0] == pytest.approx(200 / 3)
    assert list(daily["self_sufficiency_pct"].iloc[1:3]) == [50.0, 100.0]
    assert np.isnan(daily["self_sufficiency_pct"].iloc[3])


def test_week_bounds_are_local_mondays():
    start, end = views.week_bounds(date(2025, 3, 30), "Europe/Berlin")  # a Sunday
    assert start == ms("2025-03-23T23:00:00Z")  # Monday 24th 00:00 CET
    assert end == ms("2025-03-30T22:00:00Z")  # Monday 31st 00:00 CEST
    assert (end - start) == 7 * 24 * HOUR - HOUR


# ------------------------------------------------------------- power series
def test_power_series_buckets_and_the_running_bucket(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    # 0.1 kWh every minute is 6 kW.
    store(database_url, facility, [
        reading(t + i * MIN, 0.1, 0.05 * (1 + (i >= 5))) for i in range(12)
    ])
    frame = views.power_series(facility, t, t + HOUR, "5min",
                               now=t + 11 * MIN + 30_000, database_url=database_url)
    assert list(frame.index.strftime("%H:%M")) == ["12:00", "12:05", "12:10"]
    assert list(frame["production_kw"].round(6)) == [6.0, 6.0, 6.0]
    # consumption 0.05 kWh/min = 3 kW, then 0.1 kWh/min = 6 kW
    assert list(frame["consumption_kw"].round(6)) == [3.0, 6.0, 6.0]
    assert list(frame["net_import_kw"].round(6)) == [-3.0, 0.0, 0.0]


def test_power_series_raw_uses_each_readings_own_interval(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    store(database_url, facility, [
        reading(t, 1.0, 0.5), reading(t + 2 * MIN, 1.0, 0.5),
        reading(t + 3 * MIN, 0.5, 0.5),
    ])
    frame = views.power_series(facility, t, t + HOUR, "raw",
                               database_url=database_url)
    # 60 s expected for the first, then 120 s and 60 s since the previous reading
    assert list(frame["production_kw"]) == [60.0, 30.0, 30.0]
    assert list(frame["consumption_kw"]) == [30.0, 15.0, 30.0]
    assert str(frame.index.tz) == "Europe/Berlin"


def test_choose_resolution_keeps_traces_small():
    day = 86_400
    assert views.choose_resolution(day, 60) == "raw"  # 1440 points
    assert views.choose_resolution(7 * day, 60) == "15min"  # 672
    assert views.choose_resolution(30 * day, 60) == "15min"  # 2880
    assert views.choose_resolution(90 * day, 60) == "1h"  # 2160
    assert views.choose_resolution(365 * day, 60) == "1D"
    assert views.choose_resolution(7 * day, 300) == "raw"  # 2016


def test_resolution_for_counts_readings_of_a_fast_device(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    view = views.facility_view(facility, database_url=database_url)
    store(database_url, facility, [reading(t + i * 1000, 0.001, 0.001)
                                   for i in range(40)])
    assert views.resolution_for(view, t, t + HOUR, database_url=database_url) == "raw"
    assert views.resolution_for(view, t, t + HOUR, database_url=database_url,
                                max_points=30) == "15min"


def test_usage_heatmap_averages_local_hours(database_url, facility):
    # Mondays 2025-06-02 and 2025-06-09, 08:00–08:59 local (CEST = UTC+2):
    # 60 readings of 0.05 and 0.0833… kWh -> 3 kW and 5 kW, averaged 4 kW.
    rows = [reading(ms("2025-06-02T06:00:00Z") + i * MIN, 0, 0.05) for i in range(60)]
    rows += [reading(ms("2025-06-09T06:00:00Z") + i * MIN, 0, 5 / 60)
             for i in range(60)]
    rows += [reading(ms("2025-06-07T21:30:00Z"), 0, 2.0)]  # Saturday 23:30 local
    store(database_url, facility, rows)
    grid = history.usage_heatmap(facility, ms("2025-06-01T00:00:00Z"),
                               ms("2025-06-10T00:00:00Z"), database_url=database_url)
    assert grid.shape == (7, 24)
    assert grid.loc["Mon", 8] == pytest.approx(4.0)
    assert grid.loc["Sat", 23] == pytest.approx(2.0)
    assert int(grid.notna().sum().sum()) == 2


def test_period_comparison_totals_and_change(database_url, facility):
    start, end = views.day_bounds(date(2025, 6, 8), "Europe/Berlin", 7)
    previous = views.local_midnight_ms(date(2025, 6, 1), "Europe/Berlin")
    store(database_url, facility, [
        reading(previous + HOUR, 10, 20),   # previous week
        reading(start + HOUR, 15, 10),      # this week
        reading(end - MIN, 0, 20),
        reading(end, 99, 99),               # next week: excluded
    ])
    result = history.period_comparison(facility, start, end, previous,
                                     database_url=database_url)
    assert result["current"]["produced_kwh"] == 15.0
    assert result["current"]["consumed_kwh"] == 30.0
    assert result["previous"]["consumed_kwh"] == 20.0
    assert result["change_pct"]["produced_kwh"] == pytest.approx(50.0)
    assert result["change_pct"]["consumed_kwh"] == pytest.approx(50.0)
    # net import 15 vs 10 kWh
    assert result["change_pct"]["net_import_kwh"] == pytest.approx(50.0)
    # self-sufficiency 10/30 = 33.3 % vs 10/20 = 50 %: -16.7 percentage points
    assert result["change_pct"]["self_sufficiency_pct"] == pytest.approx(-50 / 3)


def test_period_totals_with_unaligned_edges(database_url, facility):
    # Whole quarter hours come from the rollups, the edges from raw readings.
    t = ms("2025-06-02T10:00:00Z")
    store(database_url, facility, [
        reading(t + 5 * MIN, 100, 100),   # before the range
        reading(t + 10 * MIN, 1, 2),      # edge 10:07–10:15
        reading(t + 20 * MIN, 2, 1),      # rollup 10:15–10:30
        reading(t + 40 * MIN, 4, 4),      # rollup 10:30–10:45
        reading(t + 47 * MIN, 8, 16),     # edge 10:45–10:50
        reading(t + 50 * MIN, 100, 100),  # end is exclusive
    ])
    result = history.period_comparison(facility, t + 7 * MIN, t + 50 * MIN,
                                     t - 36 * MIN, database_url=database_url)
    current = result["current"]
    assert (current["produced_kwh"], current["consumed_kwh"]) == (15.0, 23.0)
    assert current["self_used_kwh"] == 1 + 1 + 4 + 8
    # the previous 43 minutes, [09:24, 10:07), hold the 10:05 reading
    assert result["previous"]["consumed_kwh"] == 100.0
    assert result["change_pct"]["consumed_kwh"] == pytest.approx(-77.0)


def test_daily_power_matches_the_bucketed_series(database_url, facility):
    now = ms("2025-03-31T10:00:00Z")
    store(database_url, facility, [
        reading(ms("2025-03-29T11:00:00Z"), 4.8, 2.4),
        reading(ms("2025-03-30T11:00:00Z"), 4.6, 2.3),  # the 23-hour day
        reading(ms("2025-03-31T09:00:00Z"), 1.2, 0.6),  # today, 12 h elapsed
    ])
    view = views.facility_view(facility, database_url=database_url)
    start, end = views.day_bounds(date(2025, 3, 29), "Europe/Berlin", 3)
    daily = history.daily_energy(facility, date(2025, 3, 29), 3,
                               database_url=database_url)
    fast = history.daily_power(daily, view, end, now=now)
    slow = views.power_series(facility, start, end, "1D", now=now,
                              database_url=database_url)
    assert list(fast["production_kw"].round(9)) == [0.2, 0.2, 0.1]
    pd.testing.assert_frame_equal(fast, slow, check_names=False, check_freq=False,
                                  check_index_type=False)


def test_export_csv_local_time_units_and_formula_guard(database_url, facility):
    t = ms("2025-01-15T12:00:00Z")
    store(database_url, facility, [
        reading(t, 1.5, 2.25, voltage=230.5, device_id="=HYPERLINK(1)"),
        reading(t + MIN, 0.5, 0.25, device_id="meter-2"),
    ])
    text = csv_format.export_csv(facility, t, t + HOUR, database_url=database_url)
    lines = text.splitlines()
    assert lines[0] == (
        "timestamp,facility_id,device_id,energy_produced_kwh,energy_consumed_kwh,"
        "current_load_pct,voltage_v,current_a,current1_a,current2_a,current3_a,"
        "frequency_hz,power_factor"
    )
    assert lines[1] == (
        f"2025-01-15T13:00:00+01:00,{facility},'=HYPERLINK(1),1.5,2.25,10.0,230.5,,,,,,"
    )
    assert lines[2] == (
        f"2025-01-15T13:01:00+01:00,{facility},meter-2,0.5,0.25,10.0,,,,,,,"
    )
    assert len(lines) == 3


# ------------------------------------------------------------------ voltage
def test_voltage_quality_week_figures(database_url, facility):
    sunday = ms("2025-03-30T08:00:00Z")
    voltages = [230, 207, 253, 206.9, 230, 253.1, 230, 0, 230]
    rows = [reading(sunday + i * MIN, 0, 1, voltage=v) for i, v in enumerate(voltages)]
    rows.append(reading(sunday + 20 * MIN, 0, 1))  # no voltage: not counted
    rows.append(reading(ms("2025-03-23T22:30:00Z"), 0, 1, voltage=100))  # last week
    rows.append(reading(ms("2025-03-30T22:30:00Z"), 0, 1, voltage=300))  # next week
    store(database_url, facility, rows)
    start, end = views.week_bounds(date(2025, 3, 27), "Europe/Berlin")
    quality = history.voltage_quality(facility, start, end, database_url=database_url)
    assert quality["readings"] == 9
    assert quality["within"] == 6  # 230 ×4, 207 and 253 (edges count as inside)
    assert quality["within_pct"] == pytest.approx(200 / 3)
    assert (quality["band_low"], quality["band_high"]) == (207.0, 253.0)
    assert (quality["sags"], quality["swells"], quality["outages"]) == (1, 1, 1)
    empty = history.voltage_quality(facility, end, end + 7 * 24 * HOUR - HOUR,
                                  database_url=database_url)
    assert empty["readings"] == 1 and empty["within_pct"] == 0.0


def test_voltage_series_with_imbalance(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    store(database_url, facility, [
        reading(t, 0, 1, voltage=230, current1=10, current2=10, current3=10,
                frequency=50.01, power_factor=0.97),
        reading(t + MIN, 0, 1, voltage=228, current1=20, current2=10, current3=0),
    ])
    frame = history.voltage_series(facility, t, t + HOUR, "raw",
                                 database_url=database_url)
    assert list(frame["voltage"]) == [230.0, 228.0]
    assert list(frame["imbalance_pct"]) == [0.0, 100.0]
    assert frame["frequency"].iloc[0] == 50.01
    resampled = history.voltage_series(facility, t, t + HOUR, "15min",
                                     database_url=database_url)
    assert resampled["voltage"].iloc[0] == 229.0


# ------------------------------------------------------------------- alerts
def _make_alerts(url: str, facility: int) -> int:
    """A closed low-voltage alert and an open high-voltage alert."""
    t = ms("2025-06-02T10:00:00Z")
    store(url, facility, [
        reading(t, 0, 1, voltage=200.0),
        reading(t + MIN, 0, 1, voltage=190.0),
        reading(t + 2 * MIN, 0, 1, voltage=230.0),
        reading(t + 10 * MIN, 0, 1, voltage=260.0),
    ])
    return t


def test_alert_log_open_alerts_and_ticker_order(database_url, facility):
    t = _make_alerts(database_url, facility)
    log = views.alert_log(facility, t - HOUR, t + HOUR, database_url=database_url)
    assert [(a["kind"], a["level"]) for a in log] == [
        ("voltage_high", "warning"), ("voltage_low", "critical"),
    ]
    closed = log[1]
    assert closed["started_ms"] == t and closed["ended_ms"] == t + 2 * MIN
    assert closed["duration_s"] == 120.0
    assert closed["extreme_value"] == 190.0
    assert log[0]["ended_ms"] is None and log[0]["duration_s"] is None
    opened = views.open_alerts(facility, database_url=database_url)
    assert [a["kind"] for a in opened] == ["voltage_high"]
    ticker = views.recent_alerts(facility, now=t + HOUR, database_url=database_url)
    assert [a["ended_ms"] is None for a in ticker] == [True, False]
    # An alert that ended more than 24 h before is no longer in the ticker.
    later = views.recent_alerts(facility, now=t + 30 * HOUR, database_url=database_url)
    assert [a["kind"] for a in later] == ["voltage_high"]


def test_acknowledge_alert_records_who_and_when(database_url, facility):
    t = _make_alerts(database_url, facility)
    with session_scope(database_url) as session:
        other = Facility(name="Other", timezone="UTC")
        session.add(other)
        session.flush()
        other_id = other.id
        user = accounts.create_user(session, "olga", "correct horse battery",
                                    check_strength=False)
        user_id = user.id
        alert_id = session.query(Alert.id).filter_by(kind="voltage_low").scalar()
    when = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert views.acknowledge_alert(database_url, other_id, alert_id, user_id,
                                   now=when) is False  # not that facility's alert
    assert views.acknowledge_alert(database_url, facility, 9999, user_id) is False
    assert views.acknowledge_alert(database_url, facility, alert_id, user_id,
                                   now=when) is True
    assert views.acknowledge_alert(database_url, facility, alert_id, user_id) is False
    log = views.alert_log(facility, t - HOUR, t + HOUR, database_url=database_url)
    acked = next(a for a in log if a["id"] == alert_id)
    assert acked["acknowledged_by"] == "olga"
    assert acked["acknowledged_ms"] == ms("2025-06-02T12:00:00Z")
    with session_scope(database_url) as session:
        assert views.acknowledge_alert(session, facility, alert_id, user_id) is False


# --------------------------------------------------------------------- live
def test_live_signature_changes_only_with_news(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    store(database_url, facility, [reading(t, 1, 1, voltage=230.0)])
    first = views.live_signature(facility, now=t + 1000, database_url=database_url)
    again = views.live_signature(facility, now=t + 2000, database_url=database_url)
    assert first == again and first["last_ms"] == t and first["connected"] is True
    stale = views.live_signature(facility, now=t + 120_000, database_url=database_url)
    assert stale["connected"] is False
    store(database_url, facility, [reading(t + MIN, 1, 1, voltage=300.0)])
    news = views.live_signature(facility, now=t + MIN, database_url=database_url)
    assert news["last_ms"] == t + MIN and len(news["alerts"]) == 1
    assert views.live_signature(999, database_url=database_url) is None


def test_wall_update_points_since_the_last_drawn_reading(database_url, facility):
    t = ms("2025-06-02T10:00:00Z")
    store(database_url, facility, [reading(t + i * MIN, 0.5, 0.25) for i in range(3)])
    update = views.wall_update(facility, t, now=t + 3 * MIN,
                               database_url=database_url)
    assert update["points"] == [(t + MIN, 30.0, 15.0), (t + 2 * MIN, 30.0, 15.0)]
    assert update["complete"] is True
    assert update["today"]["produced_kwh"] == 1.5
    assert update["state"]["production_kw"] == 30.0
    none_new = views.wall_update(facility, t + 2 * MIN, now=t + 3 * MIN,
                                 database_url=database_url)
    assert none_new["points"] == []
    capped = views.wall_update(facility, t - MIN, now=t + 3 * MIN, limit=2,
                               database_url=database_url)
    assert capped["complete"] is False and len(capped["points"]) == 2
    assert views.wall_points(facility, t + MIN, database_url=database_url) == [
        (t + 2 * MIN, 30.0, 15.0)
    ]


def test_dashboard_update_equals_the_single_figures(database_url, facility):
    t = ms("2025-01-15T12:00:00Z")
    store(database_url, facility, [reading(t, 1.5, 2.25, voltage=230.5)])
    now = t + MIN
    update = views.dashboard_update(facility, now=now, database_url=database_url)
    assert update["facility"] == views.facility_view(
        facility, database_url=database_url
    )
    assert update["state"] == views.latest_state(
        facility, now=now, database_url=database_url
    )
    assert update["today"] == views.today_totals(
        facility, now=now, database_url=database_url
    )
    assert update["alerts"] == views.open_alerts(facility, database_url=database_url)
    assert update["state"]["connected"] is True
