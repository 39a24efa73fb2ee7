"""Callbacks of /settings. Every write checks the role on the server.

Admins and operators may change the facility, its device keys and display tokens;
only admins manage members; viewers see everything read-only. A request that is
not allowed changes nothing and answers with a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from flask_login import current_user

from callbacks._common import database_url
from components import ids
from components import settings as view
from energy_dash.db import session_scope
from energy_dash.services import bindings, forecast_slots
from energy_dash.storage import accounts, devices
from energy_dash.web import auth
from energy_dash.web import signin as web

logger = logging.getLogger(__name__)

FIELD_ORDER = [
    "name",
    "location",
    "latitude",
    "longitude",
    "timezone",
    "capacity_kw",
    "panel_count",
    "nominal_voltage",
    "expected_interval_s",
    "voltage_warning_pct",
    "voltage_critical_pct",
    "voltage_hysteresis_pct",
]
FIELD_COMPONENTS = [view.FIELD_IDS[key] for key in FIELD_ORDER]
READ_ONLY = "You have read-only access to this facility."


def _tables(fid: int, zone: str, can_edit: bool) -> tuple[Any, Any]:
    with session_scope(database_url()) as db:
        keys = accounts.api_keys_info(db, fid)
        tokens = accounts.display_tokens_info(db, fid)
    return (
        view.secrets_table(keys, zone, ids.KEY_REVOKE, can_edit, "No device keys yet."),
        view.secrets_table(
            tokens, zone, ids.TOKEN_REVOKE, can_edit, "No display tokens yet."
        ),
    )


def _members(fid: int):
    with session_scope(database_url()) as db:
        members = accounts.list_members(db, fid)
    return view.members_table(members, current_user.id)


def _facility(fid: int) -> dict[str, Any] | None:
    with session_scope(database_url()) as db:
        return accounts.get_facility(db, fid)


def _refuse(message: str):
    return view.status(message, "danger")


@dataclass(frozen=True)
class SecretKind:
    """Device keys and wall display tokens: created once shown, listed, revoked."""

    word: str  # "Key" / "Token"
    default_name: str
    table: int  # position in _tables()
    create: Callable[..., str]
    revoke: Callable[..., bool]


KEY = SecretKind("Key", "sensor", 0, devices.create_api_key, devices.revoke_api_key)
TOKEN = SecretKind(
    "Token", "wall", 1, devices.create_display_token, devices.revoke_display_token
)


def _create_secret(n_clicks, facility_id, name, kind: SecretKind):
    """Create a key or token; its secret is shown this once, then only its prefix."""
    if not n_clicks:
        return no_update, no_update, no_update
    try:
        fid = auth.check_facility(facility_id, write=True)
    except PermissionError as exc:
        return _refuse(_sentence(exc)), no_update, no_update
    label = (name or "").strip()[:64] or kind.default_name
    with session_scope(database_url()) as db:
        secret = kind.create(db, fid, label)
    zone = (_facility(fid) or {}).get("timezone") or "UTC"
    table = _tables(fid, zone, True)[kind.table]
    notes = []
    if kind is TOKEN:
        notes.append(f"Display URL: {web.public_base_url()}/wall?token={secret}")
    shown = view.secret_shown_once(f"{kind.word} for {label}", secret, *notes)
    return shown, table, ""


def _revoke_secret(clicks, facility_id, kind: SecretKind):
    target = _clicked(clicks)
    if target is None:
        return no_update, no_update
    try:
        fid = auth.check_facility(facility_id, write=True)
    except PermissionError as exc:
        return _refuse(_sentence(exc)), no_update
    with session_scope(database_url()) as db:
        done = kind.revoke(db, fid, target)
    zone = (_facility(fid) or {}).get("timezone") or "UTC"
    table = _tables(fid, zone, True)[kind.table]
    word = kind.word.lower()
    message = f"{kind.word} revoked." if done else f"That {word} was already revoked."
    return view.status(message, "success" if done else "warning"), table


BINDING_FIELDS = {
    "topic": "Topic filter", "format": "Format", "role": "Role",
    "device_id": "Device id", "measurement": "Measurement", "tag": "Tags",
    "field": "Field", "kind": "Kind", "unit": "Unit", "facility": "Facility",
    "id": "Binding",
}


def _binding_tables(fid: int) -> tuple[Any, Any]:
    rows = bindings.facility_bindings(database_url(), fid)
    return view.topic_table(rows["topic"]), view.influx_table(rows["influx"])


def _binding_refusal(exc: bindings.BindingError):
    label = BINDING_FIELDS.get(exc.field, exc.field)
    return _refuse(f"{label}: {exc.message}.")


def _optional(text: Any) -> str | None:
    """A text box's value, stripped; None when empty."""
    value = text.strip() if isinstance(text, str) else ""
    return value or None


