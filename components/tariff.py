"""The tariff section of /settings: prices, currency, demand charge, time-of-use
windows, the day a price change applies from, and the list of versions.

Pure builders; ``callbacks.tariff`` renders the card into the settings page's
``tariff-settings`` placeholder, saves a version and deletes a future one (role
checked on the server).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

CURRENCY = "tariff-currency"
IMPORT_PRICE = "tariff-import-price"
EXPORT_PRICE = "tariff-export-price"
STANDING = "tariff-standing-charge"
DEMAND = "tariff-demand-charge"
VALID_FROM = "tariff-valid-from"
VERSIONS = "tariff-versions"
DELETE_VERSION = "tariff-delete-version"  # pattern: {"type": …, "index": "YYYY-MM-DD"}
BEGINNING = date(1970, 1, 1)
TOU_START = "tariff-tou-start"  # pattern: {"type": TOU_START, "index": row}
TOU_END = "tariff-tou-end"
TOU_PRICE = "tariff-tou-price"
TOU_DAYS = "tariff-tou-days"
SAVE = "tariff-save"
STATUS = "tariff-status"
READONLY = "tariff-readonly-note"

FORM_ROWS = 4
WEEKDAY_OPTIONS = [
    {"label": day, "value": k}
    for k, day in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
]
START_OPTIONS = [{"label": "—", "value": ""}] + [
    {"label": f"{h:02d}:00", "value": str(h)} for h in range(24)
]
END_OPTIONS = [{"label": "—", "value": ""}] + [
    {"label": f"{h:02d}:00", "value": str(h)} for h in range(1, 25)
]


def _header() -> dbc.CardHeader:
    return dbc.CardHeader(html.H2("Tariff", className="h5 mb-0"))


def message_card(text: str, color: str = "secondary") -> dbc.Card:
    """The section when there is no tariff to show (no facility, no access)."""
    return dbc.Card(
        [_header(), dbc.CardBody(dbc.Alert(text, color=color, className="py-2 mb-0"))],
        className="settings-section",
    )


def _number_field(cid: str, label: str, value: Any, unit: str, disabled: bool,
                  help_text: str | None = None) -> dbc.Col:
    control = dbc.InputGroup([
        dbc.Input(id=cid, type="number", min=0, step="any", value=value,
                  disabled=disabled),
        dbc.InputGroupText(unit),
    ])
    children: list[Any] = [dbc.Label(label, html_for=cid), control]
    if help_text:
        children.append(dbc.FormText(help_text))
    return dbc.Col(children, md=6, lg=3, className="mb-3")


def _window_row(k: int, window: dict[str, Any] | None, currency: str,
                disabled: bool) -> dbc.Row:
    window = window or {}

    def hour(key: str) -> str:
        value = window.get(key)
        return "" if value is None else str(int(value))

    return dbc.Row(
        [
            dbc.Col(dbc.Select(id={"type": TOU_START, "index": k},
                               options=START_OPTIONS, value=hour("start_hour"),
                               disabled=disabled), md=2, xs=6),
            dbc.Col(dbc.Select(id={"type": TOU_END, "index": k},
                               options=END_OPTIONS, value=hour("end_hour"),
                               disabled=disabled), md=2, xs=6),
            dbc.Col(dbc.InputGroup([
                dbc.Input(id={"type": TOU_PRICE, "index": k}, type="number", min=0,
                          step="any", value=window.get("price"), disabled=disabled,
                          placeholder="price"),
                dbc.InputGroupText(f"{currency}/kWh"),
            ]), md=3, xs=12),
            dbc.Col(dcc.Checklist(
                id={"type": TOU_DAYS, "index": k},
                options=[{**o, "disabled": disabled} for o in WEEKDAY_OPTIONS],
                value=list(window.get("weekdays", [0, 1, 2, 3, 4, 5, 6])),
                inline=True, inputClassName="me-1", labelClassName="me-2 small",
            ), md=5, xs=12),
        ],
        className="g-2 mb-2 align-items-center tariff-tou-row",
    )


def valid_from_text(day: date | None) -> str:
    """``2026-12-31``, or ``the beginning`` for a version valid from always."""
    if day is None or day <= BEGINNING:
        return "the beginning"
    return day.isoformat()


def _money_cell(value: Any, unit: str) -> str:
    return f"{float(value or 0):g} {unit}" if value else "—"


def versions_table(versions: list[dict[str, Any]], today: date,
                   can_edit: bool) -> Any:
    """Every version, oldest first: when it applies from, its prices, whether it
    prices today, and (editors) a delete button on a version that has not begun."""
    if not versions:
        return html.P("No tariff saved yet: costs use the default prices.",
                      className="small text-body-secondary mb-0 tariff-no-versions")
    begun = [v for v in versions if v["valid_from"] <= today]
    current = begun[-1] if begun else versions[0]
    rows = []
    for version in versions:
        currency = version.get("currency") or ""
        day = version["valid_from"]
        if day > today:
            state = dbc.Badge("from " + day.isoformat(), color="info")
        elif version is current:
            state = dbc.Badge("current", color="success")
        else:
            state = dbc.Badge("past", color="secondary")
        action: Any = ""
        if can_edit and day > today:
            action = dbc.Button(
                "Delete", id={"type": DELETE_VERSION, "index": day.isoformat()},
                color="danger", outline=True, size="sm", n_clicks=0,
            )
        windows = len(version.get("tou") or [])
        rows.append(html.Tr(
            [
                html.Td(valid_from_text(day), **{"data-label": "Valid from"}),
                html.Td(_money_cell(version["import_price"], f"{currency}/kWh"),
                        **{"data-label": "Import"}),
                html.Td(_money_cell(version["export_price"], f"{currency}/kWh"),
                        **{"data-label": "Export"}),
                html.Td(_money_cell(version.get("standing_charge"),
                                    f"{currency}/day"),
                        **{"data-label": "Standing charge"}),
                html.Td(_money_cell(version.get("demand_charge"),
                                    f"{currency}/kW/month"),
                        **{"data-label": "Demand charge"}),
                html.Td(str(windows) if windows else "—",
                        **{"data-label": "TOU windows"}),
                html.Td(state),
                html.Td(action),
            ],
            className="tariff-version",
        ))
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "Valid from", "Import", "Export", "Standing charge", "Demand charge",
        "TOU windows", "", "")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True,
                     className="tariff-versions-table table-cards mb-0")


def tariff_card(tariff: dict[str, Any], can_edit: bool,
                versions: list[dict[str, Any]] | None = None,
                today: date | None = None) -> dbc.Card:
    """The form, filled with the current tariff, and the list of versions;
    read-only for viewers. ``today`` is the facility's local day (the default
    "valid from")."""
    disabled = not can_edit
    today = today or date.today()
    currency = tariff.get("currency") or "EUR"
    windows = list(tariff.get("tou") or [])
    rows = max(FORM_ROWS, len(windows))
    prices = dbc.Row(
        [
            dbc.Col([
                dbc.Label("Currency", html_for=CURRENCY),
                dbc.Input(id=CURRENCY, type="text", maxLength=3, value=currency,
                          disabled=disabled),
                dbc.FormText("Three letters, e.g. EUR"),
            ], md=6, lg=3, className="mb-3"),
            _number_field(IMPORT_PRICE, "Import price", tariff.get("import_price"),
                          f"{currency}/kWh", disabled, "Energy bought from the grid"),
            _number_field(EXPORT_PRICE, "Export price", tariff.get("export_price"),
                          f"{currency}/kWh", disabled, "Paid for energy fed in"),
            _number_field(STANDING, "Standing charge (optional)",
                          tariff.get("standing_charge") or None, f"{currency}/day",
                          disabled, "A fixed charge per day"),
            _number_field(DEMAND, "Demand charge (optional)",
                          tariff.get("demand_charge") or None,
                          f"{currency}/kW/month", disabled,
                          "Per kW of the month's highest hourly demand"),
            dbc.Col([
                dbc.Label("Valid from", html_for=VALID_FROM),
                dbc.Input(id=VALID_FROM, type="date", value=today.isoformat(),
                          min=today.isoformat(), disabled=disabled),
                dbc.FormText("A later day adds a price change from that day on; "
                             "costs before it keep their prices"),
            ], md=6, lg=3, className="mb-3"),
        ],
        className="g-3",
    )
    tou = html.Div(
        [
            html.H3("Time-of-use windows (optional)", className="h6 mt-2"),
            html.P(
                "A window replaces the import price during its local hours on the "
                "chosen weekdays (start 22:00, end 06:00 wraps past midnight). The "
                "first matching window counts. Leave a row empty to not use it.",
                className="small text-body-secondary",
            ),
            dbc.Row(
                [dbc.Col(html.Small("From"), md=2, xs=6),
                 dbc.Col(html.Small("Until"), md=2, xs=6),
                 dbc.Col(html.Small("Import price"), md=3, xs=12),
                 dbc.Col(html.Small("Weekdays"), md=5, xs=12)],
                className="g-2 text-body-secondary",
            ),
            *[_window_row(k, windows[k] if k < len(windows) else None, currency,
                          disabled) for k in range(rows)],
        ]
    )
    footer: list[Any] = []
    if can_edit:
        footer.append(dbc.Button("Save tariff", id=SAVE, color="primary",
                                 n_clicks=0, className="me-2"))
    else:
        footer.append(html.P(
            "You have read-only access: only admins and operators of this facility "
            "can change its tariff.",
            id=READONLY, className="small text-body-secondary mb-0",
        ))
    if not tariff.get("configured", True):
        footer.append(html.Span(
            "No tariff saved yet: these are the defaults used for costs.",
            className="small text-body-secondary",
        ))
    history = html.Div(
        [
            html.H3("Versions", className="h6 mt-4"),
            html.P(
                "Each version prices the days from its date on (the facility's "
                "local calendar); the first one also prices everything before it. "
                "A version that has not begun can be changed (save with its date) "
                "or deleted.",
                className="small text-body-secondary",
            ),
            html.Div(versions_table(versions or [], today, can_edit), id=VERSIONS),
        ]
    )
    return dbc.Card(
        [
            _header(),
            dbc.CardBody([prices, tou, html.Div(footer, className="mt-3"),
                          html.Div(id=STATUS, className="mt-2"), history]),
        ],
        className="settings-section tariff-card",
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def windows_from_form(starts: list, ends: list, prices: list,
                      days: list) -> list[dict[str, Any]]:
    """Time-of-use windows of the filled-in rows (a row with no hours and no price
    is skipped); values are left as entered for ``clean_tariff`` to judge."""
    windows = []
    for start, end, price, weekdays in zip(starts, ends, prices, days, strict=False):
        if _blank(start) and _blank(end) and _blank(price):
            continue
        windows.append({"start_hour": None if _blank(start) else start,
                        "end_hour": None if _blank(end) else end,
                        "price": None if _blank(price) else price,
                        "weekdays": list(weekdays or [])})
    return windows


def status(text: str, color: str = "success") -> dbc.Alert:
    return dbc.Alert(text, color=color, className="py-2 mb-0 tariff-status-message")
