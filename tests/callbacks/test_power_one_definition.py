"""Issue 10 item 4: a new facility expecting a reading every 5 minutes, whose meter
posts once a minute, shows one kW everywhere: the dashboard tile, the last point
of the dashboard's 24-hour chart, the wall (tile and chart) and the data module.

The readings go in through the sensor API and the pages are read through
``/_dash-update-component``, with the real clock (the callbacks take no ``now``).
"""

from __future__ import annotations

import time

from fixtures_web import callback_result, post_callback

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.storage.devices import create_api_key

CONSUMED_KWH = 0.07  # per minute: 4.2 kW
PRODUCED_KWH = 0.02  # per minute: 1.2 kW
MIN = 60_000


def _new_facility(database_url) -> tuple[int, str]:
    with session_scope(database_url) as db:
        row = Facility(name="New Site", timezone="Europe/Berlin", capacity_kw=20.0,
                       expected_interval_s=300)
        db.add(row)
        db.flush()
        return row.id, create_api_key(db, row.id, "meter")


def _last(trace) -> float:
    values = [y for y in trace["y"] if y is not None]
    return values[-1]


def _trace(figure, word: str):
    [trace] = [t for t in figure["data"] if word in t.get("name", "").lower()]
    return trace


def test_once_a_minute_meter_shows_one_kw_everywhere(app, auth_client,
                                                    database_url):
    fid, key = _new_facility(database_url)
    # Start on a fresh minute so that the whole test runs inside it.
    while time.time() % 60 > 40:
        time.sleep(1)
    last = int(time.time() * 1000) // MIN * MIN
    sensor = app.server.test_client()
    for i in range(12, -1, -1):  # 12 minutes of history, the newest this minute
        response = sensor.post("/api/hardware/data", headers={"X-API-Key": key},
                               json={"timestamp": (last - i * MIN) / 1000,
                                     "energy_consumed": CONSUMED_KWH,
                                     "energy_produced": PRODUCED_KWH,
                                     "current_load": 21.0})
        assert response.status_code == 201, response.get_json()

    client = auth_client("nina", facility=fid)
    board = callback_result(post_callback(
        client, app, "dashboard-consumption.children",
        {"facility-select.value": fid, "dashboard-interval.n_intervals": 1}))
    assert board["dashboard-consumption.children"] == "4.20 kW"
    assert board["dashboard-production.children"] == "1.20 kW"
    chart = board["dashboard-power-chart.figure"]
    assert round(_last(_trace(chart, "consumption")), 9) == 4.2
    assert round(_last(_trace(chart, "production")), 9) == 1.2

    wall = callback_result(post_callback(
        client, app, "wall-consumption.children",
        {"wall-interval.n_intervals": 1, "facility-select.value": fid,
         "wall-config.data": {}}))
    assert wall["wall-consumption.children"] == "4.20 kW"
    assert wall["wall-production.children"] == "1.20 kW"
    figure = wall["wall-chart.figure"]
    unit = figure["layout"]["meta"]["unit_size"]
    assert round(_last(_trace(figure, "consumption")) * unit, 9) == 4.2
    assert round(_last(_trace(figure, "production")) * unit, 9) == 1.2

    frame = data.read_readings(fid, database_url=database_url)
    assert len(frame) == 13
    hours = (frame.index[-1] - frame.index[-2]).total_seconds() / 3600
    assert round(frame["energy_consumed"].iloc[-1] / hours, 9) == 4.2
    assert round(frame["energy_produced"].iloc[-1] / hours, 9) == 1.2
    assert time.time() * 1000 < last + MIN, "the test outran its minute"
