"""Recommendations on /dashboard and /forecast, and the dashboard's cost KPI.

Recommendations come from the facility's own last 30 days and its stored
production forecast (``services.costs.facility_recommendations``): computed when
the facility changes or the page opens, never at random. The cost card shows
this local calendar month's cost so far under the facility's tariff and is
refreshed every fourth dashboard tick (two minutes). Every callback checks the
facility membership.
"""

from __future__ import annotations

import logging

from dash import Dash, Input, Output, ctx
from dash.exceptions import PreventUpdate

from callbacks._common import FORBIDDEN, NO_FACILITY, database_url
from components import dashboard as dash_ui
from components import forecast as forecast_ui
from components import ids
from components import recommendations as ui
from energy_dash.services import costs as store
from energy_dash.web import auth

logger = logging.getLogger(__name__)

COST_EVERY_TICKS = 4


def panel_for(facility_id):
    """The recommendations panel for a facility id from the selector."""
    if facility_id is None:
        return ui.recommendations_panel(None, message=NO_FACILITY)
    try:
        fid = auth.check_facility(facility_id)
    except PermissionError:
        return ui.recommendations_panel(None, message=FORBIDDEN)
    try:
        result = store.facility_recommendations(fid, database_url=database_url())
    except LookupError:
        return ui.recommendations_panel(None, message=FORBIDDEN)
    return ui.recommendations_panel(result)


def register(app: Dash) -> None:
    @app.callback(
        Output(dash_ui.RECOMMENDATIONS, "children"),
        Input(ids.FACILITY, "value"),
    )
    def dashboard_recommendations(facility_id):
        return panel_for(facility_id)

    @app.callback(
        Output(forecast_ui.RECOMMENDATIONS, "children"),
        Input(ids.FACILITY, "value"),
    )
    def forecast_recommendations(facility_id):
        return panel_for(facility_id)

    @app.callback(
        Output(dash_ui.COST, "children"),
        Input(ids.FACILITY, "value"),
        Input(dash_ui.INTERVAL, "n_intervals"),
    )
    def dashboard_cost(facility_id, tick):
        if ctx.triggered_id == dash_ui.INTERVAL and (tick or 0) % COST_EVERY_TICKS:
            raise PreventUpdate
        if facility_id is None:
            return ui.cost_kpi(None, message=NO_FACILITY)
        try:
            fid = auth.check_facility(facility_id)
            cost = store.month_cost(fid, database_url=database_url())
        except (PermissionError, LookupError):
            return ui.cost_kpi(None, message=FORBIDDEN)
        return ui.cost_kpi(cost)
