"""Layout builders of /settings: facility details, device keys, wall tokens, members.

Pure functions: data in, components out. Callbacks (callbacks/settings.py) fill
them and enforce every permission on the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids
from energy_dash.domain.bindings import FORMATS, KINDS, ROLES, UNITS

ROLE_OPTIONS = [
    {"label": "Admin", "value": "admin"},
    {"label": "Operator", "value": "operator"},
    {"label": "Viewer", "value": "viewer"},
]
DETAIL_FIELDS = (
    # (id, facility key, label, input type, step, unit help)
    (ids.SET_NAME, "name", "Name", "text", None, None),
    (ids.SET_LOCATION, "location", "Location", "text", None, None),
    (ids.SET_LATITUDE, "latitude", "Latitude", "number", "any", "°N"),
    (ids.SET_LONGITUDE, "longitude", "Longitude", "number", "any", "°E"),
    (ids.SET_CAPACITY, "capacity_kw", "Capacity", "number", "any", "kW"),
    (ids.SET_PANELS, "panel_count", "Panel count", "number", 1, None),
    (ids.SET_VOLTAGE, "nominal_voltage", "Nominal voltage", "number", "any", "V"),
    (ids.SET_INTERVAL, "expected_interval_s", "Reporting interval", "number", 1, "s"),
    (ids.SET_WARNING, "voltage_warning_pct", "Warning threshold", "number", "any", "%"),
    (
        ids.SET_CRITICAL,
        "voltage_critical_pct",
        "Critical threshold",
        "number",
        "any",
        "%",
    ),
    (ids.SET_HYSTERESIS, "voltage_hysteresis_pct", "Hysteresis", "number", "any", "%"),
)
FIELD_IDS = {key: cid for cid, key, *_ in DETAIL_FIELDS}
FIELD_IDS["timezone"] = ids.SET_TIMEZONE


def local_time(value: str | None, zone: str) -> str:
    """``2024-05-01 14:03`` in the facility's zone, or ``—``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    except (ValueError, KeyError):
        return value
    return moment.strftime("%Y-%m-%d %H:%M")


def _field(cid: str, label: str, kind: str, step, unit: str | None) -> dbc.Col:
    control = dbc.Input(id=cid, type=kind, step=step, debounce=False)
    if unit:
        control = dbc.InputGroup([control, dbc.InputGroupText(unit)])
    return dbc.Col(
        [dbc.Label(label, html_for=cid), control],
        md=6,
        lg=4,
        className="mb-3",
    )


def details_card(zones: list[str]) -> dbc.Card:
    fields = [
        _field(cid, label, kind, step, unit)
        for cid, _k, label, kind, step, unit in DETAIL_FIELDS
    ]
    fields.insert(
        2,
        dbc.Col(
            [
                dbc.Label("Time zone", html_for=ids.SET_TIMEZONE),
                dcc.Dropdown(
                    id=ids.SET_TIMEZONE,
                    options=zones,
                    clearable=False,
                    searchable=True,
                    placeholder="IANA time zone, e.g. Europe/Berlin",
                ),
            ],
            md=6,
            lg=4,
            className="mb-3",
        ),
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Facility details", className="h5 mb-0")),
            dbc.CardBody(
                [
                    dbc.Row(fields),
                    html.Div(
                        [
                            dbc.Button(
                                "Save changes",
                                id=ids.SET_SAVE,
                                color="primary",
                                n_clicks=0,
                            ),
                            html.Div(
                                id=ids.SET_SAVE_STATUS, className="ms-3 flex-grow-1"
                            ),
                        ],
                        className="d-flex align-items-center",
                    ),
                ]
            ),
        ],
        className="settings-section",
    )


def secrets_card(
    title: str,
    help_text: str,
    name_id: str,
    create_id: str,
    secret_id: str,
    table_id: str,
    placeholder: str,
) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(title, className="h5 mb-0")),
            dbc.CardBody(
                [
                    html.P(help_text, className="text-body-secondary small"),
                    dbc.InputGroup(
                        [
                            dbc.Input(
                                id=name_id,
                                placeholder=placeholder,
                                maxLength=64,
                                type="text",
                            ),
                            dbc.Button(
                                "Create", id=create_id, color="primary", n_clicks=0
                            ),
                        ],
                        className="mb-3",
                    ),
                    html.Div(id=secret_id),
                    html.Div(id=table_id),
                ]
            ),
        ],
        className="settings-section",
    )


