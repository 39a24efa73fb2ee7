"""/voltage in chromium: live values, charts with bands, quality, acknowledgement."""

from __future__ import annotations

import time

import pandas as pd
from fixtures_web import browser_login, start_app
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)

from energy_dash import data
from energy_dash.services import live as views


def seed(url: str, facility: int) -> None:
    """An hour of minute readings at 230 V, a swell to 262 V ten minutes ago (an open
    high-voltage alert: the last reading is still high), three phase currents."""
    now = views.now_ms()
    stamps = [now - 30_000 - i * 60_000 for i in range(60)][::-1]
    voltage = [230.0] * 50 + [262.0] * 10
    frame = pd.DataFrame(
        {
            "energy_produced": 0.1,
            "energy_consumed": 0.2,
            "current_load": 30.0,
            "voltage": voltage,
            "current1": 10.0,
            "current2": 11.0,
            "current3": 12.0,
            "frequency": 50.02,
            "power_factor": 0.96,
        },
        index=pd.to_datetime(stamps, unit="ms", utc=True),
    )
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == 60


def click_when_settled(dash_duo, selector: str, timeout: float = 10) -> None:
    """Scroll to an element and click it, retrying while charts still shift the page."""
    deadline = time.monotonic() + timeout
    while True:
        element = dash_duo.wait_for_element(selector)
        dash_duo.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
            element,
        )
        try:
            element.click()
            return
        except (ElementClickInterceptedException, StaleElementReferenceException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_voltage_page_and_acknowledge(dash_duo, app, database_url, facility, make_user):
    seed(database_url, facility)
    make_user("olga", facility=facility, facility_role="operator")
    start_app(dash_duo, app)
    browser_login(dash_duo, "olga", next_path="/voltage")

    dash_duo.wait_for_text_to_equal("#voltage-now", "262.0 V", timeout=15)
    dash_duo.wait_for_text_to_equal("#voltage-level", "Warning")
    dash_duo.wait_for_text_to_equal("#voltage-imbalance", "9.1 %")
    dash_duo.wait_for_text_to_equal("#voltage-frequency", "50.02 Hz")
    dash_duo.wait_for_text_to_equal("#voltage-power-factor", "0.96")
    dash_duo.wait_for_element("#voltage-chart .scatterlayer .trace path.js-line")
    # The band edges are drawn as shapes (2 warning, 2 critical, nominal).
    shapes = dash_duo.find_elements("#voltage-chart .shapelayer path")
    assert len(shapes) >= 9
    currents = dash_duo.find_elements("#voltage-currents-chart .scatterlayer .trace")
    assert len(currents) == 4
    dash_duo.wait_for_text_to_equal("#voltage-quality-swells", "1")
    dash_duo.wait_for_text_to_equal("#voltage-quality-within", "83.3 %")

    button = dash_duo.wait_for_element("#voltage-alert-log button")
    assert button.text == "Acknowledge"
    click_when_settled(dash_duo, "#voltage-alert-log button")
    dash_duo.wait_for_text_to_equal("#voltage-ack-message", "Alert acknowledged.")
    dash_duo.wait_for_contains_text("#voltage-alert-log", "olga, ")
    assert dash_duo.find_elements("#voltage-alert-log button") == []
    assert dash_duo.get_logs() == []
