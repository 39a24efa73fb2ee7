"""Callbacks of /dashboard: one refresh per interval tick, nothing sent when nothing
changed (the newest reading, open alerts, local day and connection state are kept
in a store and compared first).
"""

from __future__ import annotations

import logging
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State

from callbacks._common import (
    FORBIDDEN,
    FUTURE_MS,
    NO_FACILITY,
    allowed_facility,
    live_tick,
    notice,
)
from components import dashboard as ui
from components import figures, ids
from components import formatting as fmt
from energy_dash.services import live as views
from energy_dash.services import quality

logger = logging.getLogger(__name__)

TREND_DAYS = 14

OUTPUTS = [
    Output(ui.MESSAGE, "children"),
    Output(ui.PRODUCTION, "children"),
    Output(ui.CONSUMPTION, "children"),
    Output(ui.NET_IMPORT, "children"),
    Output(ui.LOAD, "children"),
    Output(ui.TODAY_PRODUCED, "children"),
    Output(ui.TODAY_CONSUMED, "children"),
    Output(ui.SELF_SUFFICIENCY, "children"),
    Output(ui.STATUS, "children"),
    Output(ui.LAST_SEEN, "children"),
    Output(ui.POWER_CHART, "figure"),
    Output(ui.TREND_CHART, "figure"),
    Output(ui.VOLTAGE_GAUGE, "figure"),
    Output(ui.VOLTAGE_TEXT, "children"),
    Output(ui.ALERTS, "children"),
    Output(ui.STORE, "data"),
]


def blank(message: Any) -> tuple:
    """Every output emptied (no data of any facility), with a message."""
    empty = figures.empty_figure("No data", uirevision="blank")
    texts = [fmt.MISSING] * 8
    return (message, *texts, "", empty, empty, empty, "", "", None)


def status_badge(state: dict[str, Any]) -> Any:
    if state["last_ms"] is None:
        return dbc.Badge("No readings yet", color="secondary")
    if state["connected"]:
        return dbc.Badge("Connected", color="success")
    return dbc.Badge("Disconnected", color="danger")


def voltage_note(voltage: float | None, bands: dict[str, float]) -> str:
    level = figures.voltage_level(voltage, bands)
    words = {"ok": "Normal", "warning": "Warning", "critical": "Critical",
             "outage": "Outage", "unknown": "No voltage reading"}
    return (
        f"{words[level]} · {'within the' if level == 'ok' else 'normal'} band "
        f"{fmt.volts(bands['warning_low'])}–"
        f"{fmt.volts(bands['warning_high'])}, critical below "
        f"{fmt.volts(bands['critical_low'])} or above "
        f"{fmt.volts(bands['critical_high'])}"
    )


def dashboard_outputs(fid: int, now: int, url: str, signature: dict,
                      conn: Any = None, seen: Any = None,
                      facility: Any = None) -> tuple:
    """Every output of the dashboard for one facility at ``now`` (read on ``conn``,
    the request's connection, when given); the 24-hour chart as a patch of the
    one the page holds (``seen``: the store) where it can be."""
    update = views.dashboard_update(fid, now=now, database_url=url, conn=conn,
                                    facility=facility)
    facility, state, today = update["facility"], update["state"], update["today"]
    tz = facility.timezone
    power, drawn = views.dashboard_power(facility, now, now + FUTURE_MS, conn=conn)
    daily = views.dashboard_trend(facility, now, TREND_DAYS, conn=conn)
    alerts = update["alerts"]
    bands = facility.bands()
    revision = f"dashboard-{fid}"
    held = seen.get("power") if isinstance(seen, dict) else None
    chart, held = ui.power_chart(power, drawn, held, uirevision=revision)
    last_seen = (
        "last seen " + fmt.local_time(state["last_ms"], tz)
        if state["last_ms"] is not None else "no reading received yet"
    )
    issues = quality.open_count(url, fid, now, conn=conn)
    if issues:
        last_seen += f" · {issues} data issue{'s' if issues != 1 else ''} (24 h)"
    return (
        None,
        fmt.kw(state["production_kw"]),
        fmt.kw(state["consumption_kw"]),
        fmt.kw(state["net_import_kw"]),
        fmt.pct(state["load_pct"]),
        fmt.kwh(today["produced_kwh"]),
        fmt.kwh(today["consumed_kwh"]),
        fmt.pct(today["self_sufficiency_pct"]),
        status_badge(state),
        last_seen,
        chart,
        figures.self_sufficiency_figure(daily, uirevision=revision),
        figures.voltage_gauge(state["voltage"], bands, uirevision=revision),
        voltage_note(state["voltage"], bands),
        ui.alert_items(alerts, tz),
        {"signature": signature, "power": held},
    )


def register(app: Dash) -> None:
    @app.callback(
        *OUTPUTS,
        Input(ids.FACILITY, "value"),
        Input(ui.INTERVAL, "n_intervals"),
        State(ui.STORE, "data"),
    )
    def refresh_dashboard(facility_id, _tick, seen):
        if facility_id is None:
            return blank(notice(NO_FACILITY))
        fid = allowed_facility(facility_id)
        if fid is None:
            return blank(notice(FORBIDDEN, "danger"))
        return live_tick(fid, seen, dashboard_outputs,
                         lambda: blank(notice(FORBIDDEN, "danger")))
