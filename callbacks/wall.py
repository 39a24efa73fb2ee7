"""Callbacks of /wall.

Every tick first compares a cheap signature (newest reading, open alerts, local
day, connection state) with the one kept in the page's store: unchanged → HTTP
204 and nothing is sent. Otherwise the tiles are re-rendered and the new readings
are APPENDED to the chart with ``Patch`` (the store's ``last_ms`` means a server
restart never duplicates a point). The chart is redrawn from scratch only on the
first tick, after a facility change, or every two hours to drop points that left
the 24-hour window. The local clock and the "data stale" badge are clientside
(``assets/wall.js``), so they keep working while the server is unreachable.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, Patch, State

from callbacks._common import DAY_MS, FUTURE_MS, allowed_facility, live_tick
from components import figures, ids
from components import formatting as fmt
from components import wall as ui
from energy_dash.domain.facility import FacilityInfo
from energy_dash.services import live as views
from energy_dash.web import auth

REDRAW_AFTER_MS = 26 * 3_600_000  # the oldest drawn point may be 2 h out of view
NO_ACCESS = "This display has no access to that facility."
RAW_MIN_INTERVAL_S = 30  # below this the 24-hour history is drawn in 1-min buckets

OUTPUTS = [
    Output(ui.MESSAGE, "children"),
    Output(ui.NAME, "children"),
    Output(ui.PRODUCTION, "children"),
    Output(ui.CONSUMPTION, "children"),
    Output(ui.TODAY, "children"),
    Output(ui.TODAY_NOTE, "children"),
    Output(ui.SELF_SUFFICIENCY, "children"),
    Output(ui.VOLTAGE, "children"),
    Output(ui.VOLTAGE_NOTE, "children"),
    Output(ui.VOLTAGE_TILE, "className"),
    Output(ui.CONNECTION, "children"),
    Output(ui.CONNECTION_NOTE, "children"),
    Output(ui.CONNECTION_TILE, "className"),
    Output(ui.CHART, "figure"),
    Output(ui.TICKER, "children"),
    Output(ui.STORE, "data"),
]
LEVEL_WORDS = {"ok": "normal", "warning": "warning", "critical": "critical",
               "outage": "outage", "unknown": "no reading"}


def choose_facility(selected: Any, config: Any) -> int | None:
    """The wall's facility: the display token's, else ``?facility=``, else the
    shell's selector — and only if this session may read it."""
    display = auth.display_facility()
    if display is not None:
        candidate: Any = display
    else:
        requested = config.get("facility") if isinstance(config, dict) else None
        candidate = requested if requested is not None else selected
    return allowed_facility(candidate)


def blank(message: str) -> tuple:
    return (message, "", *[fmt.MISSING] * 2, fmt.MISSING, "", fmt.MISSING,
            fmt.MISSING, "", "wall-tile wall-level-unknown", fmt.MISSING, "",
            "wall-tile wall-level-unknown", figures.wall_figure(None), "", None)


def history_figure(fid: int, facility: FacilityInfo, now: int, url: str,
                   *, dark: bool = True, conn: Any = None) -> dict[str, Any]:
    """The full 24-hour chart: every reading, or 1-minute buckets for fast devices."""
    start = now - DAY_MS
    rule = ("raw" if facility.expected_interval_s >= RAW_MIN_INTERVAL_S else "1min")
    if rule == "1min":
        start = start // 60_000 * 60_000
    frame = views.power_series(fid, start, now + FUTURE_MS, rule, now=now,
                               database_url=url, facility=facility, conn=conn)
    window = figures.local_x([now - DAY_MS, now], facility.timezone)
    return figures.wall_figure(frame, uirevision=f"wall-{fid}", start=window[0],
                               end=window[1], dark=dark)


