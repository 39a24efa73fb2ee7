"""GET /api/predictions and the /forecast page's callback, over real HTTP.

Users sign in through the real POST /login (``auth_client``); forecasts are
stored with ``data.forecasts.save_forecast`` so every value is known exactly.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures_web import callback_result, post_callback

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.services import forecasts as store

TZ = "Europe/Berlin"
START = pd.Timestamp("2026-06-18 10:00", tz="UTC")
METRICS = {
    "mae": 0.52,
    "wape": 0.097,
    "coverage": 0.8,
    "skill_vs_naive": 0.23,
    "folds": 3,
    "baseline": "seasonal_naive_week",
    "baseline_mae": 0.675,
    "candidates": {"seasonal_naive_day": 0.8, "seasonal_naive_week": 0.675,
                   "prophet": 0.52},
    "history_hours": 400,
}


def known_frame(start: pd.Timestamp = START, hours: int = 24) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours, freq="h")
    yhat = np.round(np.linspace(2.0, 4.3, hours), 4)
    return pd.DataFrame(
        {"yhat": yhat, "yhat_lower": yhat - 0.5, "yhat_upper": yhat + 0.75},
        index=index,
    )


def other_facility(url: str) -> int:
    with session_scope(url) as session:
        row = Facility(name="Elsewhere", timezone="UTC")
        session.add(row)
        session.flush()
        return row.id


def texts(value: Any) -> str:
    """All text of a callback output (component JSON), joined by newlines."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "props" in node:
                walk(node["props"].get("children"))
            else:
                for item in node.values():
                    walk(item)

    walk(value)
    return "\n".join(found)


# ------------------------------------------------------------------ the API


def test_anonymous_requests_get_401(client, facility):
    response = client.get(f"/api/predictions?facility_id={facility}")
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}


def test_members_only_403(auth_client, facility, database_url):
    c = auth_client("alice", facility_role="viewer")
    other = other_facility(database_url)
    for fid in (other, 999):
        response = c.get(f"/api/predictions?facility_id={fid}&target=consumption")
        assert response.status_code == 403
        assert response.get_json() == {
            "error": "you are not a member of this facility"
        }


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("", "facility_id", "facility_id is required"),
        ("facility_id=abc", "facility_id", "facility_id must be a positive integer"),
        ("facility_id=-1", "facility_id", "facility_id must be a positive integer"),
        ("facility_id=1&target=weather", "target", "target must be 'consumption' "
         "or 'production'"),
    ],
)
def test_bad_parameters_400_name_the_field(auth_client, query, field, message):
    c = auth_client("alice")
    response = c.get(f"/api/predictions?{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": message, "field": field}


def test_the_stored_forecast_with_exact_values(auth_client, facility, database_url):
    frame = known_frame()
    forecast_id = store.save_forecast(
        facility, "production", frame, model="prophet",
        trained_at=pd.Timestamp("2026-06-18 10:20:00", tz="UTC"), metrics=METRICS,
        note="a note", database_url=database_url,
    )
    assert forecast_id > 0
    c = auth_client("alice", facility_role="viewer")
    response = c.get(f"/api/predictions?facility_id={facility}&target=production")
    assert response.status_code == 200
    body = response.get_json()
    points = body.pop("points")
    assert body == {
        "facility_id": facility,
        "target": "production",
        "timezone": TZ,
        "unit": "kWh",
        "interval": 0.8,
        "model": "prophet",
        "trained_at": "2026-06-18T10:20:00Z",
        "start": "2026-06-18T10:00:00Z",
        "end": "2026-06-19T10:00:00Z",
        "stale": True,  # 2026-06-19 is in the past of the test machine
        "metrics": METRICS,
        "note": "a note",
        "message": "This forecast has expired: the refresh job has not run since "
        "it was trained.",
    }
    assert len(points) == 24
    assert points[0] == {
        "timestamp": "2026-06-18T10:00:00Z",
        "local_time": "2026-06-18T12:00:00+02:00",
        "yhat": 2.0,
        "yhat_lower": 1.5,
        "yhat_upper": 2.75,
    }
    assert [p["yhat"] for p in points] == frame["yhat"].tolist()
    assert [p["yhat_upper"] for p in points] == frame["yhat_upper"].tolist()
    # the consumption target has nothing stored: 200, empty, with the reason
    empty = c.get(f"/api/predictions?facility_id={facility}").get_json()
    assert (empty["target"], empty["model"], empty["points"]) == (
        "consumption", None, []
    )
    assert empty["message"] == (
        "Forecasts need at least 2 days of readings; this facility has 0 hours"
    )


def test_the_newest_run_is_served(auth_client, facility, database_url):
    for k, trained in enumerate(("2026-06-18 09:05", "2026-06-18 10:05")):
        store.save_forecast(
            facility, "consumption", known_frame() + k, model=f"m{k}",
            trained_at=pd.Timestamp(trained, tz="UTC"), database_url=database_url,
        )
    c = auth_client("alice")
    body = c.get(f"/api/predictions?facility_id={facility}").get_json()
    assert body["model"] == "m1" and body["points"][0]["yhat"] == 3.0


# ------------------------------------------------------------ the /forecast page


