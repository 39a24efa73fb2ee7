"""/dashboard in chromium: sign in, see the KPIs, the charts with data and the gauge."""

from __future__ import annotations

import pandas as pd
from fixtures_web import browser_login, start_app

from energy_dash import data
from energy_dash.services import live as views


def seed(url: str, facility: int) -> int:
    """A day of minute readings ending 30 s ago: 0.5 kWh produced (30 kW) and 0.25
    kWh consumed (15 kW) per minute, 231 V."""
    now = views.now_ms()
    stamps = pd.to_datetime(
        [now - 30_000 - i * 60_000 for i in range(24 * 60)][::-1], unit="ms", utc=True
    )
    frame = pd.DataFrame(
        {
            "energy_produced": 0.5,
            "energy_consumed": 0.25,
            "current_load": 35.0,
            "voltage": 231.0,
            "current1": 10.0,
            "current2": 10.0,
            "current3": 10.0,
        },
        index=stamps,
    )
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == 1440
    return now


def test_dashboard_shows_kpis_and_charts(
    dash_duo, app, database_url, facility, make_user
):
    seed(database_url, facility)
    make_user("alice", facility=facility, facility_role="viewer")
    start_app(dash_duo, app)
    browser_login(dash_duo, "alice")

    dash_duo.wait_for_text_to_equal("#dashboard-production", "30.0 kW", timeout=15)
    dash_duo.wait_for_text_to_equal("#dashboard-consumption", "15.0 kW")
    dash_duo.wait_for_text_to_equal("#dashboard-net-import", "-15.0 kW")
    dash_duo.wait_for_text_to_equal("#dashboard-self-sufficiency", "100.0 %")
    dash_duo.wait_for_text_to_equal("#dashboard-status", "Connected")
    # Both power traces drawn with points, the 14-day trend and the gauge.
    dash_duo.wait_for_element(
        "#dashboard-power-chart .scatterlayer .trace path.js-line"
    )
    traces = dash_duo.find_elements("#dashboard-power-chart .scatterlayer .trace")
    assert len(traces) == 2
    dash_duo.wait_for_element("#dashboard-self-sufficiency-chart .barlayer .point")
    dash_duo.wait_for_contains_text("#dashboard-voltage-gauge", "231")
    dash_duo.wait_for_text_to_equal("#dashboard-alerts", "No active alerts")
    dash_duo.wait_for_contains_text(
        "#dashboard-recommendations",
        "(default prices: set the facility's tariff in Settings). Months are 30 days.",
    )
    assert dash_duo.get_logs() == []
    # The charts came from the app's partial plotly bundle (a quarter of the full
    # one's code to parse before the first chart): the full bundle never loads.
    scripts = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('plotly'))"
    )
    assert [s.split("?")[0].split("/")[-1] for s in scripts] == [
        "plotly-energy-dash.min.js"
    ]