def append_patch(points, tz: str, now: int, unit_size: float = 1.0) -> Patch:
    """Append readings (in the chart's unit) to both traces and slide the window."""
    patch = Patch()
    if points:
        x, production, consumption = figures.append_points(points, tz, unit_size)
        patch["data"][0]["x"].extend(x)
        patch["data"][0]["y"].extend(production)
        patch["data"][1]["x"].extend(x)
        patch["data"][1]["y"].extend(consumption)
    window = figures.local_x([now - DAY_MS, now], tz)
    patch["layout"]["xaxis"]["range"] = window
    return patch


def wall_outputs(fid: int, now: int, url: str, signature: dict,
                 seen: dict | None, *, dark: bool = True, conn: Any = None,
                 facility: FacilityInfo | None = None) -> tuple:
    same = (
        isinstance(seen, dict)
        and seen.get("facility") == fid
        and seen.get("last_ms") is not None
        and now - int(seen.get("drawn_from") or 0) < REDRAW_AFTER_MS
        and (seen.get("signature") or {}).get("settings") == signature["settings"]
    )
    update = views.wall_update(fid, seen["last_ms"] if same else None, now=now,
                               database_url=url, conn=conn, facility=facility)
    facility: FacilityInfo = update["facility"]
    tz = facility.timezone
    state, today = update["state"], update["today"]
    if same and update["complete"]:
        unit_size = float(seen.get("unit_size") or 1.0)
        figure: Any = append_patch(update["points"], tz, now, unit_size)
        drawn_from = seen["drawn_from"]
    else:
        figure = history_figure(fid, facility, now, url, dark=dark, conn=conn)
        unit_size = figure["layout"]["meta"]["unit_size"]
        drawn_from = now
    bands = facility.bands()
    level = figures.voltage_level(state["voltage"], bands)
    if state["last_ms"] is None:
        connection, note, conn_level = "no data", "no reading received yet", "unknown"
    elif state["connected"]:
        connection, conn_level = "connected", "ok"
        note = "last reading " + fmt.local_clock(state["last_ms"], tz)
    else:
        connection, conn_level = "offline", "critical"
        note = "last reading " + fmt.local_time(state["last_ms"], tz, "%d.%m. %H:%M")
    store = {
        "facility": fid,
        "signature": signature,
        "last_ms": state["last_ms"],
        "drawn_from": drawn_from,
        "unit_size": unit_size,
        "tz": tz,
        "stale_ms": facility.stale_after_ms(),
    }
    return (
        None,
        facility.name,
        fmt.kw(state["production_kw"]),
        fmt.kw(state["consumption_kw"]),
        fmt.kwh(today["produced_kwh"]),
        "consumed " + fmt.kwh(today["consumed_kwh"]),
        fmt.pct(today["self_sufficiency_pct"], 0),
        fmt.volts(state["voltage"]),
        LEVEL_WORDS[level],
        f"wall-tile wall-level-{level}",
        connection,
        note,
        f"wall-tile wall-level-{conn_level}",
        figure,
        ui.ticker_items(update["alerts"], tz),
        store,
    )


def register(app: Dash) -> None:
    @app.callback(
        *OUTPUTS,
        Input(ui.INTERVAL, "n_intervals"),
        Input(ids.FACILITY, "value"),
        State(ui.CONFIG, "data"),
        State(ui.STORE, "data"),
    )
    def wall_tick(_tick, selected, config, seen):
        fid = choose_facility(selected, config)
        if fid is None:
            if selected is None and auth.display_facility() is None and not (
                isinstance(config, dict) and config.get("facility")
            ):
                return blank("Select a facility, or open this page with a display "
                             "token.")
            return blank(NO_ACCESS)
        dark = not (isinstance(config, dict) and config.get("theme") == "light")
        return live_tick(fid, seen, partial(wall_outputs, dark=dark),
                         lambda: blank(NO_ACCESS))

    app.clientside_callback(
        ClientsideFunction(namespace="energyWall", function_name="tick"),
        Output(ui.CLOCK, "children"),
        Output(ui.STALE, "style"),
        Output(ui.STALE, "children"),
        Input(ui.INTERVAL, "n_intervals"),
        Input(ui.STORE, "data"),
    )
