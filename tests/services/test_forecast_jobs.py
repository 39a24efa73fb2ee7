"""Forecast refresh job, stored runs, forecast-vs-actual and unusual-consumption alerts.

Real Prophet fits on 17 days of constructed hourly data (a few seconds each), real
databases (SQLite and PostgreSQL through ``database_url``), a frozen ``now``.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Alert, Facility, Forecast, utc
from energy_dash.forecasting import BASELINES, FORECAST_MODELS
from energy_dash.jobs import (
    check_anomalies_now,
    refresh_forecasts,
    run_exclusive,
    scheduled_jobs,
)
from energy_dash.services import forecasts as store

TZ = "Europe/Berlin"
NOW = datetime(2026, 6, 18, 10, 20, tzinfo=UTC)  # 12:20 in Berlin (CEST)
HOUR_START = pd.Timestamp("2026-06-18 10:00", tz="UTC")


def hourly_frame(hours: int, end: pd.Timestamp = HOUR_START, seed: int = 3):
    """``hours`` hourly readings ending just before ``end``: a workday consumption
    profile with noise and a clear-sky-ish solar curve (0 at night)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end=end - pd.Timedelta(hours=1), periods=hours, freq="h")
    local = index.tz_convert(TZ)
    h = local.hour.to_numpy()
    workday = local.day_of_week.to_numpy() < 5
    consumed = np.where(
        workday,
        3 + 4 * np.exp(-(((h - 11) / 3.5) ** 2)),
        3 + 1.5 * np.exp(-(((h - 13) / 4) ** 2)),
    ) + rng.normal(0, 0.3, len(index))
    sun = np.clip(np.sin(np.pi * (h - 6) / 15), 0, None)
    produced = np.round(6 * sun * rng.uniform(0.6, 1.0, len(index)), 3)
    return pd.DataFrame(
        {
            "energy_consumed": np.round(consumed, 3),
            "energy_produced": produced,
            "current_load": 20.0,
        },
        index=index,
    )


def write(url: str, facility: int, frame: pd.DataFrame) -> None:
    result = data.write_readings(frame, facility, database_url=url)
    assert result["rejected"] == []


def rows(url: str, facility: int) -> list[Forecast]:
    with session_scope(url) as session:
        return list(
            session.scalars(
                select(Forecast)
                .where(Forecast.facility_id == facility)
                .order_by(Forecast.target, Forecast.id)
            )
        )


# ------------------------------------------------------------------ refresh


def test_refresh_stores_one_row_per_target_with_metrics_and_24_points(
    settings, facility
):
    url = settings.database_url
    write(url, facility, hourly_frame(17 * 24))
    results = refresh_forecasts(settings, now=NOW, timeout=60)

    assert [(r["facility_id"], r["target"], r["status"]) for r in results] == [
        (facility, "consumption", "stored"),
        (facility, "production", "stored"),
    ]
    stored = rows(url, facility)
    assert [r.target for r in stored] == ["consumption", "production"]
    for row, result in zip(stored, results, strict=True):
        assert row.model == result["model"] and row.model in FORECAST_MODELS
        assert row.id == result["forecast_id"]
        points = row.points
        assert len(points["timestamp"]) == 24
        assert points["timestamp"][0] == "2026-06-18T10:00:00Z"
        assert points["timestamp"][-1] == "2026-06-19T09:00:00Z"
        for key in ("yhat", "yhat_lower", "yhat_upper"):
            assert len(points[key]) == 24
        assert all(
            lo <= y <= hi
            for lo, y, hi in zip(
                points["yhat_lower"], points["yhat"], points["yhat_upper"], strict=True
            )
        )
        metrics = row.metrics
        assert metrics["folds"] == 3  # 17 days: 3 daily origins before MSTL's 14
        assert metrics["history_hours"] == 17 * 24
        assert metrics["mae"] > 0 and 0 <= metrics["coverage"] <= 1
        assert metrics["baseline"] in BASELINES
        assert set(BASELINES) <= set(metrics["candidates"])
        assert "prophet" in metrics["candidates"]  # two weeks or more: Prophet ran
        assert utc(row.trained_at) == NOW
        assert utc(row.start) == HOUR_START
    consumption = data.read_forecast(facility, "consumption", database_url=url)
    assert len(consumption) == 24 and (consumption["yhat_lower"] >= 0).all()
    production = data.read_forecast(facility, "production", database_url=url)
    night = production[production.index.tz_convert(TZ).hour.isin([0, 1, 2, 3])]
    assert len(night) == 4 and (night == 0.0).all().all()
    noon = production[production.index.tz_convert(TZ).hour == 13]
    assert float(noon["yhat"].iloc[0]) > 1.0


