"""Layout of /voltage: live voltage against the bands, phase currents, frequency and
power factor, the week's supply quality and the alert log with acknowledgement.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import figures
from components import formatting as fmt
from components.dashboard import KIND_LABEL, LEVEL_BADGE

REFRESH_MS = 15_000
LIVE_HOURS = 6

INTERVAL = "voltage-interval"
STORE = "voltage-store"
MESSAGE = "voltage-message"
VOLTAGE_NOW = "voltage-now"
VOLTAGE_LEVEL = "voltage-level"
IMBALANCE_NOW = "voltage-imbalance"
FREQUENCY_NOW = "voltage-frequency"
PF_NOW = "voltage-power-factor"
BANDS = "voltage-bands"
VOLTAGE_CHART = "voltage-chart"
CURRENTS_CHART = "voltage-currents-chart"
FREQUENCY_CHART = "voltage-frequency-chart"
WEEK = "voltage-week"
QUALITY = "voltage-quality"
ALERT_LOG = "voltage-alert-log"
ACK_MESSAGE = "voltage-ack-message"
ACK_BUTTON = "voltage-ack"  # pattern-matching: {"type": ACK_BUTTON, "index": id}


def _graph(graph_id: str, height: int) -> dcc.Graph:
    return figures.graph(graph_id, height)


def _stat(label: str, value_id: str, note_id: str | None = None) -> dbc.Card:
    body = [
        html.Div(label, className="kpi-label text-body-secondary small"),
        html.Div(fmt.MISSING, id=value_id, className="kpi-value fs-3 fw-semibold"),
    ]
    if note_id:
        body.append(html.Div(id=note_id, className="kpi-note small"))
    return dbc.Card(dbc.CardBody(body), className="kpi-card h-100")


def layout() -> html.Div:
    """The page structure; no I/O."""
    stats = dbc.Row(
        [
            dbc.Col(_stat("Voltage now", VOLTAGE_NOW, VOLTAGE_LEVEL), md=3, xs=6),
            dbc.Col(_stat("Phase imbalance", IMBALANCE_NOW), md=3, xs=6),
            dbc.Col(_stat("Frequency", FREQUENCY_NOW), md=3, xs=6),
            dbc.Col(_stat("Power factor", PF_NOW), md=3, xs=6),
        ],
        className="g-3 mb-3",
    )
    quality = dbc.Card([
        dbc.CardHeader(
            dbc.Row([
                dbc.Col("Supply quality of the week", className="align-self-center"),
                dbc.Col(
                    dcc.DatePickerSingle(
                        id=WEEK, display_format="YYYY-MM-DD", first_day_of_week=1,
                        clearable=False, placeholder="This week",
                    ),
                    width="auto",
                ),
            ], className="g-2"),
        ),
        dbc.CardBody(html.Div(id=QUALITY)),
    ], className="mb-3")
    return html.Div(
        [
            dcc.Interval(id=INTERVAL, interval=REFRESH_MS, n_intervals=0),
            dcc.Store(id=STORE, storage_type="memory"),
            html.H2("Voltage and power quality", className="h4 mb-3"),
            html.Div(id=MESSAGE),
            stats,
            dbc.Card([
                dbc.CardHeader([
                    f"Voltage, last {LIVE_HOURS} hours ",
                    html.Span(id=BANDS, className="small text-body-secondary"),
                ]),
                dbc.CardBody(_graph(VOLTAGE_CHART, 340)),
            ], className="mb-3"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([
                        dbc.CardHeader("Phase currents (A) and imbalance (%)"),
                        dbc.CardBody(_graph(CURRENTS_CHART, 280)),
                    ]), lg=6),
                    dbc.Col(dbc.Card([
                        dbc.CardHeader("Frequency (Hz) and power factor"),
                        dbc.CardBody(_graph(FREQUENCY_CHART, 280)),
                    ]), lg=6),
                ],
                className="g-3 mb-3",
            ),
            quality,
            dbc.Card([
                dbc.CardHeader("Alert log (last 30 days)"),
                dbc.CardBody([html.Div(id=ACK_MESSAGE), html.Div(id=ALERT_LOG)]),
            ], className="mb-3"),
        ],
        className="page-voltage container-fluid py-3",
    )


def quality_summary(quality: dict[str, Any], week_label: str) -> html.Div:
    """Time within ±10 % of nominal and the week's sags, swells and outages."""
    def figure(label, value, value_id):
        return dbc.Col(html.Div([
            html.Div(label, className="small text-body-secondary"),
            html.Div(value, id=value_id, className="fs-4 fw-semibold"),
        ]), xs=6, md=3)

    band = f"{fmt.volts(quality['band_low'])} – {fmt.volts(quality['band_high'])}"
    return html.Div([
        html.Div(f"Week of {week_label}", className="small mb-2",
                 id="voltage-quality-week"),
        dbc.Row([
            figure(f"Within ±10 % ({band})", fmt.pct(quality["within_pct"]),
                   "voltage-quality-within"),
            figure("Sags (low voltage)", str(quality["sags"]), "voltage-quality-sags"),
            figure("Swells (high voltage)", str(quality["swells"]),
                   "voltage-quality-swells"),
            figure("Outages", str(quality["outages"]), "voltage-quality-outages"),
        ], className="g-3"),
        html.Div(
            f"{quality['within']} of {quality['readings']} readings inside the band",
            className="small text-body-secondary mt-2",
        ),
    ])


def alert_table(alerts: list[dict[str, Any]], tz: str, *, can_ack: bool) -> Any:
    """Start, end, duration, extreme, level and acknowledgement of each alert."""
    if not alerts:
        return html.Div("No alerts in the last 30 days",
                        className="text-body-secondary")
    columns = ("Start", "End", "Duration", "Kind", "Extreme", "Level",
               "Acknowledged")
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    rows = []
    for alert in alerts:
        if alert["acknowledged_ms"] is not None:
            who = alert.get("acknowledged_by") or "a former user"
            ack: Any = html.Span(
                f"{who}, {fmt.local_time(alert['acknowledged_ms'], tz)}",
                className="small",
            )
        elif can_ack:
            ack = dbc.Button(
                "Acknowledge", id={"type": ACK_BUTTON, "index": alert["id"]},
                size="sm", color="primary", outline=True, n_clicks=0,
            )
        else:
            ack = html.Span("not yet", className="small text-body-secondary")
        level = alert.get("level") or ""
        cells = [
            fmt.local_time(alert["started_ms"], tz),
            (fmt.local_time(alert["ended_ms"], tz)
             if alert["ended_ms"] is not None else "ongoing"),
            fmt.duration(alert["duration_s"]),
            KIND_LABEL.get(alert["kind"], alert["kind"]),
            fmt.volts(alert["extreme_value"]),
            dbc.Badge(level, color=LEVEL_BADGE.get(level, "secondary"),
                      className="text-uppercase"),
            ack,
        ]
        rows.append(html.Tr(
            [html.Td(cell, **{"data-label": name})
             for name, cell in zip(columns, cells, strict=True)],
            id=f"voltage-alert-row-{alert['id']}",
        ))
    # On a phone every alert is a card (pages.css): the Acknowledge button stays
    # on screen instead of off to the right of a sideways-scrolling table.
    return dbc.Table([head, html.Tbody(rows)], hover=True, size="sm",
                     className="alert-log table-cards mb-0")
