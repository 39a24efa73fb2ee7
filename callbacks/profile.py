"""Callbacks of /profile. They act only on the signed-in user (never on an id sent
by the browser)."""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

from dash import Dash, Input, Output, State, no_update
from flask import current_app, request
from flask_login import current_user, login_user

from callbacks._common import database_url
from callbacks.shell import _avatar_url, _menu_label
from components import ids
from components import profile as view
from energy_dash.db import session_scope
from energy_dash.storage import accounts
from energy_dash.web import auth, avatars

logger = logging.getLogger(__name__)
AVATAR_NONE = "profile-avatar-none"


def _avatar_dir() -> Path:
    return Path(current_app.config["ENERGY_DASH"].instance_dir) / "avatars"


def decode_upload(contents: str | None) -> bytes:
    """The bytes of a dcc.Upload data URL (its declared type is ignored)."""
    if not isinstance(contents, str) or "," not in contents:
        raise avatars.ImageRejected("Upload a PNG, JPEG or WebP picture.")
    payload = contents.split(",", 1)[1]
    if len(payload) > avatars.AVATAR_MAX_BYTES * 4 // 3 + 8:
        raise avatars.ImageRejected("The picture must be at most 2 MB.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise avatars.ImageRejected("The upload could not be read.") from None


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.PROFILE_USERNAME, "value"),
        Output(ids.PROFILE_EMAIL, "value"),
        Output(ids.AVATAR_IMG, "src"),
        Output(ids.AVATAR_IMG, "hidden"),
        Output(AVATAR_NONE, "hidden"),
        Output(ids.PROFILE_THEME, "value"),
        Output(ids.NOTIFY_FACILITIES, "options"),
        Output(ids.NOTIFY_FACILITIES, "value"),
        Output(ids.NOTIFY_LEVELS, "value"),
        Output(ids.NOTIFY_EMAIL, "value"),
        Output(ids.NOTIFY_WEBHOOK, "value"),
        Output(ids.NOTIFY_QUIET_FROM, "value"),
        Output(ids.NOTIFY_QUIET_TO, "value"),
        Input(ids.PROFILE_REFRESH, "data"),
    )
    def load(_refresh):
        if not auth.signed_in():
            return (no_update,) * 13
        with session_scope(database_url()) as db:
            user = accounts.get_user(db, current_user.id)
            account = accounts.Account.of(user)
        notes = account.preferences.get("notifications") or {}
        facilities = auth.current_user_facilities()
        options = [{"label": f["name"], "value": f["id"]} for f in facilities]
        allowed = {f["id"] for f in facilities}
        quiet = notes.get("quiet_hours") or {}
        src = _avatar_url(account.avatar_file)
        return (
            account.username,
            account.email or "",
            src,
            src is None,
            src is not None,
            account.theme,
            options,
            [f for f in notes.get("facilities", []) if f in allowed],
            notes.get("levels", []),
            notes.get("email") or "",
            notes.get("webhook") or "",
            quiet.get("from") or "",
            quiet.get("to") or "",
        )

    @app.callback(
        Output(ids.PROFILE_STATUS, "children"),
        Output(ids.USER_MENU, "label", allow_duplicate=True),
        Input(ids.PROFILE_SAVE, "n_clicks"),
        State(ids.PROFILE_USERNAME, "value"),
        State(ids.PROFILE_EMAIL, "value"),
        prevent_initial_call=True,
    )
    def save_account(n_clicks, username, email):
        if not n_clicks or not auth.signed_in():
            return no_update, no_update
        try:
            with session_scope(database_url()) as db:
                account = accounts.update_profile(
                    db, current_user.id, username=username or "", email=email or ""
                )
        except ValueError as exc:
            return view.status(str(exc), "danger"), no_update
        label = _menu_label(account.username, _avatar_url(account.avatar_file))
        return view.status("Saved."), label

    @app.callback(
        Output(ids.PW_STATUS, "children"),
        Output(ids.PW_CURRENT, "value"),
        Output(ids.PW_NEW, "value"),
        Output(ids.PW_CONFIRM, "value"),
        Input(ids.PW_SAVE, "n_clicks"),
        State(ids.PW_CURRENT, "value"),
        State(ids.PW_NEW, "value"),
        State(ids.PW_CONFIRM, "value"),
        prevent_initial_call=True,
    )
    def change_password(n_clicks, current, new, confirm):
        if not n_clicks or not auth.signed_in():
            return no_update, no_update, no_update, no_update
        throttle = auth.throttle()
        who = (current_user.username, request.remote_addr)
        if throttle.retry_after(*who):
            return (
                view.status("Too many wrong passwords; try again later.", "danger"),
                "",
                "",
                "",
            )
        if (new or "") != (confirm or ""):
            return (
                view.status("The two new passwords do not match.", "danger"),
                no_update,
                "",
                "",
            )
        user_id = current_user.id
        if throttle.attempt(*who):  # check and count in one step: no burst gets by
            return (
                view.status("Too many wrong passwords; try again later.", "danger"),
                "", "", "",
            )
        try:
            with session_scope(database_url()) as db:
                version = accounts.change_password(
                    db, user_id, current or "", new or ""
                )
                account = accounts.load_session_user(db, user_id, version)
        except ValueError as exc:
            if "current password" not in str(exc):
                throttle.succeeded(*who)  # the password was right: not a failure
            return view.status(str(exc), "danger"), "", no_update, no_update
        throttle.succeeded(*who)
        # Every other session ended with the version bump; keep this one.
        login_user(auth.SessionUser(account))
        return (
            view.status("Password changed; other sessions were signed out."),
            "",
            "",
            "",
        )

    @app.callback(
        Output(ids.AVATAR_IMG, "src", allow_duplicate=True),
        Output(ids.AVATAR_IMG, "hidden", allow_duplicate=True),
        Output(AVATAR_NONE, "hidden", allow_duplicate=True),
        Output(ids.AVATAR_STATUS, "children"),
        Output(ids.USER_MENU, "label", allow_duplicate=True),
        Input(ids.AVATAR_UPLOAD, "contents"),
        prevent_initial_call=True,
    )
    def upload_avatar(contents):
        if not contents or not auth.signed_in():
            return (no_update,) * 5
        try:
            png = avatars.normalize_avatar(decode_upload(contents))
        except avatars.ImageRejected as exc:
            return (
                no_update,
                no_update,
                no_update,
                view.status(str(exc), "danger"),
                no_update,
            )
        folder = _avatar_dir()
        name = avatars.save_avatar_file(folder, png)
        with session_scope(database_url()) as db:
            previous = accounts.set_avatar(db, current_user.id, name)
        avatars.delete_avatar_file(folder, previous)
        src = _avatar_url(name)
        return (
            src,
            False,
            True,
            view.status("Picture updated."),
            _menu_label(current_user.username, src),
        )

    @app.callback(
        Output(ids.PROFILE_STORE, "data", allow_duplicate=True),
        Input(ids.PROFILE_THEME, "value"),
        State(ids.PROFILE_STORE, "data"),
        prevent_initial_call=True,
    )
    def choose_theme(theme, profile):
        if not auth.signed_in() or theme not in accounts.THEMES:
            return no_update
        if theme != current_user.theme:
            with session_scope(database_url()) as db:
                accounts.set_theme(db, current_user.id, theme)
        data = dict(profile or {})
        if data.get("theme") == theme:
            return no_update
        data["theme"] = theme
        return data

    @app.callback(
        Output(ids.NOTIFY_STATUS, "children"),
        Input(ids.NOTIFY_SAVE, "n_clicks"),
        State(ids.NOTIFY_FACILITIES, "value"),
        State(ids.NOTIFY_LEVELS, "value"),
        State(ids.NOTIFY_EMAIL, "value"),
        State(ids.NOTIFY_WEBHOOK, "value"),
        State(ids.NOTIFY_QUIET_FROM, "value"),
        State(ids.NOTIFY_QUIET_TO, "value"),
        prevent_initial_call=True,
    )
    def save_notifications(n_clicks, facilities, levels, email, webhook, start, end):
        if not n_clicks or not auth.signed_in():
            return no_update
        allowed = [f["id"] for f in auth.current_user_facilities()]
        try:
            clean = accounts.clean_notifications(
                {
                    "facilities": facilities,
                    "levels": levels,
                    "email": email,
                    "webhook": webhook,
                    "quiet_from": start,
                    "quiet_to": end,
                },
                allowed,
            )
            with session_scope(database_url()) as db:
                accounts.set_notifications(db, current_user.id, clean)
        except ValueError as exc:
            return view.status(str(exc), "danger")
        return view.status("Notification preferences saved.")