def test_under_two_days_stores_nothing_and_says_how_much_there_is(settings, facility):
    url = settings.database_url
    assert [r["message"] for r in refresh_forecasts(settings, now=NOW)] == [
        "Forecasts need at least 2 days of readings; this facility has 0 hours"
    ] * 2
    write(url, facility, hourly_frame(30))
    results = refresh_forecasts(settings, facility_id=facility, now=NOW)
    assert results == [
        {
            "facility_id": facility,
            "target": target,
            "model": None,
            "status": "not_enough_history",
            "message": "Forecasts need at least 2 days of readings; "
            "this facility has 30 hours",
        }
        for target in ("consumption", "production")
    ]
    assert rows(url, facility) == []
    status = store.history_status(facility, now=NOW, database_url=url)
    assert status == {
        "hours": 30,
        "enough": False,
        "prophet": False,
        "message": "Forecasts need at least 2 days of readings; "
        "this facility has 30 hours",
    }


def test_under_two_weeks_uses_baselines_only_and_says_so(settings, facility):
    url = settings.database_url
    write(url, facility, hourly_frame(4 * 24))
    results = refresh_forecasts(settings, now=NOW)
    assert [r["status"] for r in results] == ["stored", "stored"]
    for row in rows(url, facility):
        assert row.model in BASELINES
        assert row.note.startswith(
            "Only 4.0 days of history: seasonal-naive baselines only "
            "(MSTL and Prophet need 14 days)."
        )
        assert "prophet" not in row.metrics["candidates"]
        assert row.metrics["folds"] == 3 and row.metrics["mae"] >= 0
        assert row.metrics["skill_vs_naive"] == 0.0


def test_a_prophet_timeout_falls_back_to_the_best_baseline_and_the_note_says_so(
    settings, facility
):
    url = settings.database_url
    write(url, facility, hourly_frame(17 * 24))
    results = refresh_forecasts(
        settings, facility_id=facility, now=NOW, timeout=0.001
    )
    assert [r["status"] for r in results] == ["stored", "stored"]
    for row in rows(url, facility):
        candidates = row.metrics["candidates"]
        assert {"mstl", *BASELINES} <= set(candidates)
        assert set(candidates) <= {"mstl", "mstl_ets", "ensemble", *BASELINES}
        assert row.model == min(candidates, key=candidates.get)
        assert row.metrics["fallback_reason"] == "prophet fit timed out after 0.001 s"
        word = {"seasonal_naive_day": "same time yesterday",
                "seasonal_naive_week": "same time last week",
                "mstl": "MSTL", "mstl_ets": "MSTL",
                "ensemble": "an ensemble"}[row.model]
        assert row.note.endswith(
            "Prophet fit timed out after 0.001 s: Prophet was left out and "
            f"{word} was used."
        )
        assert len(row.points["yhat"]) == 24


def test_two_schedulers_on_one_database_refresh_once(settings, facility):
    url = settings.database_url
    write(url, facility, hourly_frame(3 * 24))
    ran = []

    def scheduler():
        ran.append(
            run_exclusive(
                settings,
                "forecast_refresh",
                3600,
                lambda: refresh_forecasts(settings, now=NOW),
                now=NOW,
            )
        )

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == [False, True]
    with session_scope(url) as session:
        counts = dict(
            session.execute(
                select(Forecast.target, func.count()).group_by(Forecast.target)
            ).all()
        )
    assert counts == {"consumption": 1, "production": 1}


