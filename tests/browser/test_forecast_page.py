"""/forecast in chromium: the stored forecast chart, the accuracy sentence, the
recommendations panel, and no console errors."""

from __future__ import annotations

import pandas as pd
from fixtures_web import browser_login, start_app

from energy_dash import data
from energy_dash.services.forecast_refresh import refresh_forecasts


def test_the_forecast_page_shows_the_forecast_and_its_accuracy(
    dash_duo, app, facility, make_user, database_url
):
    make_user("alice", facility=facility, facility_role="viewer")
    end = pd.Timestamp.now(tz="UTC").floor("h")
    index = pd.date_range(end=end - pd.Timedelta(hours=1), periods=4 * 24, freq="h")
    hours = index.tz_convert("Europe/Berlin").hour
    frame = pd.DataFrame(
        {
            "energy_consumed": [3.0 + (2.0 if 8 <= h < 18 else 0.0) for h in hours],
            "energy_produced": [max(0.0, 4.0 - abs(h - 13)) for h in hours],
            "current_load": 20.0,
        },
        index=index,
    )
    assert (
        data.write_readings(frame, facility, database_url=database_url)["rejected"]
        == []
    )
    settings = app.server.config["ENERGY_DASH"]
    results = refresh_forecasts(settings, facility_id=facility)
    assert [r["status"] for r in results] == ["stored", "stored"]

    start_app(dash_duo, app)
    browser_login(dash_duo, "alice", next_path="/forecast")
    assert dash_duo.driver.current_url == dash_duo.server_url + "/forecast"
    dash_duo.wait_for_contains_text("#forecast-accuracy", "Typical error", timeout=15)
    dash_duo.wait_for_contains_text("#forecast-accuracy", "The 80 % interval caught")
    chart = dash_duo.wait_for_element("#forecast-consumption-chart .main-svg")
    assert chart.is_displayed()
    dash_duo.wait_for_contains_text("#forecast-consumption-chart", "80 % interval")
    dash_duo.wait_for_contains_text("#forecast-model-info", "Seasonal naive")
    dash_duo.wait_for_contains_text("#forecast-peak-hours", "Peak hours: ")
    dash_duo.wait_for_contains_text("#forecast-recommendations", "Recommendations")
    assert dash_duo.find_element("#nav-forecast").is_displayed()
    assert dash_duo.get_logs() == []
