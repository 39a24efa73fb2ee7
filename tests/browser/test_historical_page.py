"""/historical in chromium: totals, charts, and totals that change with the range."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
from fixtures_web import browser_login, start_app
from selenium.webdriver.common.by import By

from energy_dash import data
from energy_dash.services import live as views

TZ = "Europe/Berlin"


def seed(url: str, facility: int) -> None:
    """Hourly readings on local day −2 (2 kWh produced each) and day −20 (1 kWh)."""
    today = views.local_today(None, TZ)
    stamps, produced = [], []
    for days_ago, kwh in ((2, 2.0), (20, 1.0)):
        midnight = views.local_midnight_ms(today - timedelta(days=days_ago), TZ)
        for hour in range(24):
            stamps.append(midnight + hour * 3_600_000 + 1_800_000)
            produced.append(kwh)
    frame = pd.DataFrame(
        {"energy_produced": produced, "energy_consumed": 1.5, "current_load": 20.0},
        index=pd.to_datetime(stamps, unit="ms", utc=True),
    )
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == 48


# Before the page's scripts: count the requests that compute the page's totals.
COUNT_COMPUTES = """
window.__computes = 0;
const send = window.fetch;
window.fetch = function (url, options) {
  if (String(url).includes("_dash-update-component") && options &&
      String(options.body).includes("historical-totals.children")) {
    window.__computes += 1;
  }
  return send.apply(this, arguments);
};
"""


def test_range_change_updates_totals_and_charts(
    dash_duo, app, database_url, facility, make_user
):
    """... and the page is computed once per change: the empty date boxes of a
    preset range must not report a change when they mount (that computed and
    redrew the whole page a second time on every load)."""
    seed(database_url, facility)
    make_user("alice", facility=facility, facility_role="viewer")
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": COUNT_COMPUTES})
    start_app(dash_duo, app)
    browser_login(dash_duo, "alice", next_path="/historical")

    produced = "#historical-total-produced_kwh"
    dash_duo.wait_for_text_to_equal(produced, "48.0 kWh", timeout=15)
    dash_duo.wait_for_text_to_equal("#historical-total-consumed_kwh", "36.0 kWh")
    dash_duo.wait_for_text_to_equal("#historical-resolution", "Resolution: 15 min")
    dash_duo.wait_for_element("#historical-power-chart .scatterlayer .trace path")
    bars = dash_duo.find_elements("#historical-daily-chart .barlayer .point")
    assert len(bars) >= 2  # produced and consumed on the day with readings
    dash_duo.wait_for_element(
        "#historical-heatmap .heatmaplayer image, #historical-heatmap .hm"
    )
    time.sleep(1.5)  # the date pickers have mounted by now
    assert dash_duo.driver.execute_script("return window.__computes") == 1

    dash_duo.driver.find_element(
        By.XPATH, "//label[normalize-space()='30 days']"
    ).click()
    dash_duo.wait_for_text_to_equal(produced, "72.0 kWh", timeout=15)
    dash_duo.wait_for_text_to_equal("#historical-total-consumed_kwh", "72.0 kWh")
    dash_duo.wait_for_text_to_equal("#historical-previous-produced_kwh", "no data")
    time.sleep(1.0)
    assert dash_duo.driver.execute_script("return window.__computes") == 2
    assert dash_duo.get_logs() == []