def test_the_scheduler_runs_refresh_and_anomaly_jobs(settings):
    jobs = {name: (interval, job) for name, interval, job in scheduled_jobs(settings)}
    assert "forecast_refresh" in jobs and "anomaly_check" in jobs  # all: test_jobs
    assert jobs["forecast_refresh"][1]()["queued"] == 0  # no facility: nothing to do
    assert jobs["anomaly_check"][1]() == []


def test_an_unknown_facility_is_refused(settings):
    with pytest.raises(LookupError, match="facility 99 does not exist"):
        refresh_forecasts(settings, facility_id=99, now=NOW)


# ------------------------------------------------------------ history and runs


def test_hourly_history_fills_short_gaps_only(database_url, facility):
    frame = hourly_frame(48)
    frame["energy_consumed"] = np.arange(48, dtype=float)
    gaps = frame.index[[10, 11, 30, 31, 32, 33, 34]]  # 2 hours, then 5 hours
    write(database_url, facility, frame.drop(gaps))
    history = store.hourly_history(facility, end=NOW, database_url=database_url)
    assert len(history) == 48 and str(history.index.tz) == TZ
    assert history.index[0] == frame.index[0]
    consumed = history["energy_consumed"]
    assert consumed.iloc[10:12].tolist() == [10.0, 11.0]  # interpolated
    assert consumed.iloc[30:35].isna().all()  # a long gap is not invented
    assert history.attrs["hours_with_data"] == 41
    assert history.attrs["filled_hours"] == 2


def test_the_run_that_covered_yesterday_and_its_accuracy(database_url, facility):
    url = database_url
    yesterday = date(2026, 6, 17)
    midnight = pd.Timestamp("2026-06-16 22:00", tz="UTC")  # 00:00 CEST

    def run(start: pd.Timestamp, value: float, trained: pd.Timestamp) -> int:
        index = pd.date_range(start, periods=24, freq="h")
        frame = pd.DataFrame(
            {"yhat": value, "yhat_lower": value - 1, "yhat_upper": value + 1},
            index=index,
        )
        return store.save_forecast(
            facility, "consumption", frame, model="prophet", trained_at=trained,
            metrics={"mae": 0.5}, database_url=url,
        )

    run(midnight - pd.Timedelta(hours=3), 9.0, midnight - pd.Timedelta(hours=3))
    best = run(midnight, 4.0, midnight + pd.Timedelta(minutes=5))
    run(midnight + pd.Timedelta(hours=6), 7.0, midnight + pd.Timedelta(hours=6))
    chosen = store.forecast_for_day(facility, "consumption", yesterday, TZ,
                                    database_url=url)
    assert chosen.id == best and chosen.model == "prophet"
    assert chosen.frame.index[0] == midnight

    actual = pd.Series(5.0, index=pd.date_range(midnight, periods=24, freq="h"))
    actual.iloc[:12] = 3.0  # 12 hours 1 kWh below, 12 hours 1 kWh above
    accuracy = store.day_accuracy(chosen, actual)
    assert accuracy == {"mae": 1.0, "wape": 24 / 96, "hours": 24}
    assert store.day_accuracy(None, actual) == {"mae": None, "wape": None, "hours": 0}


# ------------------------------------------------------------ unusual consumption


def quarter_hours(start: str, hours: int, kwh_per_hour: list[float]) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours * 4, freq="15min", tz="UTC")
    values = np.repeat(np.asarray(kwh_per_hour, dtype=float) / 4, 4)
    return pd.DataFrame(
        {"energy_consumed": values, "energy_produced": 0.0, "current_load": 10.0},
        index=index,
    )


def anomaly_setup(url: str, facility: int) -> None:
    with session_scope(url) as session:
        session.get(Facility, facility).expected_interval_s = 900  # 15-minute data
    index = pd.date_range("2026-06-10 08:00", periods=24, freq="h", tz="UTC")
    frame = pd.DataFrame({"yhat": 5.0, "yhat_lower": 4.0, "yhat_upper": 6.0},
                         index=index)
    store.save_forecast(
        facility, "consumption", frame, model="prophet",
        trained_at=pd.Timestamp("2026-06-10 08:02", tz="UTC"), database_url=url,
    )


