"""The dashboard tick keeps the 24-hour chart's closed buckets and the trend's
closed days per worker, and recomputes only what a new reading can change. What
it draws must stay exactly what a fresh computation draws: new readings crossing
bucket and quarter-hour edges, a late reading into the kept hours, a late
reading into a closed day and a local midnight all included.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from dash import Patch
from fixtures_web import callback_result, post_callback
from pandas.testing import assert_frame_equal

from components import dashboard as ui
from components import figures
from energy_dash import data
from energy_dash.db import get_engine, session_scope
from energy_dash.db.models import Facility
from energy_dash.services import history
from energy_dash.services import live as views
from energy_dash.storage.facilities import load_info

MIN = 60_000
DAY_MS = 86_400_000
FUTURE_MS = 300_000
# 2026-03-10 22:47:20 Europe/Berlin: the ticks run past local midnight
START = int(pd.Timestamp("2026-03-10 21:47:20", tz="UTC").value // 1_000_000)


def write(url: str, facility: int, stamps: list[int], scale: float = 1.0) -> None:
    rng = np.random.default_rng(len(stamps) + stamps[0] % 997)
    count = len(stamps)
    frame = pd.DataFrame(
        {"energy_produced": scale * rng.uniform(0.0, 0.02, count).round(5),
         "energy_consumed": scale * rng.uniform(0.01, 0.03, count).round(5),
         "current_load": 40.0, "voltage": 230.0},
        index=pd.to_datetime(stamps, unit="ms", utc=True),
    )
    result = data.write_readings(frame, facility, database_url=url)
    assert result["accepted"] == count, result


def apply(figure: dict, patch: dict) -> dict:
    """A Dash patch's operations applied to a figure, as the browser applies them
    (to its JSON: a figure drawn here shares one x list between its traces)."""
    figure = json.loads(json.dumps(figure))
    for op in patch["operations"]:
        *path, last = op["location"]
        target = figure
        for key in path:
            target = target[key]
        if op["operation"] == "Delete":
            del target[last]
        elif op["operation"] == "Extend":
            target[last].extend(op["params"]["value"])
        elif op["operation"] == "Assign":
            target[last] = op["params"]["value"]
        else:
            raise AssertionError(f"unexpected operation {op['operation']}")
    return figure


def fresh_power(facility, now: int, conn) -> pd.DataFrame:
    rule = views.dashboard_resolution(facility.expected_interval_s)
    step = {"5min": 300_000, "10min": 600_000, "15min": 900_000}[rule]
    start = (now - DAY_MS) // step * step
    return views.power_series(facility.id, start, now + FUTURE_MS, rule, now=now,
                              facility=facility, conn=conn)


def fresh_trend(facility, now: int, conn) -> pd.DataFrame:
    first = views.local_today(now, facility.timezone) - pd.Timedelta(days=13)
    return history.daily_energy(facility.id, first, 14, facility=facility,
                                conn=conn)


@pytest.mark.parametrize("interval_s", [60, 600], ids=["5min", "10min"])
def test_kept_buckets_and_days_draw_what_a_fresh_tick_draws(database_url, facility,
                                                             interval_s):
    """(10-minute buckets: the kept part ends on a half hour, a bucket edge.)"""
    views.clear_cache()
    with session_scope(database_url) as session:
        session.get(Facility, facility).expected_interval_s = interval_s
    history_end = START // MIN * MIN
    write(database_url, facility,
          list(range(history_end - 15 * DAY_MS, history_end + 1, MIN)))
    now = START
    late_hours = late_day = False
    kept_ticks = patched = 0
    page, held = None, None
    for tick in range(40):  # 40 ticks 70 s apart: 47 minutes, past midnight
        now += 70_000
        write(database_url, facility, [now - 500])
        if tick == 12:  # a late reading 3 hours back, inside the kept buckets
            write(database_url, facility, [now - 3 * 3_600_000 - 30_250], 50.0)
            late_hours = True
        if tick == 30:  # a late reading into a closed day of the trend
            write(database_url, facility, [now - 3 * DAY_MS - 20_250], 80.0)
            late_day = True
        with get_engine(database_url).connect() as conn:
            info = load_info(conn, facility)
            before = len(views._cache)
            power, drawn = views.dashboard_power(info, now, now + FUTURE_MS, conn=conn)
            trend = views.dashboard_trend(info, now, 14, conn=conn)
            kept_ticks += before == len(views._cache) and before > 0
            expected_power = fresh_power(info, now, conn)
            expected_trend = fresh_trend(info, now, conn)
        assert_frame_equal(power, expected_power, check_exact=True, check_freq=False)
        assert_frame_equal(trend, expected_trend, check_exact=True, check_freq=False)
        revision = "dashboard-1"
        chart, held = ui.power_chart(power, drawn, held, uirevision=revision)
        if isinstance(chart, Patch):
            page = apply(page, chart.to_plotly_json())
            patched += 1
        else:
            page = chart
        assert page == figures.power_figure(expected_power, uirevision=revision)
        assert figures.self_sufficiency_figure(trend, uirevision=revision) == \
            figures.self_sufficiency_figure(expected_trend, uirevision=revision)
    assert late_hours and late_day
    assert kept_ticks > 20 and patched > 20  # the kept work was actually used
    # the big late readings are drawn (not hidden behind kept buckets/days)
    assert power["consumption_kw"].max() > 5


def test_a_tick_with_a_new_reading_patches_the_chart_to_the_full_figure(
    app, auth_client, database_url, facility
):
    """Through the real callback: each tick after a new reading sends a small
    patch of the 24-hour chart, and the chart it leaves equals a full redraw."""
    views.clear_cache()
    client = auth_client("alice", facility_role="viewer")
    now = int(time.time() * 1000)
    # readings a few seconds ahead (allowed): the running bucket is then as long
    # as its readings, so two requests a moment apart draw the same figure
    end = now // MIN * MIN + 2_000
    write(database_url, facility, list(range(end - 2 * DAY_MS, end + 1, MIN)))
    values = {"facility-select.value": facility}
    output = "dashboard-production.children"
    interval = ["dashboard-interval.n_intervals"]
    shown = callback_result(post_callback(client, app, output, values, interval))
    page = shown["dashboard-power-chart.figure"]
    store = shown["dashboard-store.data"]
    patches = 0
    for tick in range(1, 6):
        write(database_url, facility, [end + tick * 1_000])
        before = time.time() // 300
        response = post_callback(client, app, output,
                                 {**values, "dashboard-store.data": store}, interval)
        result = callback_result(response)
        full = callback_result(post_callback(client, app, output, values, interval))
        chart = result["dashboard-power-chart.figure"]
        if "operations" in chart:
            page = apply(page, chart)
            patches += 1
            assert len(response.data) < 8_000  # the whole page's tick, not 20 kB
        else:
            page = chart
        store = result["dashboard-store.data"]
        if time.time() // 300 == before:  # (no 5-minute edge between the two)
            assert page == full["dashboard-power-chart.figure"]
            assert result["dashboard-self-sufficiency-chart.figure"] == \
                full["dashboard-self-sufficiency-chart.figure"]
    assert patches >= 4