def members_card() -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Members and roles", className="h5 mb-0")),
            dbc.CardBody(
                [
                    html.P(
                        "Admins manage everything here; operators change settings, "
                        "keys and display tokens; viewers only look.",
                        className="text-body-secondary small",
                    ),
                    dbc.InputGroup(
                        [
                            dbc.Input(
                                id=ids.MEMBER_USERNAME,
                                placeholder="Username",
                                type="text",
                                maxLength=64,
                            ),
                            dbc.Select(
                                id=ids.MEMBER_ROLE, options=ROLE_OPTIONS, value="viewer"
                            ),
                            dbc.Button(
                                "Add member",
                                id=ids.MEMBER_ADD,
                                color="primary",
                                n_clicks=0,
                            ),
                        ],
                        className="mb-3 member-form",
                    ),
                    html.Div(id=ids.MEMBER_STATUS),
                    html.Div(id=ids.MEMBER_TABLE),
                ]
            ),
        ],
        id=ids.MEMBERS_SECTION,
        className="settings-section",
        style={"display": "none"},
    )


FORMAT_LABELS = {"native": "Energy Dash JSON", "tasmota": "Tasmota",
                 "shelly": "Shelly Gen2 / Pro", "opendtu": "OpenDTU / AhoyDTU"}
KIND_LABELS = {"power": "Power", "energy": "Energy per interval",
               "energy_total": "Energy register (total)"}


def _options(values, labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    labels = labels or {}
    return [{"label": labels.get(v, v.capitalize()), "value": v} for v in values]


def _labelled(label: str, control: Any, cid: str, md: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=cid, className="small mb-1"), control],
                   xs=12, sm=6, md=md, className="mb-2")


def unit_options(kind: str | None) -> list[dict[str, str]]:
    """The units a line-protocol kind takes (power: W or kW; energy: Wh or kWh)."""
    return [{"label": u, "value": u} for u in UNITS.get(kind or "", UNITS["power"])]


def bindings_card() -> dbc.Card:
    """Which MQTT topics and line-protocol points feed this facility.

    Shown to admins and operators only, as Home Assistant and Grafana keep
    integrations and data sources away from viewers; the callbacks refuse a
    viewer's request too.
    """
    topic_form = dbc.Row([
        _labelled("Topic filter", dbc.Input(
            id=ids.TOPIC_FILTER, placeholder="tele/+/SENSOR", maxLength=512,
        ), ids.TOPIC_FILTER, 3),
        _labelled("Format", dbc.Select(
            id=ids.TOPIC_FORMAT, options=_options(FORMATS, FORMAT_LABELS),
            value="tasmota"), ids.TOPIC_FORMAT, 3),
        _labelled("Role", dbc.Select(
            id=ids.TOPIC_ROLE, options=_options(ROLES), value="consumption",
        ), ids.TOPIC_ROLE, 2),
        _labelled("Device id", dbc.Input(
            id=ids.TOPIC_DEVICE, placeholder="automatic", maxLength=64,
        ), ids.TOPIC_DEVICE, 2),
        dbc.Col(dbc.Button("Bind topic", id=ids.TOPIC_CREATE, color="primary",
                           n_clicks=0, className="text-nowrap"), xs=12, md=2,
                className="mb-2 align-self-end"),
    ], className="g-2")
    influx_form = dbc.Row([
        _labelled("Measurement", dbc.Input(
            id=ids.INFLUX_MEASUREMENT, placeholder="Mains", maxLength=200,
        ), ids.INFLUX_MEASUREMENT, 3),
        _labelled("Tags (K=V)", dbc.Input(
            id=ids.INFLUX_TAGS, placeholder="device=iotawatt", maxLength=400,
        ), ids.INFLUX_TAGS, 3),
        _labelled("Field", dbc.Input(
            id=ids.INFLUX_FIELD, placeholder="value", maxLength=200,
        ), ids.INFLUX_FIELD, 2),
        _labelled("Role", dbc.Select(
            id=ids.INFLUX_ROLE, options=_options(ROLES), value="consumption",
        ), ids.INFLUX_ROLE, 2),
        _labelled("Kind", dbc.Select(
            id=ids.INFLUX_KIND, options=_options(KINDS, KIND_LABELS), value="power",
        ), ids.INFLUX_KIND, 2),
        _labelled("Unit", dbc.Select(
            id=ids.INFLUX_UNIT, options=unit_options("power"), value="W",
        ), ids.INFLUX_UNIT, 2),
        _labelled("Device id", dbc.Input(
            id=ids.INFLUX_DEVICE, placeholder="automatic", maxLength=64,
        ), ids.INFLUX_DEVICE, 3),
        dbc.Col(dbc.Button("Bind points", id=ids.INFLUX_CREATE, color="primary",
                           n_clicks=0, className="text-nowrap"), xs=12, md=2,
                className="mb-2 align-self-end"),
    ], className="g-2")
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Meter bindings", className="h5 mb-0")),
            dbc.CardBody([
                html.P("MQTT topics (Tasmota, Shelly, OpenDTU, Energy Dash JSON) and "
                       "InfluxDB line-protocol points (IoTaWatt, Telegraf) that feed "
                       "this facility. A running subscriber picks up a change "
                       "within seconds.", className="text-body-secondary small"),
                html.H3("MQTT topics", className="h6"),
                topic_form,
                html.Div(id=ids.TOPIC_STATUS, className="mb-2"),
                html.Div(id=ids.TOPIC_TABLE, className="mb-4"),
                html.H3("InfluxDB line protocol", className="h6"),
                influx_form,
                html.Div(id=ids.INFLUX_STATUS, className="mb-2"),
                html.Div(id=ids.INFLUX_TABLE),
            ]),
        ],
        id=ids.BIND_SECTION,
        className="settings-section",
        style={"display": "none"},
    )


