"""A live page tick checks out at most one database connection.

Every open page polls: a tick that takes several connections from the pool (user,
tenant check, signature, figures one by one) multiplies pool traffic by the
number of screens. The pool's ``checkout`` event counts them per tick, for an
unchanged tick (204) and for a tick after a new reading.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fixtures_web import callback_result, post_callback
from sqlalchemy import event

from energy_dash import data
from energy_dash.db import get_engine

FACILITY = "facility-select.value"
MAX_CONNECTIONS = 1
PAGES = [
    # (output of the tick callback, its interval, its store, extra state)
    ("wall-production.children", "wall-interval.n_intervals", "wall-store.data",
     {"wall-config.data": {"facility": None, "refresh_s": 10}}),
    ("dashboard-production.children", "dashboard-interval.n_intervals",
     "dashboard-store.data", {}),
    ("voltage-now.children", "voltage-interval.n_intervals", "voltage-store.data",
     {}),
]


def write(url: str, facility: int, stamps_ms: list[int]) -> None:
    frame = pd.DataFrame(
        {"energy_produced": 0.01, "energy_consumed": 0.02, "current_load": 40.0,
         "voltage": 231.0},
        index=pd.to_datetime(stamps_ms, unit="ms", utc=True),
    )
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == len(
        stamps_ms)


class Checkouts:
    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.count = 0

    def _hit(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> Checkouts:
        event.listen(self.engine.pool, "checkout", self._hit)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine.pool, "checkout", self._hit)


@pytest.mark.parametrize(("output", "interval", "store_id", "extra"), PAGES,
                         ids=[p[0].split("-")[0] for p in PAGES])
def test_a_tick_takes_at_most_one_connection(
    app, auth_client, database_url, facility, output, interval, store_id, extra
):
    client = auth_client("alice", facility_role="viewer")
    now = int(time.time() * 1000) // 1000 * 1000
    write(database_url, facility, [now - 120_000, now - 60_000])
    values = {FACILITY: facility, **extra}
    first = callback_result(post_callback(client, app, output, values, [interval]))
    store = first[store_id]

    with Checkouts(database_url) as same:
        unchanged = post_callback(client, app, output, {**values, store_id: store},
                                  [interval])
    assert unchanged.status_code == 204
    write(database_url, facility, [now - 1000])
    with Checkouts(database_url) as fresh:
        changed = post_callback(client, app, output, {**values, store_id: store},
                                [interval])
    assert changed.status_code == 200
    assert (same.count, fresh.count) <= (MAX_CONNECTIONS, MAX_CONNECTIONS), (
        f"{output}: {same.count} connection(s) for an unchanged tick, "
        f"{fresh.count} for a tick with a new reading"
    )


def test_a_forecast_tick_takes_one_connection(
    app, auth_client, database_url, facility
):
    """/forecast redraws on its five-minute interval: runs, actuals, the day before
    and the weekday profile all come over the one connection of the request."""
    from energy_dash.services import forecasts

    client = auth_client("alice", facility_role="viewer")
    now = pd.Timestamp.now(tz="UTC").floor("h")
    write(database_url, facility,
          [int((now - pd.Timedelta(hours=h)).value // 1_000_000) for h in (3, 2, 1)])
    hours = pd.date_range(now - pd.Timedelta(hours=2), periods=24, freq="h")
    for target in forecasts.TARGETS:
        forecasts.save_forecast(
            facility, target,
            pd.DataFrame({"yhat": 2.5, "yhat_lower": 2.0, "yhat_upper": 3.0},
                         index=hours),
            model="seasonal_naive", trained_at=now - pd.Timedelta(hours=2),
            database_url=database_url,
        )
    with Checkouts(database_url) as tick:
        response = post_callback(client, app, "forecast-message.children",
                                 {FACILITY: facility},
                                 ["forecast-interval.n_intervals"])
    assert response.status_code == 200
    shown = callback_result(response)
    assert shown["forecast-content.style"] == {}  # the charts are shown
    forecast_trace = shown["forecast-consumption-chart.figure"]["data"]
    assert any(2.5 in (trace.get("y") or []) for trace in forecast_trace)
    assert tick.count == MAX_CONNECTIONS, f"{tick.count} connections for one tick"

    # The next tick in the same hour, same runs: only the "now" line moves.
    with Checkouts(database_url) as again:
        response = post_callback(
            client, app, "forecast-message.children",
            {FACILITY: facility, "forecast-store.data": shown["forecast-store.data"]},
            ["forecast-interval.n_intervals"],
        )
    moved = callback_result(response)
    assert sorted(moved) == ["forecast-consumption-chart.figure",
                             "forecast-production-chart.figure"]
    operations = moved["forecast-consumption-chart.figure"]["operations"]
    assert [op["location"] for op in operations] == [
        ["layout", "shapes", 0, "x0"], ["layout", "shapes", 0, "x1"]]
    assert again.count == MAX_CONNECTIONS