def register_bindings(app: Dash) -> None:
    """Meter bindings: admins and operators list, create and remove them; every
    request is checked against the user's facilities on the server."""

    @app.callback(
        Output(ids.BIND_SECTION, "style"),
        Output(ids.TOPIC_TABLE, "children"),
        Output(ids.INFLUX_TABLE, "children"),
        Input(ids.FACILITY, "value"),
        Input(ids.SETTINGS_REFRESH, "data"),
    )
    def load_bindings(facility_id, _refresh):
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError:
            return {"display": "none"}, None, None
        return {}, *_binding_tables(fid)

    @app.callback(
        Output(ids.INFLUX_UNIT, "options"),
        Output(ids.INFLUX_UNIT, "value"),
        Input(ids.INFLUX_KIND, "value"),
        State(ids.INFLUX_UNIT, "value"),
        prevent_initial_call=True,
    )
    def kind_units(kind, unit):
        """Offer only the units the kind takes; keep the prefix (k or none)."""
        options = view.unit_options(kind)
        values = [o["value"] for o in options]
        if unit in values:
            return options, no_update
        kilo = isinstance(unit, str) and unit.startswith("k")
        return options, next(v for v in values if v.startswith("k") == kilo)

    @app.callback(
        Output(ids.TOPIC_STATUS, "children"),
        Output(ids.TOPIC_TABLE, "children", allow_duplicate=True),
        Output(ids.TOPIC_FILTER, "value"),
        Input(ids.TOPIC_CREATE, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ids.TOPIC_FILTER, "value"),
        State(ids.TOPIC_FORMAT, "value"),
        State(ids.TOPIC_ROLE, "value"),
        State(ids.TOPIC_DEVICE, "value"),
        prevent_initial_call=True,
    )
    def create_topic(n_clicks, facility_id, topic, fmt, role, device):
        if not n_clicks:
            return no_update, no_update, no_update
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update, no_update
        topic = _optional(topic) or ""
        try:
            bindings.bind_topic(database_url(), fid, topic, fmt or "",
                                role=role or "", device_id=_optional(device))
        except bindings.BindingError as exc:
            return _binding_refusal(exc), no_update, no_update
        label = view.FORMAT_LABELS.get(fmt, fmt)
        message = view.status(f"Bound {topic} ({label}) as {role}.")
        return message, _binding_tables(fid)[0], ""

    @app.callback(
        Output(ids.INFLUX_STATUS, "children"),
        Output(ids.INFLUX_TABLE, "children", allow_duplicate=True),
        Output(ids.INFLUX_MEASUREMENT, "value"),
        Input(ids.INFLUX_CREATE, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ids.INFLUX_MEASUREMENT, "value"),
        State(ids.INFLUX_TAGS, "value"),
        State(ids.INFLUX_FIELD, "value"),
        State(ids.INFLUX_ROLE, "value"),
        State(ids.INFLUX_KIND, "value"),
        State(ids.INFLUX_UNIT, "value"),
        State(ids.INFLUX_DEVICE, "value"),
        prevent_initial_call=True,
    )
    def create_influx(n_clicks, facility_id, measurement, tags, field, role, kind,
                      unit, device):
        if not n_clicks:
            return no_update, no_update, no_update
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update, no_update
        measurement = _optional(measurement) or ""
        try:
            bindings.bind_influx(
                database_url(), fid, measurement,
                tags=bindings.parse_tags(tags if isinstance(tags, str) else None),
                field=_optional(field), role=role or "", kind=kind or "",
                unit=unit or "", device_id=_optional(device),
            )
        except bindings.BindingError as exc:
            return _binding_refusal(exc), no_update, no_update
        message = view.status(f"Bound {measurement} ({unit} "
                              f"{view.KIND_LABELS[kind].lower()}) as {role}.")
        return message, _binding_tables(fid)[1], ""

    @app.callback(
        Output(ids.TOPIC_STATUS, "children", allow_duplicate=True),
        Output(ids.INFLUX_STATUS, "children", allow_duplicate=True),
        Output(ids.TOPIC_TABLE, "children", allow_duplicate=True),
        Output(ids.INFLUX_TABLE, "children", allow_duplicate=True),
        Input({"type": ids.BIND_REMOVE, "index": ALL}, "n_clicks"),
        State(ids.FACILITY, "value"),
        prevent_initial_call=True,
    )
    def remove_binding(_clicks, facility_id):
        ref = _clicked_ref()
        if ref is None:
            return no_update, no_update, no_update, no_update
        table, binding_id = ref
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            refusal = _refuse(_sentence(exc))
            if table == "topic":
                return refusal, no_update, no_update, no_update
            return no_update, refusal, no_update, no_update
        done = bindings.unbind_facility(database_url(), fid, table, binding_id)
        message = (view.status("Binding removed.") if done else
                   view.status("That binding was already removed.", "warning"))
        topics, points = _binding_tables(fid)
        if table == "topic":
            return message, None, topics, points
        return None, message, topics, points