def _remove_button(ref: str) -> html.Td:
    return html.Td(dbc.Button("Remove", id={"type": ids.BIND_REMOVE, "index": ref},
                              color="outline-danger", size="sm", n_clicks=0))


def topic_table(rows: list[dict[str, Any]]) -> Any:
    """Topic bindings, each with its remove button."""
    if not rows:
        return html.P("No MQTT topics bound yet.",
                      className="text-body-secondary small mb-0")
    columns = ("Topic", "Format", "Role", "Device")
    body = [
        html.Tr([
            _td("Topic", html.Code(row["topic"])),
            _td("Format", FORMAT_LABELS.get(row["format"], row["format"])),
            _td("Role", row["role"]),
            _td("Device", row["device_id"] or "automatic"),
            _remove_button(f"topic:{row['id']}"),
        ], id=f"topic-binding-{row['id']}")
        for row in rows
    ]
    return _binding_table(columns, body)


def influx_table(rows: list[dict[str, Any]]) -> Any:
    """Line-protocol bindings: which points become which reading field."""
    if not rows:
        return html.P("No line-protocol points bound yet.",
                      className="text-body-secondary small mb-0")
    columns = ("Measurement", "Tags", "Field", "Feeds", "Device")
    body = []
    for row in rows:
        tags = ", ".join(f"{k}={v}" for k, v in sorted((row["tags"] or {}).items()))
        body.append(html.Tr([
            _td("Measurement", html.Code(row["measurement"])),
            _td("Tags", tags or "any"),
            _td("Field", row["field"] or "any"),
            _td("Feeds", f"{row['role']} {KIND_LABELS[row['kind']].lower()} "
                         f"[{row['unit']}]"),
            _td("Device", row["device_id"] or "automatic"),
            _remove_button(f"influx:{row['id']}"),
        ], id=f"influx-binding-{row['id']}"))
    return _binding_table(columns, body)


def _binding_table(columns: tuple[str, ...], body: list[Any]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in (*columns, "")]))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True,
                     className="align-middle mb-0 table-cards")