def page(c, facility_id):
    response = post_callback(
        c, c.application_dash, "forecast-message.children",
        {"facility-select.value": facility_id, "forecast-interval.n_intervals": 0},
    )
    return callback_result(response)


def write_hourly(url: str, facility: int, start: pd.Timestamp, hours: int,
                 consumed: float, produced: float = 0.0) -> None:
    index = pd.date_range(start, periods=hours, freq="h")
    frame = pd.DataFrame(
        {"energy_consumed": consumed, "energy_produced": produced,
         "current_load": 10.0},
        index=index,
    )
    assert data.write_readings(frame, facility, database_url=url)["rejected"] == []


def test_not_enough_history_explains_instead_of_charts(auth_client, facility,
                                                       database_url):
    now = pd.Timestamp.now(tz="UTC").floor("h")
    write_hourly(database_url, facility, now - pd.Timedelta(hours=30), 30, 2.0)
    c = auth_client("alice", facility_role="viewer")
    out = page(c, facility)
    assert out["forecast-content.style"] == {"display": "none"}
    message = texts(out["forecast-message.children"])
    assert "Not enough history for a forecast yet" in message
    assert ("Forecasts need at least 2 days of readings; this facility has 30 hours."
            in message)


def test_the_forecast_page_shows_forecast_accuracy_and_yesterday(
    auth_client, facility, database_url
):
    url = database_url
    now = pd.Timestamp.now(tz="UTC")
    hour = store.local_hour_start(now, TZ)
    today = now.tz_convert(TZ).date()
    yesterday = today - timedelta(days=1)
    day_start = store.local_midnight(yesterday, TZ)
    # three days of readings up to the current hour: 5 kWh consumed every hour
    write_hourly(url, facility, day_start - pd.Timedelta(days=1),
                 int((hour - day_start) / pd.Timedelta(hours=1)) + 24, 5.0, 1.0)
    # yesterday's run forecast 4 kWh per hour; the current run as known_frame
    store.save_forecast(
        facility, "consumption", known_frame(day_start) * 0 + 4.0, model="prophet",
        trained_at=day_start, metrics=METRICS, database_url=url,
    )
    store.save_forecast(
        facility, "consumption", known_frame(hour), model="ensemble",
        trained_at=hour + pd.Timedelta(minutes=5), metrics=METRICS,
        database_url=url,
    )
    store.save_forecast(
        facility, "production", known_frame(hour) * 0, model="seasonal_naive_day",
        trained_at=hour + pd.Timedelta(minutes=5),
        metrics={**METRICS, "skill_vs_naive": 0.0, "baseline": "seasonal_naive_day"},
        note="Only 3.0 days of history: seasonal-naive baselines only (Prophet "
        "needs 14 days).",
        database_url=url,
    )
    c = auth_client("alice", facility_role="viewer")
    out = page(c, facility)
    assert out["forecast-content.style"] == {}
    accuracy = texts(out["forecast-accuracy.children"])
    assert "Typical error 0.52 kWh per hour (WAPE 9.7 %)." in accuracy
    assert "The 80 % interval caught 80 % of actual hours." in accuracy
    assert "23 % better than same-time-last-week." in accuracy
    assert "The 80 % interval caught 80 % of actual daylight hours." in accuracy
    assert "As good as same-time-yesterday" in accuracy
    assert "MAPE" not in accuracy
    info = texts(out["forecast-model-info.children"])
    assert "Ensemble (equal-weight mean of the best models by backtest)" in info
    local = (hour + pd.Timedelta(minutes=5)).tz_convert(TZ)
    assert f"trained {local:%Y-%m-%d %H:%M} {local.tzname()}" in info
    assert "seasonal-naive baselines only" in info

    chart = out["forecast-consumption-chart.figure"]
    names = [trace["name"] for trace in chart["data"]]
    assert names == ["upper", "80 % interval", "Forecast", "Actual"]
    forecast_trace = chart["data"][2]
    assert forecast_trace["y"] == known_frame(hour)["yhat"].round(3).tolist()
    assert forecast_trace["x"][0] == f"{hour.tz_convert(TZ):%Y-%m-%d %H:%M:%S}"
    actual = chart["data"][3]
    assert set(actual["y"]) == {5.0} and len(actual["y"]) >= 24

    day_hours = int((store.local_midnight(today, TZ) - day_start)
                    / pd.Timedelta(hours=1))
    hours = min(24, day_hours)
    summary = texts(out["forecast-yesterday.children"])
    assert (f"Consumption: MAE 1.00 kWh per hour, WAPE 20.0 % over {hours} hours"
            in summary)
    assert f"{yesterday:%A %Y-%m-%d}" in summary
    peaks = texts(out["forecast-peak-hours.children"])
    assert peaks.startswith("Peak hours: ") and "5.00 kWh" in peaks
    profile = out["forecast-profile-chart.figure"]["data"][0]
    assert profile["type"] == "heatmap"
    assert {v for row in profile["z"] for v in row if v is not None} == {5.0}


def test_the_forecast_page_refuses_other_facilities(auth_client, facility,
                                                    database_url):
    other = other_facility(database_url)
    c = auth_client("alice")
    out = page(c, other)
    assert out["forecast-content.style"] == {"display": "none"}
    assert texts(out["forecast-message.children"]) == (
        "You do not have access to this facility."
    )
    assert json.dumps(out).count("Typical error") == 0