def _clicked_ref() -> tuple[str, int] | None:
    """``("topic"|"influx", id)`` of the remove button really clicked."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered:
        return None
    if not ctx.triggered[0].get("value"):
        return None
    table, _, number = str(trigger.get("index", "")).partition(":")
    if table not in ("topic", "influx") or not number.isascii() or (
        not number.isdigit()
    ):
        return None
    return table, int(number)


def register(app: Dash) -> None:
    register_browser_zone(app)
    register_bindings(app)
    n_fields = len(FIELD_COMPONENTS)

    @app.callback(
        Output(ids.SETTINGS_FACILITY_TITLE, "children"),
        Output(ids.SETTINGS_READONLY, "children"),
        *[Output(cid, "value") for cid in FIELD_COMPONENTS],
        *[Output(cid, "disabled") for cid in FIELD_COMPONENTS],
        Output(ids.SET_SAVE, "disabled"),
        Output(ids.KEY_CREATE, "disabled"),
        Output(ids.TOKEN_CREATE, "disabled"),
        Output(ids.KEY_TABLE, "children"),
        Output(ids.TOKEN_TABLE, "children"),
        Output(ids.MEMBERS_SECTION, "style"),
        Output(ids.MEMBER_TABLE, "children"),
        Input(ids.FACILITY, "value"),
        Input(ids.SETTINGS_REFRESH, "data"),
    )
    def load(facility_id, _refresh):
        try:
            fid = auth.check_facility(facility_id)
        except PermissionError:
            note = view.status(
                "You are not a member of any facility yet. Create one below, or ask "
                "an admin to add you.",
                "info",
            )
            return (
                "",
                note,
                *([None] * n_fields),
                *([True] * n_fields),
                True,
                True,
                True,
                None,
                None,
                {"display": "none"},
                None,
            )
        role = auth.current_role(fid)
        can_edit = role in ("admin", "operator")
        info = _facility(fid) or {}
        keys, tokens = _tables(fid, info.get("timezone") or "UTC", can_edit)
        title = html.Span(
            [
                html.Span(info.get("name", ""), className="fw-semibold"),
                " ",
                _role_badge(role),
            ]
        )
        readonly = (
            None
            if can_edit
            else view.status(READ_ONLY, "secondary", ids.SETTINGS_READONLY + "-msg")
        )
        admin = role == "admin"
        return (
            title,
            readonly,
            *[info.get(key) for key in FIELD_ORDER],
            *([not can_edit] * n_fields),
            not can_edit,
            not can_edit,
            not can_edit,
            keys,
            tokens,
            {} if admin else {"display": "none"},
            _members(fid) if admin else None,
        )

    @app.callback(
        Output(ids.FORECAST_SLOT_STATUS, "children"),
        Input(ids.SETTINGS_REFRESH, "data"),
    )
    def forecast_slot(_refresh):
        """Site administrators see the last refresh slot (it spans every
        facility, so facility admins do not)."""
        if getattr(current_user, "account", None) is None:
            return None
        if current_user.account.role != "admin":
            return None
        return view.forecast_slot_card(forecast_slots.slot_status(database_url()))

    @app.callback(
        Output(ids.SET_SAVE_STATUS, "children"),
        Output(ids.FACILITY_REFRESH, "data", allow_duplicate=True),
        Input(ids.SET_SAVE, "n_clicks"),
        State(ids.FACILITY, "value"),
        *[State(cid, "value") for cid in FIELD_COMPONENTS],
        prevent_initial_call=True,
    )
    def save(n_clicks, facility_id, *values):
        if not n_clicks:
            return no_update, no_update
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update
        changes = dict(zip(FIELD_ORDER, values, strict=True))
        try:
            with session_scope(database_url()) as db:
                accounts.update_facility(db, fid, **changes)
        except accounts.FieldError as exc:
            return _refuse(str(exc)), no_update
        except (ValueError, LookupError) as exc:
            return _refuse(str(exc)), no_update
        return view.status("Saved.", "success", ids.SET_SAVE_STATUS + "-ok"), {
            "n": n_clicks,
            "select": fid,
        }

    # ----------------------------------------------------------------- keys

    @app.callback(
        Output(ids.KEY_SECRET, "children"),
        Output(ids.KEY_TABLE, "children", allow_duplicate=True),
        Output(ids.KEY_NAME, "value"),
        Input(ids.KEY_CREATE, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ids.KEY_NAME, "value"),
        prevent_initial_call=True,
    )
    def create_key(n_clicks, facility_id, name):
        return _create_secret(n_clicks, facility_id, name, KEY)

    @app.callback(
        Output(ids.KEY_SECRET, "children", allow_duplicate=True),
        Output(ids.KEY_TABLE, "children", allow_duplicate=True),
        Input({"type": ids.KEY_REVOKE, "index": ALL}, "n_clicks"),
        State(ids.FACILITY, "value"),
        prevent_initial_call=True,
    )
    def revoke_key(clicks, facility_id):
        return _revoke_secret(clicks, facility_id, KEY)

    # --------------------------------------------------------------- tokens

    @app.callback(
        Output(ids.TOKEN_SECRET, "children"),
        Output(ids.TOKEN_TABLE, "children", allow_duplicate=True),
        Output(ids.TOKEN_NAME, "value"),
        Input(ids.TOKEN_CREATE, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ids.TOKEN_NAME, "value"),
        prevent_initial_call=True,
    )
    def create_token(n_clicks, facility_id, name):
        return _create_secret(n_clicks, facility_id, name, TOKEN)

    @app.callback(
        Output(ids.TOKEN_SECRET, "children", allow_duplicate=True),
        Output(ids.TOKEN_TABLE, "children", allow_duplicate=True),
        Input({"type": ids.TOKEN_REVOKE, "index": ALL}, "n_clicks"),
        State(ids.FACILITY, "value"),
        prevent_initial_call=True,
    )
    def revoke_token(clicks, facility_id):
        return _revoke_secret(clicks, facility_id, TOKEN)

    # -------------------------------------------------------------- members

    @app.callback(
        Output(ids.MEMBER_STATUS, "children"),
        Output(ids.MEMBER_TABLE, "children", allow_duplicate=True),
        Output(ids.MEMBER_USERNAME, "value"),
        Input(ids.MEMBER_ADD, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ids.MEMBER_USERNAME, "value"),
        State(ids.MEMBER_ROLE, "value"),
        prevent_initial_call=True,
    )
    def add_member(n_clicks, facility_id, username, role):
        if not n_clicks:
            return no_update, no_update, no_update
        try:
            fid = auth.require_admin(facility_id)
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update, no_update
        name = (username or "").strip()
        try:
            with session_scope(database_url()) as db:
                accounts.add_member(db, fid, name, role or "viewer")
        except ValueError as exc:
            return _refuse(str(exc)), no_update, no_update
        return (view.status(f"{name} added as {role or 'viewer'}."), _members(fid), "")

    @app.callback(
        Output(ids.MEMBER_STATUS, "children", allow_duplicate=True),
        Output(ids.MEMBER_TABLE, "children", allow_duplicate=True),
        Input({"type": ids.MEMBER_ROLE_SELECT, "index": ALL}, "value"),
        State(ids.FACILITY, "value"),
        prevent_initial_call=True,
    )
    def change_role(_values, facility_id):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered:
            return no_update, no_update
        role = ctx.triggered[0].get("value")
        try:
            fid = auth.require_admin(facility_id)
            user_id = int(trigger["index"])
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update
        except (KeyError, TypeError, ValueError):
            return no_update, no_update
        try:
            with session_scope(database_url()) as db:
                before = accounts.membership_role(db, user_id, fid)
                if before == role:
                    return no_update, no_update
                accounts.set_member_role(db, fid, user_id, role)
        except ValueError as exc:
            return _refuse(str(exc)), _members(fid)
        return view.status("Role changed."), _members(fid)

    @app.callback(
        Output(ids.MEMBER_STATUS, "children", allow_duplicate=True),
        Output(ids.MEMBER_TABLE, "children", allow_duplicate=True),
        Input({"type": ids.MEMBER_REMOVE, "index": ALL}, "n_clicks"),
        State(ids.FACILITY, "value"),
        prevent_initial_call=True,
    )
    def remove_member(clicks, facility_id):
        target = _clicked(clicks)
        if target is None:
            return no_update, no_update
        try:
            fid = auth.require_admin(facility_id)
        except PermissionError as exc:
            return _refuse(_sentence(exc)), no_update
        try:
            with session_scope(database_url()) as db:
                accounts.remove_member(db, fid, target)
        except ValueError as exc:
            return _refuse(str(exc)), _members(fid)
        return view.status("Member removed."), _members(fid)

    # ------------------------------------------------------------ facility

    @app.callback(
        Output(ids.NEW_FACILITY_STATUS, "children"),
        Output(ids.FACILITY_REFRESH, "data", allow_duplicate=True),
        Output(ids.NEW_FACILITY_NAME, "value"),
        Input(ids.NEW_FACILITY_CREATE, "n_clicks"),
        State(ids.NEW_FACILITY_NAME, "value"),
        State(ids.NEW_FACILITY_TZ, "value"),
        State(ids.NEW_FACILITY_INTERVAL, "value"),
        State(ids.NEW_FACILITY_CAPACITY, "value"),
        prevent_initial_call=True,
    )
    def create_facility(n_clicks, name, zone, interval, capacity):
        if not n_clicks or not auth.signed_in():
            return no_update, no_update, no_update
        try:
            with session_scope(database_url()) as db:
                facility = accounts.create_facility_for(
                    db, current_user.id, name or "", zone or "UTC",
                    expected_interval_s=interval, capacity_kw=capacity,
                )
                new_id, new_name = facility.id, facility.name
        except ValueError as exc:
            return _refuse(str(exc)), no_update, no_update
        return (
            view.status(f"Facility {new_name} created; you are its admin."),
            {"n": n_clicks, "select": new_id},
            "",
        )


def register_browser_zone(app: Dash) -> None:
    """The new-facility form starts on the browser's time zone, not UTC."""
    app.clientside_callback(
        """
        function(options) {
            var zone = null;
            try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; }
            catch (e) { zone = null; }
            var known = (options || []).some(function (o) {
                return (o && o.value !== undefined ? o.value : o) === zone;
            });
            return known ? zone : window.dash_clientside.no_update;
        }
        """,
        Output(ids.NEW_FACILITY_TZ, "value"),
        Input(ids.NEW_FACILITY_TZ, "options"),
    )


def _clicked(clicks) -> int | None:
    """The index of the pattern-matched button that was really clicked."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered:
        return None
    if not ctx.triggered[0].get("value"):
        return None
    try:
        return int(trigger["index"])
    except (KeyError, TypeError, ValueError):
        return None


def _sentence(exc: Exception) -> str:
    text = str(exc) or READ_ONLY
    if "read-only" in text:
        return READ_ONLY
    if "admin" in text:
        return "Only an admin of this facility may manage members."
    return text[:1].upper() + text[1:] + "."


def _role_badge(role: str | None):
    from dash_bootstrap_components import Badge

    colors = {"admin": "primary", "operator": "info", "viewer": "secondary"}
    return Badge(
        role or "—", color=colors.get(role or "", "secondary"), id="settings-role-badge"
    )