def open_anomalies(url: str) -> list[Alert]:
    with session_scope(url) as session:
        return list(
            session.scalars(
                select(Alert).where(Alert.kind == "unusual_consumption")
                .order_by(Alert.id)
            )
        )


def test_unusual_consumption_opens_once_and_closes(settings, facility):
    url = settings.database_url
    anomaly_setup(url, facility)
    write(url, facility, quarter_hours("2026-06-10 08:00", 4, [5, 5.5, 4.5, 9.8]))

    at = datetime(2026, 6, 10, 12, 5, tzinfo=UTC)
    assert check_anomalies_now(settings, datetime(2026, 6, 10, 11, 5, tzinfo=UTC)) \
        == []  # 10:00-11:00 UTC was inside its interval
    [(event, fid, alert_id)] = check_anomalies_now(settings, at)
    assert (event, fid) == ("opened", facility)
    assert check_anomalies_now(settings, at.replace(minute=50)) == []  # once
    [alert] = open_anomalies(url)
    assert alert.id == alert_id
    assert (alert.kind, alert.level, alert.extreme_value) == (
        "unusual_consumption", "warning", pytest.approx(9.8),
    )
    assert utc(alert.started_at) == datetime(2026, 6, 10, 11, 0, tzinfo=UTC)
    assert alert.ended_at is None
    assert alert.message == (
        "Unusual consumption: 9.80 kWh on 2026-06-10 13:00–14:00 CEST, above the "
        "expected 4.00–6.00 kWh (80 % forecast interval)"
    )

    # a further hour even further outside: same alert, new extreme
    write(url, facility, quarter_hours("2026-06-10 12:00", 1, [12.0]))
    assert check_anomalies_now(settings, at.replace(hour=13)) == [
        ("updated", facility, alert_id)
    ]
    # back inside the interval: closed at the start of that hour
    write(url, facility, quarter_hours("2026-06-10 13:00", 1, [5.2]))
    assert check_anomalies_now(settings, at.replace(hour=14)) == [
        ("closed", facility, alert_id)
    ]
    assert check_anomalies_now(settings, at.replace(hour=14, minute=30)) == []
    [alert] = open_anomalies(url)
    assert alert.extreme_value == pytest.approx(12.0)
    assert "12.00 kWh on 2026-06-10 14:00–15:00 CEST" in alert.message
    alerts = data.read_alerts(facility, database_url=url)
    row = alerts.iloc[0]
    assert row["started_at"] == pd.Timestamp("2026-06-10 11:00", tz="UTC")
    assert row["ended_at"] == pd.Timestamp("2026-06-10 13:00", tz="UTC")


def test_unusual_consumption_needs_the_sustained_period(database_url, facility):
    from energy_dash.services.forecasts import check_unusual_consumption

    anomaly_setup(database_url, facility)
    write(database_url, facility, quarter_hours("2026-06-10 08:00", 4, [5, 5, 5, 2.0]))
    at = datetime(2026, 6, 10, 12, 5, tzinfo=UTC)
    assert check_unusual_consumption(database_url, at, min_hours=2) == []
    write(database_url, facility, quarter_hours("2026-06-10 12:00", 1, [1.0]))
    later = at.replace(hour=13)
    [(event, _, _)] = check_unusual_consumption(database_url, later, min_hours=2)
    assert event == "opened"
    [alert] = open_anomalies(database_url)
    assert alert.extreme_value == pytest.approx(1.0)  # furthest below 4 kWh
    assert "below the expected 4.00–6.00 kWh" in alert.message