def forecast_slot_card(status: dict[str, Any] | None) -> dbc.Card:
    """The last scheduled forecast refresh, for administrators of the site."""
    if status is None:
        body: list[Any] = [html.P("No scheduled forecast refresh has run yet.",
                                  className="mb-0")]
    else:
        state = "complete" if status["complete"] else "in progress"
        took = status["duration_s"]
        fit = status["fit_mean_s"]
        cells = [
            ("Slot", f"{status['slot']:%Y-%m-%d %H:%M} UTC ({state})"),
            ("Fits", str(status["total"])),
            ("Queued", str(status["queued"])),
            ("Running", str(status["running"])),
            ("Done", str(status["done"])),
            ("Skipped (too little history)", str(status["skipped"])),
            ("Failed", str(status["failed"])),
            ("Took", "—" if took is None else f"{took:.1f} s"),
            ("Per fit", "—" if fit is None else f"{fit:.2f} s"),
        ]
        body = [dbc.Table(
            html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in cells]),
            size="sm", className="mb-2",
        )]
        if status.get("broker_fallback"):
            error = status["broker_error"]
            body.append(html.P(
                f"{error[0].upper()}{error[1:]}: {status['broker_fallback']} fits "
                "ran in the scheduler's process", className="text-warning small mb-1",
            ))
        body += [
            html.P(f"Facility {f['facility_id']} {f['target']}: {f['message']}",
                   className="text-danger small mb-1")
            for f in status["failures"]
        ]
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Forecast refresh", className="h5 mb-0")),
            dbc.CardBody(body),
        ],
        className="settings-section",
    )


def new_facility_card(zones: list[str]) -> dbc.Card:
    """Name, time zone (the browser's by default, set clientside), reporting
    interval and capacity: the values a new facility cannot do without."""
    def col(label: str, control: Any, cid: str, unit: str | None = None,
            md: int = 3) -> dbc.Col:
        if unit:
            control = dbc.InputGroup([control, dbc.InputGroupText(unit)])
        return dbc.Col([dbc.Label(label, html_for=cid, className="small mb-1"),
                        control], md=md, className="mb-2")

    return dbc.Card(
        [
            dbc.CardHeader(html.H2("New facility", className="h5 mb-0")),
            dbc.CardBody(
                [
                    html.P(
                        "You become the admin of a facility you create.",
                        className="text-body-secondary small",
                    ),
                    dbc.Row(
                        [
                            col("Name", dbc.Input(
                                id=ids.NEW_FACILITY_NAME,
                                placeholder="Facility name",
                                maxLength=120,
                            ), ids.NEW_FACILITY_NAME),
                            col("Time zone", dcc.Dropdown(
                                id=ids.NEW_FACILITY_TZ,
                                options=zones,
                                value="UTC",
                                clearable=False,
                            ), ids.NEW_FACILITY_TZ),
                            col("Reporting interval", dbc.Input(
                                id=ids.NEW_FACILITY_INTERVAL, type="number",
                                min=1, step=1, value=300,
                            ), ids.NEW_FACILITY_INTERVAL, "s", md=2),
                            col("Capacity", dbc.Input(
                                id=ids.NEW_FACILITY_CAPACITY, type="number",
                                min=0, step="any", value=100,
                            ), ids.NEW_FACILITY_CAPACITY, "kW", md=2),
                            dbc.Col(
                                dbc.Button(
                                    "Create facility",
                                    id=ids.NEW_FACILITY_CREATE,
                                    color="secondary",
                                    n_clicks=0,
                                ),
                                md=2,
                                className="mb-2 align-self-end",
                            ),
                        ]
                    ),
                    html.Div(id=ids.NEW_FACILITY_STATUS),
                ]
            ),
        ],
        className="settings-section",
    )


def tariff_placeholder() -> html.Div:
    """The forecasting engineer fills this section (tariff editing)."""
    return html.Div(
        dbc.Card(
            [
                dbc.CardHeader(html.H2("Tariff", className="h5 mb-0")),
                dbc.CardBody(
                    html.P(
                        "Tariff settings are not available yet.",
                        className="text-body-secondary mb-0",
                    )
                ),
            ],
            className="settings-section",
        ),
        id=ids.TARIFF_SETTINGS,
    )


