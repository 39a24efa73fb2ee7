"""Layout of /dashboard: KPI cards, 24-hour chart, self-sufficiency trend, voltage
gauge, active alerts. Structure only; ``callbacks.dashboard`` fills it in.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Patch, dcc, html

from components import figures
from components import formatting as fmt
from energy_dash.domain import units
from energy_dash.domain.alerts import KIND_LABELS

REFRESH_MS = 30_000

INTERVAL = "dashboard-interval"
STORE = "dashboard-store"
MESSAGE = "dashboard-message"
PRODUCTION = "dashboard-production"
CONSUMPTION = "dashboard-consumption"
NET_IMPORT = "dashboard-net-import"
TODAY_PRODUCED = "dashboard-today-produced"
TODAY_CONSUMED = "dashboard-today-consumed"
SELF_SUFFICIENCY = "dashboard-self-sufficiency"
LOAD = "dashboard-load"
STATUS = "dashboard-status"
LAST_SEEN = "dashboard-last-seen"
COST = "dashboard-cost"
POWER_CHART = "dashboard-power-chart"
TREND_CHART = "dashboard-self-sufficiency-chart"
VOLTAGE_GAUGE = "dashboard-voltage-gauge"
VOLTAGE_TEXT = "dashboard-voltage-text"
ALERTS = "dashboard-alerts"
RECOMMENDATIONS = "dashboard-recommendations"

KPI_IDS = (
    PRODUCTION, CONSUMPTION, NET_IMPORT, TODAY_PRODUCED, TODAY_CONSUMED,
    SELF_SUFFICIENCY, LOAD, STATUS, LAST_SEEN,
)


def kpi_card(label: str, value_id: str, *, icon: str = "", note: Any = None,
             note_id: str | None = None) -> dbc.Card:
    """A small card: label, large value (filled by a callback), optional note."""
    body = [
        html.Div(
            [html.I(className=f"bi {icon} me-1") if icon else None, label],
            className="kpi-label text-body-secondary small",
        ),
        html.Div(fmt.MISSING, id=value_id, className="kpi-value fs-3 fw-semibold"),
    ]
    if note_id is not None or note is not None:
        body.append(html.Div(note, id=note_id, className="kpi-note small")
                    if note_id else html.Div(note, className="kpi-note small"))
    return dbc.Card(dbc.CardBody(body), className="kpi-card h-100")


def _graph(graph_id: str, message: str, height: int) -> dcc.Graph:
    return figures.graph(graph_id, height, message)


def layout() -> html.Div:
    """The page structure; no I/O."""
    kpis = dbc.Row(
        [
            dbc.Col(kpi_card("Producing now", PRODUCTION, icon="bi-sun"), md=3, xs=6),
            dbc.Col(kpi_card("Consuming now", CONSUMPTION, icon="bi-plug"), md=3, xs=6),
            dbc.Col(kpi_card("Net import", NET_IMPORT, icon="bi-arrow-left-right",
                             note="positive: from the grid"), md=3, xs=6),
            dbc.Col(kpi_card("Load", LOAD, icon="bi-speedometer"), md=3, xs=6),
            dbc.Col(kpi_card("Produced today", TODAY_PRODUCED, icon="bi-sunrise"),
                    md=3, xs=6),
            dbc.Col(kpi_card("Consumed today", TODAY_CONSUMED, icon="bi-lightning"),
                    md=3, xs=6),
            dbc.Col(kpi_card("Self-sufficiency today", SELF_SUFFICIENCY,
                             icon="bi-recycle"), md=3, xs=6),
            dbc.Col(kpi_card("Hardware", STATUS, icon="bi-cpu", note_id=LAST_SEEN),
                    md=3, xs=6),
            # Slot for the forecasting engineer: energy cost (tariffs); a
            # callback fills ``dashboard-cost`` with label, value and note.
            dbc.Col(
                dbc.Card(dbc.CardBody(html.Div(id=COST)), className="kpi-card h-100"),
                id="dashboard-cost-slot", md=3, sm=6,
            ),
        ],
        className="g-3 mb-3",
    )
    charts = dbc.Row(
        [
            dbc.Col(
                dbc.Card([
                    dbc.CardHeader("Production vs consumption, last 24 hours"),
                    dbc.CardBody(_graph(POWER_CHART, "Loading…", 320)),
                ]),
                lg=8,
            ),
            dbc.Col(
                dbc.Card([
                    dbc.CardHeader("Latest voltage"),
                    dbc.CardBody([
                        _graph(VOLTAGE_GAUGE, "Loading…", 220),
                        html.Div(id=VOLTAGE_TEXT, className="text-center small"),
                    ]),
                ]),
                lg=4,
            ),
        ],
        className="g-3 mb-3",
    )
    lower = dbc.Row(
        [
            dbc.Col(
                dbc.Card([
                    dbc.CardHeader("Self-sufficiency, last 14 days (%)"),
                    dbc.CardBody(_graph(TREND_CHART, "Loading…", 260)),
                ]),
                lg=8,
            ),
            dbc.Col(
                dbc.Card([
                    dbc.CardHeader("Active alerts"),
                    dbc.CardBody(html.Div(id=ALERTS, className="alert-list")),
                ]),
                lg=4,
            ),
        ],
        className="g-3 mb-3",
    )
    return html.Div(
        [
            dcc.Interval(id=INTERVAL, interval=REFRESH_MS, n_intervals=0),
            dcc.Store(id=STORE, storage_type="memory"),
            html.H2("Dashboard", className="h4 mb-3"),
            html.Div(id=MESSAGE),
            kpis,
            charts,
            lower,
            # Slot for the forecasting engineer: recommendations (forecast + tariff).
            html.Div(id=RECOMMENDATIONS, className="mb-3"),
        ],
        className="page-dashboard container-fluid py-3",
    )


LEVEL_BADGE = {"critical": "danger", "warning": "warning"}
KIND_LABEL = KIND_LABELS


def alert_items(alerts: list[dict[str, Any]], tz: str, *,
                empty: str = "No active alerts") -> Any:
    """A list of alerts as text (sensor values are never HTML)."""
    if not alerts:
        return html.Div(empty, className="text-body-secondary alerts-empty")
    items = []
    for alert in alerts:
        level = alert.get("level") or "warning"
        items.append(
            html.Li(
                [
                    dbc.Badge(level, color=LEVEL_BADGE.get(level, "secondary"),
                              className="me-2 text-uppercase"),
                    html.Span(KIND_LABEL.get(alert.get("kind"), alert.get("kind")),
                              className="fw-semibold me-2"),
                    html.Span(alert.get("message") or ""),
                    html.Div(
                        "since " + fmt.local_time(alert.get("started_ms"), tz),
                        className="small text-body-secondary",
                    ),
                ],
                className="list-group-item alert-item",
                **{"data-alert-id": str(alert.get("id"))},
            )
        )
    return html.Ul(items, className="list-group list-group-flush")


def power_chart(power: pd.DataFrame, drawn: dict[str, Any] | None, held: Any, *,
                uirevision: str) -> tuple[Any, dict[str, Any] | None]:
    """The 24-hour chart as a ``Patch`` of the one the page holds, else whole.

    ``drawn`` (from ``views.dashboard_power``) says which buckets are unchanged in
    every frame of its lineage; ``held`` is what the page was last sent. The patch
    drops the buckets that left the window, removes those drawn from the old
    split on and appends everything from there: the page then holds exactly the
    figure a whole redraw would send (a new unit or lineage redraws). Returns the
    figure and what the page holds after it.
    """
    if power is None or power.empty or drawn is None or drawn["lineage"] is None:
        return figures.power_figure(power, uirevision=uirevision), None
    columns = [power[c].to_numpy(dtype="float64")
               for c in ("production_kw", "consumption_kw")]
    unit, size = units.axis_unit(np.concatenate(columns).tolist(),
                                 units.POWER_UNITS)
    stamps = power.index.as_unit("ms").asi8
    now_held = {"lineage": drawn["lineage"], "split": drawn["split"],
                "head": int(np.searchsorted(stamps, drawn["split"])),
                "count": len(stamps), "unit": unit, "revision": uirevision}
    old = held if isinstance(held, dict) else {}
    same = (old.get("lineage") == drawn["lineage"] and old.get("unit") == unit
            and old.get("revision") == uirevision
            and isinstance(old.get("split"), int) and old["split"] <= drawn["split"])
    if same:
        kept = int(np.searchsorted(stamps, old["split"]))  # buckets before it stay
        dropped = int(old["head"]) - kept
        removed = int(old["count"]) - int(old["head"])
        same = dropped >= 0 and removed >= 0
    if not same:
        return figures.power_figure(power, uirevision=uirevision), now_held
    patch = Patch()
    x = figures.local_x(power.index[kept:])
    for trace, values in enumerate(columns):
        y = figures.json_values(values[kept:] / size, 4)
        for key, new in (("x", x), ("y", y)):
            for _ in range(dropped):
                del patch["data"][trace][key][0]
            for _ in range(removed):
                del patch["data"][trace][key][kept]
            patch["data"][trace][key].extend(new)
    return patch, now_held
