"""Layout, figures and plain-words texts of /forecast (the ML dashboard).

Structure only and pure builders: ``callbacks.forecast`` fills the page from
``energy_dash.services.forecasts``. Times on the charts are the facility's local wall
clock; every value is energy per hour [kWh].
"""

from __future__ import annotations

import math
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from components import figures
from components import formatting as fmt

REFRESH_MS = 5 * 60_000

INTERVAL = "forecast-interval"
MESSAGE = "forecast-message"
CONTENT = "forecast-content"
MODEL_INFO = "forecast-model-info"
ACCURACY = "forecast-accuracy"
CONSUMPTION_CHART = "forecast-consumption-chart"
PRODUCTION_CHART = "forecast-production-chart"
YESTERDAY = "forecast-yesterday"
YESTERDAY_CHART = "forecast-yesterday-chart"
PROFILE_CHART = "forecast-profile-chart"
PEAK_HOURS = "forecast-peak-hours"
STORE = "forecast-store"  # what the page shows: see services.forecasts.page_signature
RECOMMENDATIONS = "forecast-recommendations"

TARGET_LABEL = {"consumption": "Consumption", "production": "Production"}
TARGET_COLOR = {"consumption": figures.CONSUMPTION, "production": figures.PRODUCTION}
BAND_COLOR = {
    "consumption": "rgba(255,127,14,0.18)",
    "production": "rgba(44,160,44,0.18)",
}
MODEL_NAMES = {
    "prophet": "Prophet",
    "ensemble": "Ensemble (equal-weight mean of the best models by backtest)",
    "mstl": "MSTL (daily and weekly seasons, AR(3) trend)",
    "mstl_ets": "MSTL (daily and weekly seasons, ETS trend)",
    "solar": "Sun's geometry at the site times a forecast clear-sky index",
    "mstl_default": "MSTL (statsforecast defaults)",
    "prophet_default": "Prophet (defaults)",
    "seasonal_naive_day": "Seasonal naive: same time yesterday",
    "seasonal_naive_week": "Seasonal naive: same time last week",
}
BASELINE_WORDS = {
    "seasonal_naive_day": "same-time-yesterday",
    "seasonal_naive_week": "same-time-last-week",
}
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}


# ------------------------------------------------------------------- layout
def _graph(graph_id: str, height: int) -> dcc.Graph:
    return figures.graph(graph_id, height)


def _card(header: str, *body: Any, class_name: str = "h-100") -> dbc.Card:
    return dbc.Card([dbc.CardHeader(header), dbc.CardBody(list(body))],
                    className=class_name)


def layout() -> html.Div:
    """The page structure; no I/O."""
    content = html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(_card(
                        "Next 24 hours: consumption (kWh per hour)",
                        _graph(CONSUMPTION_CHART, 300),
                    ), lg=6),
                    dbc.Col(_card(
                        "Next 24 hours: production (kWh per hour)",
                        _graph(PRODUCTION_CHART, 300),
                    ), lg=6),
                ],
                className="g-3 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(_card(
                        "Model and accuracy",
                        html.Div(id=MODEL_INFO, className="mb-2"),
                        html.Div(id=ACCURACY),
                    ), lg=5),
                    dbc.Col(_card(
                        "Yesterday: forecast against what happened",
                        html.Div(id=YESTERDAY, className="small mb-2"),
                        _graph(YESTERDAY_CHART, 260),
                    ), lg=7),
                ],
                className="g-3 mb-3",
            ),
            _card(
                "Average day by weekday: consumption, last 8 weeks (kWh per hour)",
                html.Div(id=PEAK_HOURS, className="small mb-2"),
                _graph(PROFILE_CHART, 300),
                class_name="mb-3",
            ),
        ],
        id=CONTENT,
        style=HIDDEN,
    )
    return html.Div(
        [
            dcc.Interval(id=INTERVAL, interval=REFRESH_MS, n_intervals=0),
            dcc.Store(id=STORE),
            html.H2("Forecast", className="h4 mb-3"),
            html.Div(id=MESSAGE),
            content,
            html.Div(id=RECOMMENDATIONS, className="mb-3"),
        ],
        className="page-forecast container-fluid py-3",
    )


# ------------------------------------------------------------------- words
def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def model_name(model: str | None) -> str:
    return MODEL_NAMES.get(model or "", model or fmt.MISSING)