def layout(zones: list[str]) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=ids.SETTINGS_REFRESH, data=0),
            html.Div(
                [
                    html.H1("Settings", className="h3 mb-0"),
                    html.Span(id=ids.SETTINGS_FACILITY_TITLE, className="ms-3"),
                ],
                className="d-flex align-items-center mb-3",
            ),
            html.Div(id=ids.SETTINGS_READONLY),
            html.Div(id=ids.SETTINGS_ALERT),
            details_card(zones),
            secrets_card(
                "Device API keys",
                "Sensors send readings with a key in the X-API-Key header. A new key "
                "is shown once; only its prefix is kept.",
                ids.KEY_NAME,
                ids.KEY_CREATE,
                ids.KEY_SECRET,
                ids.KEY_TABLE,
                "Key name, e.g. inverter-roof",
            ),
            secrets_card(
                "Wall display tokens",
                "A token opens the read-only wall display (/wall) of this facility "
                "without a sign-in. Revoke it to end that display's access.",
                ids.TOKEN_NAME,
                ids.TOKEN_CREATE,
                ids.TOKEN_SECRET,
                ids.TOKEN_TABLE,
                "Display name, e.g. lobby screen",
            ),
            members_card(),
            bindings_card(),
            html.Div(id=ids.FORECAST_SLOT_STATUS),
            tariff_placeholder(),
            new_facility_card(zones),
        ],
        className="settings-page container-xl",
    )


def status(message: str, color: str = "success", cid: str | None = None) -> dbc.Alert:
    kwargs = {"id": cid} if cid else {}
    return dbc.Alert(
        message, color=color, className="py-2 mb-0", dismissable=False, **kwargs
    )


def secret_shown_once(label: str, secret: str, extra: str | None = None) -> dbc.Alert:
    return dbc.Alert(
        [
            html.Div(label, className="fw-semibold mb-1"),
            html.Code(
                secret,
                className="secret-once d-block mb-1",
                id=f"{label.split()[0].lower()}-secret-value",
            ),
            html.Div(extra, className="secret-once small mb-1") if extra else None,
            html.Small(
                "Copy it now: it is shown only once.", className="text-body-secondary"
            ),
        ],
        color="warning",
        className="mb-3",
    )


def secrets_table(
    items: list[dict[str, Any]], zone: str, revoke_type: str, can_edit: bool, empty: str
) -> html.Div:
    if not items:
        return html.P(empty, className="text-body-secondary small mb-0")
    columns = ("Name", "Prefix", "Created", "Last used", "Status", "")
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    rows = []
    for item in items:
        revoked = item["revoked_at"] is not None
        rows.append(
            html.Tr(
                [
                    _td(columns[0], item["name"]),
                    _td(columns[1], html.Code(item["prefix"] + "…")),
                    _td(columns[2], local_time(item["created_at"], zone)),
                    _td(columns[3], local_time(item["last_used_at"], zone)),
                    _td(
                        columns[4],
                        dbc.Badge("revoked", color="secondary")
                        if revoked
                        else dbc.Badge("active", color="success"),
                    ),
                    html.Td(
                        None
                        if revoked or not can_edit
                        else dbc.Button(
                            "Revoke",
                            id={"type": revoke_type, "index": item["id"]},
                            color="outline-danger",
                            size="sm",
                            n_clicks=0,
                        )
                    ),
                ],
                id=f"{revoke_type}-row-{item['id']}",
            )
        )
    # Phones: one card per key (pages.css), Last used, Status and Revoke included.
    return dbc.Table(
        [head, html.Tbody(rows)],
        size="sm",
        hover=True,
        className="align-middle mb-0 table-cards",
    )


def _td(label: str, content: Any) -> html.Td:
    """A cell that names its column when the table is shown as cards."""
    return html.Td(content, **{"data-label": label})


def members_table(members: list[dict[str, Any]], me: int | None) -> dbc.Table:
    head = html.Thead(
        html.Tr([html.Th("User"), html.Th("Email"), html.Th("Role"), html.Th("")])
    )
    rows = []
    for m in members:
        rows.append(
            html.Tr(
                [
                    _td("User", [m["username"],
                                 " (you)" if m["user_id"] == me else ""]),
                    _td("Email", m["email"] or "—"),
                    _td(
                        "Role",
                        dbc.Select(
                            id={"type": ids.MEMBER_ROLE_SELECT, "index": m["user_id"]},
                            options=ROLE_OPTIONS,
                            value=m["role"],
                            size="sm",
                        ),
                    ),
                    html.Td(
                        dbc.Button(
                            "Remove",
                            id={"type": ids.MEMBER_REMOVE, "index": m["user_id"]},
                            color="outline-danger",
                            size="sm",
                            n_clicks=0,
                        )
                    ),
                ],
                id=f"member-row-{m['user_id']}",
            )
        )
    return dbc.Table(
        [head, html.Tbody(rows)],
        size="sm",
        hover=True,
        className="align-middle mb-0 table-cards",
    )
