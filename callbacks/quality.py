"""Callback of the /historical "Data quality" panel."""

from __future__ import annotations

import time

from dash import Dash, Input, Output

from callbacks.dashboard import allowed_facility, database_url
from components import ids
from components import quality as ui
from energy_dash.services import quality
from energy_dash.services.facilities import facility_info

WINDOW_MS = 30 * 86_400_000


def register(app: Dash) -> None:
    @app.callback(
        Output(ui.BODY, "children"),
        Output(ui.SUMMARY, "children"),
        Input(ids.FACILITY, "value"),
        Input(ids.URL, "pathname"),
    )
    def fill(facility_value, pathname):
        if pathname != "/historical":
            return "", ""
        facility_id = allowed_facility(facility_value)
        if facility_id is None:
            return "", ""
        now_ms = int(time.time() * 1000)
        events = quality.list_events(database_url(), [facility_id],
                                     now_ms - WINDOW_MS, now_ms + 1,
                                     limit=ui.SHOWN * 10, newest_first=True)
        info = facility_info(facility_id, database_url=database_url())
        zone = info.timezone if info is not None else "UTC"
        return ui.table(events, zone), ui.summary(events)
