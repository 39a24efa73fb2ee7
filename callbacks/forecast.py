"""Callbacks of /forecast: the stored forecasts, actuals, accuracy and profiles.

One callback fills the page when the facility changes and every five minutes.
Forecasts themselves are computed by the refresh job (``energy_dash.jobs``); the
page only reads what is stored. Every request checks the facility membership.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, Patch, State, ctx, no_update
from flask import current_app

from callbacks._common import FORBIDDEN, NO_FACILITY
from components import figures, ids
from components import forecast as ui
from components import formatting as fmt
from energy_dash.services import forecasts as store
from energy_dash.web import auth, request_db

logger = logging.getLogger(__name__)

ACTUAL_CONTEXT = pd.Timedelta(hours=24)  # actual hours shown before the forecast

OUTPUTS = [
    Output(ui.MESSAGE, "children"),
    Output(ui.CONTENT, "style"),
    Output(ui.CONSUMPTION_CHART, "figure"),
    Output(ui.PRODUCTION_CHART, "figure"),
    Output(ui.MODEL_INFO, "children"),
    Output(ui.ACCURACY, "children"),
    Output(ui.YESTERDAY, "children"),
    Output(ui.YESTERDAY_CHART, "figure"),
    Output(ui.PROFILE_CHART, "figure"),
    Output(ui.PEAK_HOURS, "children"),
    Output(ui.STORE, "data"),
]
FORECAST_CHARTS = {"consumption": 2, "production": 3}  # output positions


def _settings():
    return current_app.config["ENERGY_DASH"]


def hidden(message: Any) -> tuple:
    """Only a message: the charts stay hidden (never empty charts)."""
    empty = figures.empty_figure("", uirevision="forecast-blank")
    return (message, ui.HIDDEN, empty, empty, "", "", "", empty, empty, "")


def page_outputs(fid: int, now: pd.Timestamp, url: str, interval_minutes: int,
                 conn: Any = None):
    """Every output of the page for one facility at ``now`` (read on ``conn``, the
    request's connection, when given)."""
    info = store.facility_info(fid, database_url=url, conn=conn)
    if info is None:
        return hidden(dbc.Alert(FORBIDDEN, color="danger"))
    tz = info.timezone
    runs = {t: store.latest_forecast(fid, t, database_url=url, conn=conn)
            for t in store.TARGETS}
    if all(run is None for run in runs.values()):
        status = store.history_status(fid, now=now, database_url=url, conn=conn)
        if not status["enough"]:
            return hidden(ui.not_enough_history(status["message"], interval_minutes))
        return hidden(dbc.Alert(
            f"This facility has {status['hours']} hours of readings, enough for a "
            "forecast; the first one is computed at the next scheduled refresh "
            f"(every {interval_minutes} minutes), or now with `energy-dash forecast "
            f"--facility {fid}`.",
            color="info",
        ))
    messages = []
    newest = max((r for r in runs.values() if r is not None),
                 key=lambda r: r.trained_at)
    if newest.end <= now:
        messages.append(dbc.Alert(
            "The newest forecast has expired (trained "
            f"{fmt.local_time(newest.trained_at, tz, '%Y-%m-%d %H:%M')}): the "
            "refresh job has not run since. Shown below for reference.",
            color="warning", className="py-2",
        ))
    start = min(pd.Timestamp(r.start) for r in runs.values() if r is not None)
    actual = store.hourly_actuals(fid, start - ACTUAL_CONTEXT, now, database_url=url,
                                  conn=conn)
    actual = actual[actual.index + store.HOUR <= now]  # complete hours only
    charts = {}
    for target, column in store.TARGETS.items():
        run = runs[target]
        charts[target] = ui.forecast_figure(
            target,
            None if run is None else run.frame,
            actual[column] if len(actual) else None,
            tz,
            now=now,
            uirevision=f"forecast-{target}-{fid}",
        )

    local_now = now.tz_convert(tz)
    yesterday = local_now.date() - timedelta(days=1)
    day_start = store.local_midnight(yesterday, tz)
    day_end = store.local_midnight(yesterday + timedelta(days=1), tz)
    past = {
        t: store.forecast_for_day(fid, t, yesterday, tz, database_url=url,
                                  conn=conn)
        for t in store.TARGETS
    }
    past_actual = store.hourly_actuals(fid, day_start, day_end, database_url=url,
                                       conn=conn)
    accuracy = {
        t: store.day_accuracy(
            past[t], past_actual[col] if len(past_actual) else pd.Series(dtype=float),
            day_start, day_end,
        )
        for t, col in store.TARGETS.items()
    }
    clipped = {
        t: (None if run is None else _clip(run, day_start, day_end))
        for t, run in past.items()
    }
    profile = store.weekday_profile(fid, now=now, database_url=url, conn=conn)
    return (
        messages or None,
        ui.SHOWN,
        charts["consumption"],
        charts["production"],
        ui.model_info(runs, tz),
        ui.accuracy_block(runs),
        ui.yesterday_text(f"{yesterday:%A %Y-%m-%d}", accuracy, past, tz),
        ui.yesterday_figure(clipped, past_actual, tz,
                            uirevision=f"forecast-yesterday-{fid}"),
        ui.profile_figure(profile, uirevision=f"forecast-profile-{fid}"),
        ui.peak_text(store.peak_hours(profile)),
    )


def _clip(run: store.ForecastRun, start, end) -> store.ForecastRun:
    """The run restricted to ``[start, end)`` (for the day chart)."""
    frame = run.frame[(run.frame.index >= start) & (run.frame.index < end)]
    return store.ForecastRun(
        id=run.id, facility_id=run.facility_id, target=run.target, model=run.model,
        trained_at=run.trained_at, start=run.start, metrics=run.metrics,
        note=run.note, frame=frame,
    )


def now_line_only(signature: dict, now: pd.Timestamp) -> tuple:
    """A tick within the same hour and runs: only the "now" line moves."""
    x = figures.local_x(pd.DatetimeIndex([now]), signature["zone"])[0]
    out: list[Any] = [no_update] * len(OUTPUTS)
    for target, position in FORECAST_CHARTS.items():
        if signature["runs"].get(target) is not None:  # a chart with the line
            patch = Patch()
            patch["layout"]["shapes"][0]["x0"] = x
            patch["layout"]["shapes"][0]["x1"] = x
            out[position] = patch
    return tuple(out)


def register(app: Dash) -> None:
    @app.callback(
        *OUTPUTS,
        Input(ids.FACILITY, "value"),
        Input(ui.INTERVAL, "n_intervals"),
        State(ui.STORE, "data"),
    )
    def refresh_forecast_page(facility_id, _tick, seen):
        if facility_id is None:
            return (*hidden(dbc.Alert(NO_FACILITY, color="secondary")), None)
        try:
            fid = auth.check_facility(facility_id)
        except PermissionError:
            return (*hidden(dbc.Alert(FORBIDDEN, color="danger")), None)
        settings = _settings()
        url = settings.database_url
        now = pd.Timestamp.now(tz="UTC")
        with request_db.reading(url) as conn:  # one connection for the whole tick
            signature = store.page_signature(fid, now=now, database_url=url,
                                             conn=conn)
            if signature is None:
                return (*hidden(dbc.Alert(FORBIDDEN, color="danger")), None)
            if ctx.triggered_id == ui.INTERVAL and seen == signature:
                return now_line_only(signature, now)
            outputs = page_outputs(fid, now, url,
                                   settings.forecast_interval_minutes, conn)
        return (*outputs, signature)
