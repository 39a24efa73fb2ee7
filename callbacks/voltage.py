"""Callbacks of /voltage: live charts (appended with ``Patch`` while the window
slides), the week's supply quality, and the alert log with acknowledgement.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import ALL, Dash, Input, Output, Patch, State, ctx
from flask_login import current_user

from callbacks._common import (
    FORBIDDEN,
    FUTURE_MS,
    NO_FACILITY,
    allowed_facility,
    database_url,
    live_tick,
    notice,
)
from components import figures, ids
from components import formatting as fmt
from components import voltage as ui
from energy_dash.domain.validation import parse_day
from energy_dash.services import history
from energy_dash.services import live as views
from energy_dash.web import auth, request_db

HOUR_MS = 3_600_000
LIVE_MS = ui.LIVE_HOURS * HOUR_MS
LOG_DAYS = 30
LEVEL_WORDS = {"ok": "Normal", "warning": "Warning", "critical": "Critical",
               "outage": "Outage", "unknown": "No voltage reading"}

LIVE_OUTPUTS = [
    Output(ui.MESSAGE, "children"),
    Output(ui.VOLTAGE_NOW, "children"),
    Output(ui.VOLTAGE_LEVEL, "children"),
    Output(ui.IMBALANCE_NOW, "children"),
    Output(ui.FREQUENCY_NOW, "children"),
    Output(ui.PF_NOW, "children"),
    Output(ui.BANDS, "children"),
    Output(ui.VOLTAGE_CHART, "figure"),
    Output(ui.CURRENTS_CHART, "figure"),
    Output(ui.FREQUENCY_CHART, "figure"),
    Output(ui.STORE, "data"),
]


def blank(message: Any) -> tuple:
    empty = figures.empty_figure("No data", uirevision="blank")
    return (message, fmt.MISSING, "", fmt.MISSING, fmt.MISSING, fmt.MISSING, "",
            empty, empty, empty, None)


def bands_text(bands: dict[str, float]) -> str:
    return (
        f"(nominal {fmt.volts(bands['nominal'])}; warning outside "
        f"{fmt.volts(bands['warning_low'])}–{fmt.volts(bands['warning_high'])}; "
        f"critical outside {fmt.volts(bands['critical_low'])}–"
        f"{fmt.volts(bands['critical_high'])})"
    )


def _has_traces(figure: dict) -> bool:
    return bool(figure.get("data"))


def _extend(patch: Patch, trace: int, x: list, y: list) -> None:
    patch["data"][trace]["x"].extend(x)
    patch["data"][trace]["y"].extend(y)


def live_outputs(fid: int, now: int, url: str, signature: dict,
                 seen: dict | None, conn: Any = None, facility: Any = None) -> tuple:
    if facility is None:
        facility = views.facility_view(fid, database_url=url, conn=conn)
    bands = facility.bands()
    state = views.latest_state(fid, now=now, database_url=url, conn=conn,
                               facility=facility)
    level = figures.voltage_level(state["voltage"], bands)
    start = now - LIVE_MS
    revision = f"voltage-{fid}"
    store: dict[str, Any] = {"signature": signature, "facility": fid,
                             "last_ms": state["last_ms"]}
    appendable = (
        isinstance(seen, dict)
        and seen.get("facility") == fid
        and seen.get("resolution") == "raw"
        and seen.get("traces")
        and seen.get("last_ms") is not None
        and state["last_ms"] is not None
        and seen.get("drawn_from", 0) >= start - HOUR_MS
        and seen.get("signature", {}).get("settings") == signature["settings"]
    )
    if appendable:
        rows = history.voltage_series(fid, seen["last_ms"] + 1, now + FUTURE_MS, "raw",
                                      database_url=url, facility=facility,
                                      conn=conn)
        x = figures.local_x(rows.index)
        volts = figures.json_values(rows["voltage"], 2)
        vmin = min([seen["vmin"], *[v for v in volts if v is not None]])
        vmax = max([seen["vmax"], *[v for v in volts if v is not None]])
        voltage_fig = Patch()
        _extend(voltage_fig, 0, x, volts)
        voltage_fig["layout"]["yaxis"]["range"] = figures.voltage_range(
            bands, [vmin, vmax]
        )
        currents_fig = Patch()
        for i, column in enumerate(["current1", "current2", "current3",
                                    "imbalance_pct"]):
            _extend(currents_fig, i, x, figures.json_values(rows[column], 2))
        frequency_fig = Patch()
        _extend(frequency_fig, 0, x, figures.json_values(rows["frequency"], 3))
        _extend(frequency_fig, 1, x, figures.json_values(rows["power_factor"], 3))
        store.update(resolution="raw", traces=True, drawn_from=seen["drawn_from"],
                     vmin=vmin, vmax=vmax)
    else:
        rule = views.resolution_for(facility, start, now + FUTURE_MS,
                                    database_url=url, conn=conn)
        series = history.voltage_series(fid, start, now + FUTURE_MS, rule,
                                        database_url=url, facility=facility,
                                        conn=conn)
        voltage_fig = figures.voltage_figure(series, bands, uirevision=revision)
        currents_fig = figures.currents_figure(series, uirevision=revision)
        frequency_fig = figures.frequency_pf_figure(series, uirevision=revision)
        known = [v for v in series["voltage"].dropna()]
        store.update(
            resolution=rule,
            traces=all(_has_traces(f) for f in
                       (voltage_fig, currents_fig, frequency_fig)),
            drawn_from=start,
            vmin=min(known) if known else bands["nominal"],
            vmax=max(known) if known else bands["nominal"],
        )
    return (
        None,
        fmt.volts(state["voltage"]),
        LEVEL_WORDS[level],
        fmt.pct(state["imbalance_pct"]),
        fmt.hertz(state["frequency"]),
        fmt.power_factor(state["power_factor"]),
        bands_text(bands),
        voltage_fig,
        currents_fig,
        frequency_fig,
        store,
    )


def register(app: Dash) -> None:
    @app.callback(
        *LIVE_OUTPUTS,
        Input(ids.FACILITY, "value"),
        Input(ui.INTERVAL, "n_intervals"),
        State(ui.STORE, "data"),
    )
    def refresh_voltage(facility_id, _tick, seen):
        if facility_id is None:
            return blank(notice(NO_FACILITY))
        fid = allowed_facility(facility_id)
        if fid is None:
            return blank(notice(FORBIDDEN, "danger"))
        return live_tick(fid, seen, live_outputs,
                         lambda: blank(notice(FORBIDDEN, "danger")))

    @app.callback(
        Output(ui.QUALITY, "children"),
        Input(ids.FACILITY, "value"),
        Input(ui.WEEK, "date"),
        Input(ui.STORE, "data"),
    )
    def refresh_quality(facility_id, day, _store):
        fid = allowed_facility(facility_id)
        if fid is None:
            return None
        url = database_url()
        with request_db.reading(url) as conn:
            facility = views.facility_view(fid, database_url=url, conn=conn)
            tz = facility.timezone
            chosen = parse_day(day) or views.local_today(None, tz)
            start_ms, end_ms = views.week_bounds(chosen, tz)
            quality = history.voltage_quality(fid, start_ms, end_ms,
                                              database_url=url, conn=conn)
        monday = chosen - timedelta(days=chosen.weekday())
        label = f"{monday.isoformat()} – {(monday + timedelta(days=6)).isoformat()}"
        return ui.quality_summary(quality, label)

    @app.callback(
        Output(ui.ALERT_LOG, "children"),
        Output(ui.ACK_MESSAGE, "children"),
        Input(ids.FACILITY, "value"),
        Input(ui.STORE, "data"),
        Input({"type": ui.ACK_BUTTON, "index": ALL}, "n_clicks"),
    )
    def refresh_alert_log(facility_id, _store, _clicks):
        fid = allowed_facility(facility_id)
        if fid is None:
            return None, None
        url = database_url()
        message = None
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and trigger.get("type") == ui.ACK_BUTTON:
            clicked = any(t.get("value") for t in ctx.triggered)
            if clicked:
                message = acknowledge(fid, trigger.get("index"), url)
        with request_db.reading(url) as conn:  # after the write: a fresh snapshot
            facility = views.facility_view(fid, database_url=url, conn=conn)
            alerts = views.alert_log(fid, views.now_ms() - LOG_DAYS * 86_400_000,
                                     None, database_url=url, conn=conn)
        can_ack = auth.signed_in() and auth.current_role(fid) in {"admin", "operator"}
        return ui.alert_table(alerts, facility.timezone, can_ack=can_ack), message


def acknowledge(fid: int, alert_id: Any, url: str) -> Any:
    """Acknowledge as the signed-in operator or admin; a message either way."""
    try:
        auth.check_facility(fid, write=True)
    except PermissionError:
        return notice("Only operators and admins can acknowledge alerts.", "warning")
    try:
        alert = int(alert_id)
    except (TypeError, ValueError):
        return notice("Unknown alert.", "warning")
    if views.acknowledge_alert(url, fid, alert, int(current_user.id)):
        return notice("Alert acknowledged.", "success")
    return notice("That alert was already acknowledged.", "secondary")
