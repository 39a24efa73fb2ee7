"""Callback of the /historical "Data quality" panel: the events of the range the
page shows, so an anomaly and the chart it explains are seen together."""

from __future__ import annotations

import time

from dash import Dash, Input, Output

from callbacks._common import allowed_facility, database_url
from callbacks.historical import RangeError, chosen_days
from components import historical as page
from components import ids
from components import quality as ui
from energy_dash.domain.times import day_bounds, local_today
from energy_dash.services import quality
from energy_dash.services.facilities import facility_info


def register(app: Dash) -> None:
    @app.callback(
        Output(ui.BODY, "children"),
        Output(ui.SUMMARY, "children"),
        Input(ids.FACILITY, "value"),
        Input(ids.URL, "pathname"),
        Input(page.RANGE, "value"),
        Input(page.START, "date"),
        Input(page.END, "date"),
    )
    def fill(facility_value, pathname, range_value, start, end):
        if pathname != "/historical":
            return "", ""
        facility_id = allowed_facility(facility_value)
        if facility_id is None:
            return "", ""
        info = facility_info(facility_id, database_url=database_url())
        zone = info.timezone if info is not None else "UTC"
        now_ms = int(time.time() * 1000)
        try:
            first, days = chosen_days(range_value, start, end,
                                      local_today(now_ms, zone))
        except RangeError:
            return "", ""  # the page says why above the charts
        start_ms, end_ms = day_bounds(first, zone, days)
        events = quality.list_events(database_url(), [facility_id], start_ms, end_ms,
                                     limit=ui.SHOWN * 10, newest_first=True)
        return ui.table(events, zone), ui.summary(events)