def test_hours_without_enough_readings_or_forecast_change_nothing(
    database_url, facility
):
    from energy_dash.services.forecasts import check_unusual_consumption

    anomaly_setup(database_url, facility)
    # only one reading in the hour (4 expected): not judged
    sparse = quarter_hours("2026-06-10 11:00", 1, [40.0]).iloc[:1]
    write(database_url, facility, sparse)
    at = datetime(2026, 6, 10, 12, 5, tzinfo=UTC)
    assert check_unusual_consumption(database_url, at) == []
    # an hour after the stored forecast ends: not judged
    write(database_url, facility, quarter_hours("2026-06-11 09:00", 1, [40.0]))
    assert check_unusual_consumption(
        database_url, datetime(2026, 6, 11, 10, 5, tzinfo=UTC)
    ) == []
    assert open_anomalies(database_url) == []


# ------------------------------------------------------ location and weather
class _Weather(__import__("http.server").server.BaseHTTPRequestHandler):
    """Replays tests/fixtures/open_meteo_berlin.json moved to the test's dates
    (May/June 2026 instead of 2024), or stalls past the timeout."""

    stall = False

    def do_GET(self):  # noqa: N802 - http.server's name
        import json
        from pathlib import Path

        if self.stall:
            __import__("time").sleep(1.0)
        path = Path(__file__).parents[1] / "fixtures" / "open_meteo_berlin.json"
        payload = json.loads(path.read_text())
        moved = pd.to_datetime(payload["hourly"]["time"]) + pd.Timedelta(days=742)
        payload["hourly"]["time"] = [t.strftime("%Y-%m-%dT%H:%M") for t in moved]
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def weather_server():
    from http.server import ThreadingHTTPServer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Weather)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/forecast"
    _Weather.stall = False
    httpd.shutdown()
    httpd.server_close()


def _place(url, facility, latitude=52.52, longitude=13.405):
    with session_scope(url) as session:
        row = session.get(Facility, facility)
        row.latitude, row.longitude = latitude, longitude


def test_production_follows_the_sun_at_the_facility_coordinates(settings, facility):
    from energy_dash.domain.solar import clear_sky

    url = settings.database_url
    write(url, facility, hourly_frame(10 * 24))
    _place(url, facility)
    refresh_forecasts(settings, facility_id=facility, now=NOW, timeout=60)
    production = next(r for r in rows(url, facility) if r.target == "production")
    assert production.metrics["location"] is True
    assert production.model in ("solar", "ensemble", *BASELINES)
    stamps = pd.DatetimeIndex(pd.to_datetime(production.points["timestamp"]))
    sky = clear_sky(stamps, stamps + pd.Timedelta(hours=1), 52.52, 13.405)
    yhat = np.array(production.points["yhat"])
    assert (yhat[~sky["sun_up"].to_numpy()] == 0).all()
    assert "No coordinates" not in (production.note or "")
    assert 0 <= production.metrics["coverage"] <= 1


def test_weather_is_fetched_and_a_stalled_endpoint_falls_back_and_says_so(
    settings, facility, weather_server, monkeypatch
):
    from dataclasses import replace

    from energy_dash.services import forecast_refresh

    url = settings.database_url
    write(url, facility, hourly_frame(10 * 24))
    _place(url, facility)
    with_weather = replace(settings, weather_url=weather_server)
    refresh_forecasts(with_weather, facility_id=facility, now=NOW, timeout=60)
    production = [r for r in rows(url, facility) if r.target == "production"][-1]
    assert production.metrics["weather"] == ["ghi", "cloud_cover", "temperature"]
    assert "Weather forecast unavailable" not in (production.note or "")

    _Weather.stall = True
    monkeypatch.setattr(forecast_refresh, "WEATHER_TIMEOUT", 0.3)
    refresh_forecasts(with_weather, facility_id=facility, now=NOW, timeout=60)
    latest = [r for r in rows(url, facility) if r.target == "production"][-1]
    assert latest.note == (
        "Weather forecast unavailable (weather service did not answer within "
        "0.3 s): production forecast from the sun's geometry and recent "
        "production alone."
    )
    consumption = [r for r in rows(url, facility) if r.target == "consumption"][-1]
    assert "Weather" not in (consumption.note or "")
