"""Layout of /historical: range choice, totals vs the previous period, charts, CSV."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import figures, quality
from components import formatting as fmt

RANGE = "historical-range"
DATES = "historical-dates"
CUSTOM = "historical-custom"
MESSAGE = "historical-message"
PERIOD = "historical-period"
RESOLUTION = "historical-resolution"
TOTALS = "historical-totals"
POWER_CHART = "historical-power-chart"
DAILY_CHART = "historical-daily-chart"
HEATMAP = "historical-heatmap"
TREND_CHART = "historical-self-sufficiency-chart"
DOWNLOAD_BUTTON = "historical-download-button"
DOWNLOAD = "historical-download"

RANGE_OPTIONS = [
    {"label": "7 days", "value": "7"},
    {"label": "30 days", "value": "30"},
    {"label": "90 days", "value": "90"},
    {"label": "Custom", "value": "custom"},
]
MAX_CUSTOM_DAYS = 3 * 366


def _graph(graph_id: str, height: int) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=figures.empty_figure("Loading…", uirevision=graph_id),
        config={"displaylogo": False, "responsive": True},
        style={"height": f"{height}px"},
    )


def layout(range_value: str = "7") -> html.Div:
    """The page structure; no I/O."""
    controls = dbc.Row(
        [
            dbc.Col(
                dbc.RadioItems(
                    id=RANGE, options=RANGE_OPTIONS, value=range_value,
                    inline=True, className="btn-group-range",
                ),
                md="auto",
            ),
            dbc.Col(
                html.Div(
                    dcc.DatePickerRange(
                        id=DATES, display_format="YYYY-MM-DD",
                        first_day_of_week=1, clearable=False,
                        minimum_nights=0, updatemode="bothdates",
                    ),
                    id=CUSTOM,
                    style={"display": "block" if range_value == "custom" else "none"},
                ),
                md="auto",
            ),
            dbc.Col(
                [
                    dbc.Button(
                        [html.I(className="bi bi-download me-1"), "Download CSV"],
                        id=DOWNLOAD_BUTTON, color="secondary", outline=True,
                        size="sm",
                    ),
                    dcc.Download(id=DOWNLOAD),
                ],
                md="auto", className="ms-md-auto",
            ),
        ],
        className="g-3 align-items-center mb-2",
    )
    return html.Div(
        [
            html.H2("Historical", className="h4 mb-3"),
            controls,
            html.Div(
                [html.Span(id=PERIOD, className="me-3"),
                 html.Span(id=RESOLUTION, className="text-body-secondary")],
                className="small mb-3",
            ),
            html.Div(id=MESSAGE),
            html.Div(id=TOTALS, className="mb-3"),
            dbc.Card([
                dbc.CardHeader("Production vs consumption (average kW)"),
                dbc.CardBody(_graph(POWER_CHART, 340)),
            ], className="mb-3"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([
                        dbc.CardHeader("Energy per day (kWh, local days)"),
                        dbc.CardBody(_graph(DAILY_CHART, 300)),
                    ]), lg=6),
                    dbc.Col(dbc.Card([
                        dbc.CardHeader("Self-sufficiency per day (%)"),
                        dbc.CardBody(_graph(TREND_CHART, 300)),
                    ]), lg=6),
                ],
                className="g-3 mb-3",
            ),
            dbc.Card([
                dbc.CardHeader("Peak usage: average consumption by weekday and hour "
                               "(kW, local time)"),
                dbc.CardBody(_graph(HEATMAP, 320)),
            ], className="mb-3"),
            quality.panel(),
        ],
        className="page-historical container-fluid py-3",
    )


TOTAL_ROWS = (
    ("Produced", "produced_kwh", fmt.kwh),
    ("Consumed", "consumed_kwh", fmt.kwh),
    ("Net import", "net_import_kwh", fmt.kwh),
    ("Self-sufficiency", "self_sufficiency_pct", fmt.pct),
)


def totals_table(comparison: dict[str, dict[str, Any]], *, current_label: str,
                 previous_label: str, costs: tuple[dict, dict] | None = None
                 ) -> dbc.Table:
    """This period vs the previous one of equal length, with the change.

    ``costs`` (this period, previous period) from ``data.forecasts.cost_of_range``
    adds the energy cost under the facility's tariff.
    """
    head = html.Thead(html.Tr([
        html.Th(""), html.Th(current_label), html.Th(previous_label),
        html.Th("Change"),
    ]))
    rows = []
    for label, key, show in TOTAL_ROWS:
        change = comparison["change_pct"].get(key)
        if key == "self_sufficiency_pct":
            change_text = (fmt.MISSING if change is None
                           else fmt.signed_pct(change).replace("%", "pp"))
        else:
            change_text = fmt.signed_pct(change)
        rows.append(html.Tr(
            [
                html.Th(label, scope="row"),
                html.Td(show(comparison["current"][key]),
                        id=f"historical-total-{key}"),
                html.Td(show(comparison["previous"][key]),
                        id=f"historical-previous-{key}"),
                html.Td(change_text, id=f"historical-change-{key}"),
            ]
        ))
    if costs is not None:
        now, before = costs
        change = (None if not before["total"]
                  else (now["total"] - before["total"]) / abs(before["total"]) * 100)
        rows.append(html.Tr([
            html.Th("Energy cost (tariff)", scope="row"),
            html.Td(fmt.money(now["total"], now["currency"]),
                    id="historical-total-cost"),
            html.Td(fmt.money(before["total"], before["currency"]),
                    id="historical-previous-cost"),
            html.Td(fmt.signed_pct(change), id="historical-change-cost"),
        ]))
    return dbc.Table([head, html.Tbody(rows)], bordered=False, hover=True,
                     size="sm", className="totals-table mb-0")
