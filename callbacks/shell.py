"""Shell callbacks: facility selector, user menu, theme, navbar visibility.

The two server callbacks here run on public pages too (the landing page has the
shell): they are registered with ``auth.public_callback`` and act only on the
signed-in user (or the wall display session); anonymous visitors get nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update
from flask_login import current_user

from components import ids
from energy_dash.db import session_scope
from energy_dash.storage import accounts
from energy_dash.web import auth


def _requested_facility(search: str | None) -> int | None:
    values = parse_qs((search or "").lstrip("?")).get("facility")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def choose_facility(
    facilities: list[dict], stored, requested: int | None = None
) -> int | None:
    """The facility to select: ``?facility=`` if allowed, the stored one, the first."""
    allowed = [f["id"] for f in facilities]
    for candidate in (requested, stored):
        try:
            if candidate is not None and int(candidate) in allowed:
                return int(candidate)
        except (TypeError, ValueError):
            continue
    return allowed[0] if allowed else None


def _menu_label(username: str, avatar: str | None):
    picture = (
        html.Img(src=avatar, className="navbar-avatar me-2", alt="")
        if avatar
        else html.I(className="bi bi-person-circle me-2")
    )
    return html.Span([picture, username], className="d-inline-flex align-items-center")


def _register_public(app: Dash, register) -> None:
    before = set(app.callback_map)
    register()
    for key in set(app.callback_map) - before:
        auth.public_callback(key)


def register(app: Dash) -> None:
    def shell_callbacks():
        @app.callback(
            Output(ids.FACILITY, "options"),
            Output(ids.FACILITY, "value"),
            Output(ids.PROFILE_STORE, "data"),
            Output(ids.USER_MENU, "label"),
            Input(ids.URL, "pathname"),
            Input(ids.FACILITY_REFRESH, "data"),
            State(ids.URL, "search"),
            State(ids.FACILITY_STORE, "data"),
            State(ids.FACILITY, "value"),
            State(ids.FACILITY, "options"),
        )
        def update_shell(pathname, _refresh, search, stored, current, options):
            facilities = auth.current_user_facilities()
            new_options = [{"label": f["name"], "value": f["id"]} for f in facilities]
            requested = _requested_facility(search)
            if ctx.triggered_id == ids.FACILITY_REFRESH and isinstance(_refresh, dict):
                requested = _refresh.get("select")
            value = choose_facility(
                facilities, current if current is not None else stored, requested
            )
            if auth.signed_in():
                profile = {
                    "username": current_user.username,
                    "theme": current_user.theme,
                    "avatar": _avatar_url(current_user.avatar_file),
                }
                label = _menu_label(current_user.username, profile["avatar"])
            else:
                profile = {}
                label = "Account"
            return (
                new_options if new_options != options else no_update,
                value if value != current else no_update,
                profile,
                label,
            )

        @app.callback(
            Output(ids.THEME_SAVED, "data"),
            Input(ids.THEME_CHOICE, "data"),
            State(ids.URL, "pathname"),
            prevent_initial_call=True,
        )
        def save_theme(choice, _pathname):
            theme = (choice or {}).get("theme") if isinstance(choice, dict) else None
            if not auth.signed_in() or theme not in accounts.THEMES:
                return no_update
            if theme != current_user.theme:
                with session_scope(auth._db_url()) as db:
                    accounts.set_theme(db, current_user.id, theme)
            return theme

    _register_public(app, shell_callbacks)

    app.clientside_callback(
        ClientsideFunction("ed_shell", "navbarClass"),
        Output(ids.NAVBAR, "class_name"),
        Input(ids.URL, "pathname"),
    )
    app.clientside_callback(
        ClientsideFunction("ed_shell", "toggleCollapse"),
        Output(ids.NAVBAR_COLLAPSE, "is_open"),
        Input(ids.NAVBAR_TOGGLER, "n_clicks"),
        State(ids.NAVBAR_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("ed_shell", "rememberFacility"),
        Output(ids.FACILITY_STORE, "data"),
        Input(ids.FACILITY, "value"),
    )
    # The theme: the local store on load, the profile once known, a click flips it
    # (and only a click is saved to the profile). The wall is dark unless
    # ?theme=light.
    app.clientside_callback(
        ClientsideFunction("ed_shell", "applyTheme"),
        Output(ids.THEME_STORE, "data"),
        Output(ids.THEME_CHOICE, "data"),
        Output(ids.THEME_ICON, "className"),
        Input(ids.THEME_TOGGLE, "n_clicks"),
        Input(ids.PROFILE_STORE, "data"),
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
        State(ids.THEME_STORE, "data"),
    )


def _avatar_url(filename: str | None) -> str | None:
    return f"/avatars/{filename}" if filename else None