def accuracy_sentences(metrics: dict[str, Any] | None, target: str) -> list[str]:
    """The stored backtest in plain words.

    ``["Typical error 0.52 kWh per hour (WAPE 9.7 %).", "The 80 % interval caught
    80 % of actual hours.", "23 % better than same-time-last-week."]``. Only MAE,
    WAPE, coverage and skill are used (never MAPE: it explodes on the near-zero
    hours of solar production).
    """
    metrics = metrics or {}
    mae = _finite(metrics.get("mae"))
    if mae is None:
        return [
            "No accuracy figures yet: the history is too short for a backtest "
            "(they appear once there is a day more than the forecast needs)."
        ]
    wape = _finite(metrics.get("wape"))
    first = f"Typical error {mae:.2f} kWh per hour"
    first += f" (WAPE {wape * 100:.1f} %)." if wape is not None else "."
    sentences = [first]
    coverage = _finite(metrics.get("coverage"))
    if coverage is not None:
        hours = "daylight hours" if target == "production" else "hours"  # night is 0
        sentences.append(
            f"The 80 % interval caught {coverage * 100:.0f} % of actual {hours}."
        )
    skill = _finite(metrics.get("skill_vs_naive"))
    baseline = BASELINE_WORDS.get(metrics.get("baseline") or "", "")
    if skill is not None and baseline:
        if abs(skill) < 0.005:
            sentences.append(f"As good as {baseline}: no model beat it on this "
                             "history, so that baseline is used.")
        elif skill > 0:
            sentences.append(f"{skill * 100:.0f} % better than {baseline}.")
        else:
            sentences.append(f"{-skill * 100:.0f} % worse than {baseline}.")
    folds = metrics.get("folds")
    if folds:
        days = "day" if folds == 1 else "days"
        sentences.append(f"Measured on the last {folds} {days} of history, each "
                         "forecast without seeing it.")
    return sentences


def model_info(runs: dict[str, Any], tz: str) -> html.Div:
    """Model and training time (local) per target, with the run's note."""
    items = []
    for target in ("consumption", "production"):
        run = runs.get(target)
        if run is None:
            items.append(html.Li(f"{TARGET_LABEL[target]}: no forecast stored yet."))
            continue
        parts: list[Any] = [
            html.Strong(f"{TARGET_LABEL[target]}: "),
            html.Span(model_name(run.model), className="forecast-model-name"),
            f", trained {fmt.local_time(run.trained_at, tz, '%Y-%m-%d %H:%M')}",
        ]
        if run.note:
            parts.append(html.Div(run.note, className="small text-body-secondary"))
        items.append(html.Li(parts))
    return html.Ul(items, className="list-unstyled mb-0 small")


def accuracy_block(runs: dict[str, Any]) -> html.Div:
    blocks = []
    for target in ("consumption", "production"):
        run = runs.get(target)
        if run is None:
            continue
        blocks.append(html.Div(
            [
                html.Div(TARGET_LABEL[target], className="fw-semibold"),
                html.Ul([html.Li(s) for s in accuracy_sentences(run.metrics, target)],
                        className="mb-2 forecast-accuracy-list"),
            ],
        ))
    return html.Div(blocks)


def yesterday_text(day_label: str, accuracy: dict[str, dict[str, Any]],
                   runs: dict[str, Any], tz: str) -> html.Div:
    """One line per target: which run, MAE and WAPE of the day."""
    lines = []
    for target in ("consumption", "production"):
        run, acc = runs.get(target), accuracy.get(target) or {}
        label = TARGET_LABEL[target]
        if run is None or not acc.get("hours"):
            lines.append(html.Div(f"{label}: no stored forecast covered {day_label}."))
            continue
        wape = acc.get("wape")
        wape_text = f", WAPE {wape * 100:.1f} %" if wape is not None else ""
        lines.append(html.Div(
            f"{label}: MAE {acc['mae']:.2f} kWh per hour{wape_text} over "
            f"{acc['hours']} hours (forecast trained "
            f"{fmt.local_time(run.trained_at, tz, '%Y-%m-%d %H:%M')})."
        ))
    return html.Div([html.Div(f"{day_label}:", className="fw-semibold"), *lines])


def peak_text(peaks: dict[str, Any] | None) -> str:
    if peaks is None:
        return "No consumption readings in the last 8 weeks."
    return (
        f"Peak hours: {peaks['hours_text']} (on average "
        f"{peaks['mean_kwh']:.2f} kWh per hour). Busiest hour of the week: "
        f"{peaks['peak_day']} {peaks['peak_hour']:02d}:00 "
        f"({peaks['peak_kwh']:.2f} kWh)."
    )


def not_enough_history(message: str, interval_minutes: int) -> dbc.Alert:
    return dbc.Alert(
        [
            html.H3("Not enough history for a forecast yet", className="h6"),
            html.P(message + ".", className="mb-1 forecast-history-message"),
            html.P(
                "The forecast learns this facility's daily and weekly pattern from "
                "its own hourly readings. From 2 days on it repeats yesterday's or "
                "last week's pattern with an 80 % interval; from 14 days on Prophet "
                "also competes. Forecasts are refreshed every "
                f"{interval_minutes} minutes.",
                className="mb-0 small",
            ),
        ],
        color="info",
    )


