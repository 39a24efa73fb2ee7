"""The "Data quality" panel: what went wrong with a facility's data, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

from energy_dash.domain.quality import LABELS

PANEL = "quality-panel"
BODY = "quality-body"
SUMMARY = "quality-summary"
SHOWN = 100


def panel() -> dbc.Card:
    """The empty card; a callback fills it."""
    return dbc.Card(
        [
            dbc.CardHeader(["Data quality in this period ",
                            html.Span(id=SUMMARY, className="text-body-secondary")]),
            dbc.CardBody(html.Div("Loading…", id=BODY), className="p-0"),
        ],
        id=PANEL, className="mb-3",
    )


def _when(ts_ms: int, zone: ZoneInfo) -> str:
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M")


def summary(events: Sequence[dict[str, Any]]) -> str:
    """``3 issues: 2 Gap in the data, 1 Counter reset`` (or ``no issues``)."""
    if not events:
        return "· no issues"
    counts: dict[str, int] = {}
    for event in events:
        counts[event["kind"]] = counts.get(event["kind"], 0) + 1
    parts = [f"{n} {LABELS.get(kind, kind).lower()}" for kind, n in
             sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    noun = "issue" if len(events) == 1 else "issues"
    return f"· {len(events)} {noun}: " + ", ".join(parts)


def table(events: Sequence[dict[str, Any]], timezone: str) -> Any:
    """The events as a table in the facility's local time."""
    if not events:
        return html.P("No gaps, counter problems or malformed messages.",
                      className="text-body-secondary small m-3")
    zone = ZoneInfo(timezone)
    rows = [
        html.Tr([
            html.Td(_when(e["ts_ms"], zone), className="text-nowrap"),
            html.Td(e["device_id"] or "—"),
            html.Td(LABELS.get(e["kind"], e["kind"])),
            html.Td(e["detail"], className="small"),
        ])
        for e in events[:SHOWN]
    ]
    head = html.Thead(html.Tr([html.Th("Time"), html.Th("Device"), html.Th("Issue"),
                               html.Th("Detail")]))
    return html.Div(
        dbc.Table([head, html.Tbody(rows)], size="sm", hover=True,
                  className="mb-0"),
        className="table-responsive",
    )
