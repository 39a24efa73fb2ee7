"""/wall in chromium, opened with a read-only display token: tiles, a chart that
grows by appended points when a sensor posts a reading, and the stale badge."""

from __future__ import annotations

import pandas as pd
import requests
from fixtures_web import start_app
from selenium.webdriver.support.ui import WebDriverWait

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.services import live as views
from energy_dash.storage.devices import create_display_token

POINTS = (
    "return document.querySelector('#wall-chart .js-plotly-plot')"
    ".data.map(function (t) { return t.x.length; });"
)


def seed(url: str, facility: int, minutes: int = 30) -> int:
    """Minute readings ending 20 s ago: 0.5 kWh (30 kW) produced, 0.25 consumed."""
    now = views.now_ms()
    last = now - 20_000
    stamps = [last - i * 60_000 for i in range(minutes)][::-1]
    frame = pd.DataFrame(
        {
            "energy_produced": 0.5,
            "energy_consumed": 0.25,
            "current_load": 35.0,
            "voltage": 229.0,
            "device_id": "sensor-1",
        },
        index=pd.to_datetime(stamps, unit="ms", utc=True),
    )
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == minutes
    return last


def token_for(url: str, facility: int) -> str:
    with session_scope(url) as session:
        return create_display_token(session, facility, "lobby")


def test_wall_appends_a_posted_reading(dash_duo, app, database_url, facility, api_key):
    last = seed(database_url, facility)
    token = token_for(database_url, facility)
    start_app(dash_duo, app, f"/wall?token={token}&refresh=2")

    dash_duo.wait_for_text_to_equal("#wall-production", "30.0 kW", timeout=15)
    dash_duo.wait_for_text_to_equal("#wall-consumption", "15.0 kW")
    dash_duo.wait_for_text_to_equal("#wall-voltage", "229.0 V")
    dash_duo.wait_for_text_to_equal("#wall-connection", "connected")
    dash_duo.wait_for_text_to_equal("#wall-facility-name", "Test Facility")
    assert "wall-level-ok" in dash_duo.find_element("#wall-voltage-tile").get_attribute(
        "class"
    )
    assert not dash_duo.find_element("#wall-stale").is_displayed()
    assert not dash_duo.find_element("#navbar").is_displayed()
    assert dash_duo.find_element("#wall-clock").text.strip() != ""
    assert (
        dash_duo.driver.find_element("tag name", "html").get_attribute("data-bs-theme")
        == "dark"
    )
    dash_duo.wait_for_element("#wall-chart .scatterlayer .trace path.js-line")
    before = dash_duo.driver.execute_script(POINTS)
    assert before == [30, 30]

    # A sensor posts through the real API: 0.2 kWh produced in 30 s = 24 kW.
    response = requests.post(
        dash_duo.server_url + "/api/hardware/data",
        headers={"X-API-Key": api_key},
        json={
            "energy_produced": 0.2,
            "energy_consumed": 0.05,
            "current_load": 20,
            "voltage": 262.0,
            "timestamp": (last + 30_000) / 1000,
            "device_id": "sensor-1",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    dash_duo.wait_for_text_to_equal("#wall-production", "24.0 kW", timeout=15)
    dash_duo.wait_for_text_to_equal("#wall-consumption", "6.0 kW")
    dash_duo.wait_for_text_to_equal("#wall-voltage", "262.0 V")
    assert "wall-level-warning" in dash_duo.find_element(
        "#wall-voltage-tile"
    ).get_attribute("class")
    dash_duo.wait_for_contains_text("#wall-ticker", "High voltage")
    # The chart grew by exactly one point per trace: appended, not redrawn.
    WebDriverWait(dash_duo.driver, 10).until(
        lambda driver: driver.execute_script(POINTS) == [31, 31]
    )
    y = dash_duo.driver.execute_script(
        "return document.querySelector('#wall-chart .js-plotly-plot').data[0].y;"
    )
    assert y[-1] == 24.0
    assert dash_duo.get_logs() == []


def test_wall_shows_stale_badge_when_readings_stop(
    dash_duo, app, database_url, facility
):
    with session_scope(database_url) as session:
        session.get(Facility, facility).expected_interval_s = 2  # stale after 4 s
    now = views.now_ms()
    frame = pd.DataFrame(
        {"energy_produced": [0.001], "energy_consumed": [0.002], "current_load": [5.0]},
        index=pd.to_datetime([now - 500], unit="ms", utc=True),
    )
    data.write_readings(frame, facility, database_url=database_url)
    token = token_for(database_url, facility)
    start_app(dash_duo, app, f"/wall?token={token}&refresh=2")

    # 0.001 kWh over the expected 2 s interval is 1.8 kW
    dash_duo.wait_for_text_to_equal("#wall-production", "1.8 kW", timeout=15)
    dash_duo.wait_for_contains_text("#wall-stale", "data stale", timeout=15)
    assert dash_duo.find_element("#wall-stale").is_displayed()
    dash_duo.wait_for_text_to_equal("#wall-connection", "offline", timeout=10)
    assert dash_duo.get_logs() == []