# ------------------------------------------------------------------- figures
def _layout(uirevision: str, ytitle: str = "") -> dict[str, Any]:
    return {
        "uirevision": uirevision,
        "margin": {"l": 56, "r": 36, "t": 32, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": figures.MUTED},
        "hovermode": "x unified",
        "legend": dict(figures.LEGEND),
        "modebar": dict(figures.MODEBAR),
        "xaxis": {"gridcolor": figures.GRID, "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": figures.GRID, "zeroline": False, "automargin": True,
                  "title": {"text": ytitle}},
    }


def _now_shape(now_local: str) -> dict[str, Any]:
    return {
        "type": "line", "xref": "x", "yref": "paper", "x0": now_local,
        "x1": now_local, "y0": 0, "y1": 1,
        "line": {"color": figures.MUTED, "width": 1, "dash": "dot"},
    }


def forecast_figure(
    target: str,
    frame: pd.DataFrame | None,
    actual: pd.Series | None,
    tz: str,
    *,
    now: pd.Timestamp,
    uirevision: str,
) -> dict[str, Any]:
    """Forecast [kWh per hour] with its 80 % band, and the actual hours so far."""
    if frame is None or frame.empty:
        return figures.empty_figure(
            f"No {target} forecast stored yet", uirevision=uirevision
        )
    layout = _layout(uirevision, "kWh per hour")
    x = figures.local_x(frame.index, tz)
    color = TARGET_COLOR[target]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": x,
         "y": figures.json_values(frame["yhat_upper"]), "line": {"width": 0},
         "showlegend": False, "hoverinfo": "skip", "name": "upper"},
        {"type": "scatter", "mode": "lines", "x": x,
         "y": figures.json_values(frame["yhat_lower"]), "line": {"width": 0},
         "fill": "tonexty", "fillcolor": BAND_COLOR[target],
         "name": "80 % interval", "hovertemplate": "%{y:.2f} kWh (lower)"},
        {"type": "scatter", "mode": "lines", "x": x,
         "y": figures.json_values(frame["yhat"]),
         "line": {"color": color, "dash": "dash"}, "name": "Forecast",
         "hovertemplate": "%{y:.2f} kWh"},
    ]
    if actual is not None and not actual.empty:
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "x": figures.local_x(actual.index, tz),
            "y": figures.json_values(actual), "line": {"color": color},
            "marker": {"size": 5}, "name": "Actual",
            "hovertemplate": "%{y:.2f} kWh",
        })
    layout["shapes"] = [_now_shape(figures.local_x(pd.DatetimeIndex([now]), tz)[0])]
    layout["yaxis"]["rangemode"] = "tozero"
    return {"data": data, "layout": layout}


def yesterday_figure(
    runs: dict[str, Any], actual: pd.DataFrame | None, tz: str, *, uirevision: str
) -> dict[str, Any]:
    """Yesterday's forecasts (dashed) against the actual hourly energy (solid)."""
    data = []
    for target, column in (("consumption", "energy_consumed"),
                           ("production", "energy_produced")):
        color = TARGET_COLOR[target]
        run = runs.get(target)
        if run is not None and not run.frame.empty:
            data.append({
                "type": "scatter", "mode": "lines",
                "x": figures.local_x(run.frame.index, tz),
                "y": figures.json_values(run.frame["yhat"]),
                "line": {"color": color, "dash": "dash"},
                "name": f"{TARGET_LABEL[target]} forecast",
                "hovertemplate": "%{y:.2f} kWh",
            })
        if actual is not None and not actual.empty:
            data.append({
                "type": "scatter", "mode": "lines+markers",
                "x": figures.local_x(actual.index, tz),
                "y": figures.json_values(actual[column]),
                "line": {"color": color}, "marker": {"size": 4},
                "name": f"{TARGET_LABEL[target]} actual",
                "hovertemplate": "%{y:.2f} kWh",
            })
    if not data:
        return figures.empty_figure("No forecast or readings for yesterday",
                                    uirevision=uirevision)
    layout = _layout(uirevision, "kWh per hour")
    layout["yaxis"]["rangemode"] = "tozero"
    return {"data": data, "layout": layout}


def profile_figure(grid: pd.DataFrame, *, uirevision: str) -> dict[str, Any]:
    """Average consumption [kWh per hour] by weekday (rows) and local hour."""
    if grid is None or grid.isna().all().all():
        return figures.empty_figure("No consumption readings in the last 8 weeks",
                                    uirevision=uirevision)
    layout = _layout(uirevision)
    layout["hovermode"] = "closest"
    layout["xaxis"].update(title={"text": "Hour of day (local)"}, dtick=2)
    layout["yaxis"].update(autorange="reversed", title={"text": ""})
    z = [[None if not np.isfinite(v) else round(float(v), 3) for v in row]
         for row in grid.to_numpy(dtype=float)]
    data = [{
        "type": "heatmap", "z": z, "x": [int(h) for h in grid.columns],
        "y": list(grid.index), "colorscale": "YlOrRd", "reversescale": True,
        "colorbar": {"title": {"text": "kWh"}},
        "hovertemplate": "%{y} %{x}:00 — %{z:.2f} kWh<extra></extra>",
    }]
    return {"data": data, "layout": layout}
