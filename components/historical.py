"""Layout of /historical: range choice, totals vs the previous period, charts, CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import figures, quality
from components import formatting as fmt

RANGE = "historical-range"
START = "historical-start"
END = "historical-end"
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
URL_SYNC = "historical-url-sync"
DATA_NOTE = "historical-data-note"

RANGE_OPTIONS = [
    {"label": "7 days", "value": "7"},
    {"label": "30 days", "value": "30"},
    {"label": "90 days", "value": "90"},
    {"label": "Custom", "value": "custom"},
]
MAX_CUSTOM_DAYS = 3 * 366


def date_box(ident: str, day: str | None) -> dcc.DatePickerSingle:
    """One date box. Never ``date=None``: a picker given an empty date reports it
    as a change when it mounts, which computed the whole page a second time."""
    chosen = {"date": day} if day else {}
    return dcc.DatePickerSingle(id=ident, display_format="YYYY-MM-DD",
                                first_day_of_week=1, clearable=False,
                                placeholder="YYYY-MM-DD", **chosen)

def _graph(graph_id: str, height: int) -> dcc.Graph:
    return figures.graph(graph_id, height)


def day_param(value: Any) -> str | None:
    """``?start=`` / ``?end=`` as an ISO date string, else None (never raises)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def layout(range_value: str = "7", start: str | None = None,
           end: str | None = None) -> html.Div:
    """The page structure; no I/O. ``start``/``end`` (ISO dates) come from the URL
    of a shared custom range."""
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
                    # Two pickers, not one range picker: a date typed into a box
                    # counts as soon as focus leaves that box, so what the boxes
                    # show is what is computed, whichever is typed first.
                    [
                        html.Label("From", htmlFor=START, className="small me-1"),
                        date_box(START, start),
                        html.Label("to", htmlFor=END, className="small mx-1"),
                        date_box(END, end),
                    ],
                    className="historical-custom",
                    id=CUSTOM,
                    style={"display": "flex" if range_value == "custom" else "none"},
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
            html.Div(id=URL_SYNC, hidden=True),
            html.Div(id=MESSAGE),
            html.Div(id=DATA_NOTE, className="small text-body-secondary mb-2"),
            html.Div(id=TOTALS, className="mb-3"),
            dbc.Card([
                dbc.CardHeader("Production vs consumption (average power)"),
                dbc.CardBody(_graph(POWER_CHART, 340)),
            ], className="mb-3"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([
                        dbc.CardHeader("Energy per day (local days)"),
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
                               "(local time)"),
                dbc.CardBody(_graph(HEATMAP, 320)),
            ], className="mb-3"),
            quality.panel(),
        ],
        className="page-historical page-width py-3",
    )


TOTAL_ROWS = (
    ("Produced", "produced_kwh", fmt.kwh),
    ("Consumed", "consumed_kwh", fmt.kwh),
    ("Net import", "net_import_kwh", fmt.kwh),
    ("Self-sufficiency", "self_sufficiency_pct", fmt.pct),
)
NO_DATA = "no data"


def coverage_text(pct: float | None, threshold: float = 90.0) -> str:
    """``100 %``, ``43 % · incomplete`` or ``no data`` for a period's coverage."""
    if pct is None:
        return fmt.MISSING
    if pct <= 0:
        return NO_DATA
    shown = f"{pct:.0f} %" if pct >= 1 else "< 1 %"
    return shown if pct >= threshold else f"{shown} · incomplete"


def comparison_note(comparison: dict[str, Any], previous_label: str) -> str | None:
    """One sentence saying why the Change column is empty, or None."""
    coverage = comparison.get("coverage") or {}
    if comparison.get("comparable", True):
        return None
    threshold = comparison.get("comparable_pct", 90.0)
    now, before = coverage.get("current", 0.0), coverage.get("previous", 0.0)
    if before <= 0:
        why = f"The previous period ({previous_label}) has no data"
    elif before < threshold:
        why = (f"The previous period ({previous_label}) is incomplete: readings "
               f"cover {coverage_text(before).split(' ·')[0]} of it")
    else:
        why = (f"This period is incomplete: readings cover "
               f"{coverage_text(now).split(' ·')[0]} of it so far")
    return (f"{why}, so changes are not shown (both periods need readings for at "
            f"least {threshold:.0f} % of their time).")


def _cell(text: str, cell_id: str, label: str) -> html.Td:
    return html.Td(text, id=cell_id, **{"data-label": label})


def totals_table(comparison: dict[str, Any], *, current_label: str,
                 previous_label: str, costs: tuple[dict, dict] | None = None
                 ) -> html.Div:
    """This period vs the previous one of equal length, with the change.

    ``costs`` (this period, previous period) from ``data.forecasts.cost_of_range``
    adds the energy cost under the facility's tariff. A period without readings
    says ``no data`` instead of zeros; changes appear only when both periods are
    comparable (see ``views.period_comparison``). On a phone each row becomes a
    card (CSS), the cells keep their column name in ``data-label``.
    """
    coverage = comparison.get("coverage") or {}
    threshold = comparison.get("comparable_pct", 90.0)
    empty_before = coverage.get("previous") is not None and coverage["previous"] <= 0
    empty_now = coverage.get("current") is not None and coverage["current"] <= 0
    labels = (current_label, previous_label, "Change")
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
                _cell(NO_DATA if empty_now else show(comparison["current"][key]),
                      f"historical-total-{key}", labels[0]),
                _cell(NO_DATA if empty_before
                      else show(comparison["previous"][key]),
                      f"historical-previous-{key}", labels[1]),
                _cell(change_text, f"historical-change-{key}", labels[2]),
            ]
        ))
    if costs is not None:
        now, before = costs
        change = (None if not before["total"] or not comparison.get("comparable", True)
                  else (now["total"] - before["total"]) / abs(before["total"]) * 100)
        rows.append(html.Tr([
            html.Th("Energy cost (tariff)", scope="row"),
            _cell(NO_DATA if empty_now else fmt.money(now["total"], now["currency"]),
                  "historical-total-cost", labels[0]),
            _cell(NO_DATA if empty_before
                  else fmt.money(before["total"], before["currency"]),
                  "historical-previous-cost", labels[1]),
            _cell(fmt.signed_pct(change), "historical-change-cost", labels[2]),
        ]))
    if coverage:
        rows.append(html.Tr([
            html.Th("Data coverage", scope="row"),
            _cell(coverage_text(coverage.get("current"), threshold),
                  "historical-coverage-current", labels[0]),
            _cell(coverage_text(coverage.get("previous"), threshold),
                  "historical-coverage-previous", labels[1]),
            _cell("", "historical-coverage-change", labels[2]),
        ], className="totals-coverage"))
    note = comparison_note(comparison, previous_label)
    table = dbc.Table([head, html.Tbody(rows)], bordered=False, hover=True,
                      size="sm", className="totals-table table-cards mb-0")
    return html.Div([
        table,
        html.P(note, id="historical-comparison-note",
               className="small text-warning-emphasis mt-2 mb-0") if note else None,
    ])
