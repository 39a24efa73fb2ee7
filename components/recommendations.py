"""Recommendations panel (dashboard and /forecast) and the dashboard's cost KPI.

Pure builders: a result of ``energy_dash.services.forecasts.facility_recommendations``
or ``month_cost`` in, components out. Recommendation texts come from the
facility's own data and are shown as text, never as HTML.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from components import formatting as fmt

PANEL_CLASS = "recommendations-panel"


money = fmt.money


def recommendation_item(rec: dict[str, Any], rank: int) -> dbc.ListGroupItem:
    """One recommendation: title, kWh and money per month, and how it was computed."""
    currency = rec.get("currency") or ""
    badges = []
    if rec.get("kwh_per_month"):
        badges.append(dbc.Badge(
            f"{fmt.number(rec['kwh_per_month'], 0)} kWh/month", color="success",
            className="me-1 rec-kwh",
        ))
    badges.append(dbc.Badge(
        f"{money(rec.get('money_per_month'), currency)}/month", color="primary",
        className="me-1 rec-money",
    ))
    return dbc.ListGroupItem(
        [
            html.Div(
                [
                    html.Span(f"{rank}. ", className="text-body-secondary"),
                    html.Span(rec["title"], className="fw-semibold rec-title me-2"),
                    *badges,
                ],
                className="d-flex flex-wrap align-items-center gap-1 mb-1",
            ),
            html.P(rec["detail"], className="small text-body-secondary mb-0 "
                   "rec-detail"),
        ],
        class_name=f"recommendation rec-{rec.get('key', '')}",
    )


def days_text(days: float) -> str:
    """``the last 30 days of readings`` or ``12 days of readings (the last 30
    days were searched)`` — never "30 days of readings (of 30)"."""
    held = int(round(days or 0))
    if held >= 30:
        return "the last 30 days of readings"
    unit = "day" if held == 1 else "days"
    return f"{held} {unit} of readings (the last 30 days were searched)"


def recommendations_panel(
    result: dict[str, Any] | None, *, message: str | None = None
) -> dbc.Card:
    """The ranked list (highest money per month first) with its basis."""
    header = dbc.CardHeader(
        [html.I(className="bi bi-lightbulb me-1"), "Recommendations"]
    )
    if result is None:
        body = html.P(message or "Select a facility.", className="mb-0 "
                      "text-body-secondary")
        return dbc.Card([header, dbc.CardBody(body)], className=PANEL_CLASS)
    tariff = result.get("tariff") or {}
    currency = result.get("currency") or tariff.get("currency") or ""
    basis = (
        f"From {days_text(result.get('days', 0))} and its tariff: import "
        f"{fmt.number(tariff.get('import_price'), 4)} "
        f"{currency}/kWh, export {fmt.number(tariff.get('export_price'), 4)} "
        f"{currency}/kWh"
    )
    if tariff.get("demand_charge"):
        basis += (f", demand charge {fmt.number(tariff['demand_charge'], 2)} "
                  f"{currency}/kW/month")
    if tariff.get("tou"):
        basis += f", {len(tariff['tou'])} time-of-use window(s)"
    if not tariff.get("configured", True):
        basis += " (default prices: set the facility's tariff in Settings)"
    basis += ". Months are 30 days."
    items = result.get("items") or []
    if items:
        content: Any = dbc.ListGroup(
            [recommendation_item(rec, k + 1) for k, rec in enumerate(items)],
            flush=True,
        )
    else:
        content = html.P(
            message or "Nothing to recommend: none of the checks (solar "
            "self-consumption, night base load, demand peaks, power factor, phase "
            "balance, voltage excursions) found a saving in this period.",
            className="mb-0 rec-empty",
        )
    fine = result.get("checked_fine") or []
    body = [html.P(basis, className="small text-body-secondary rec-basis"), content]
    unpriced = result.get("unpriced") or []
    if unpriced:
        body.append(html.Div(
            [html.P("Found, with no saving in money under this tariff:",
                    className="small fw-semibold mt-2 mb-1")]
            + [html.P([html.Span(rec["title"] + ": ", className="fw-semibold"),
                       rec["detail"]],
                      className=f"small text-body-secondary mb-1 rec-unpriced "
                      f"rec-{rec.get('key', '')}")
               for rec in unpriced],
        ))
    explained = [name for name in fine if name.endswith(")")]
    if (items or unpriced) and fine:
        body.append(html.P(
            "Checked and found nothing to gain: " + ", ".join(fine) + ".",
            className="small text-body-secondary mt-2 mb-0 rec-fine",
        ))
    elif explained:  # nothing found at all: the checks' own findings still tell
        body.append(html.P(
            "What the checks found: " + ", ".join(explained) + ".",
            className="small text-body-secondary mt-2 mb-0 rec-fine",
        ))
    return dbc.Card([header, dbc.CardBody(body)], className=PANEL_CLASS)


def cost_kpi(cost: dict[str, Any] | None, *, message: str | None = None) -> list:
    """Children of the dashboard's cost card: this month's cost so far."""
    label = html.Div(
        [html.I(className="bi bi-cash-coin me-1"), "Cost this month"],
        className="kpi-label text-body-secondary small",
    )
    if cost is None:
        return [label, html.Div(fmt.MISSING, className="kpi-value fs-3 fw-semibold"),
                html.Div(message or "", className="kpi-note small")]
    currency = cost["currency"]
    today = cost.get("today") or {}
    note = (
        f"today {money(today.get('total'), currency)} · import "
        f"{fmt.kwh(cost['import_kwh'])}, export {fmt.kwh(cost['export_kwh'])}"
    )
    if cost.get("demand_charge"):
        note += (f" · demand charge {money(cost['demand_charge'], currency)} "
                 f"(peak {fmt.kw(cost.get('peak_kw'))})")
    if not (cost.get("tariff") or {}).get("configured", True):
        note += " · default tariff"
    return [
        label,
        html.Div(money(cost["total"], currency), id="dashboard-cost-value",
                 className="kpi-value fs-3 fw-semibold"),
        html.Div(note, className="kpi-note small"),
    ]
