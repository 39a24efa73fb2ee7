"""The login gate: every page, API route and Dash callback except the public ones
requires a session (or, for /wall, a display token); cookie and CSRF policy.

Public routes, pages and callbacks are listed in ``energy_dash.web.auth``
(``PUBLIC_ROUTES``, ``PUBLIC_PAGES``, :func:`~energy_dash.web.auth.public_callback`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from dash_auth.auth import Auth
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.routing import Map, Rule

from energy_dash.web import request_db
from energy_dash.web.auth import (
    DASH_CALLBACK,
    DASH_PLUMBING,
    PUBLIC_CALLBACKS,
    PUBLIC_PAGES,
    PUBLIC_ROUTES,
    REMEMBER_DAYS,
    SENSOR_API,
    SIGNED_IN_CALLBACK_MAX_BYTES,
    WALL_PATH,
    Display,
    LoginThrottle,
    current_display,
    json_refusal,
    login_manager,
    open_display,
    refuse,
)

# --------------------------------------------------------------------------- the gate


def _callback_outputs(body: dict[str, Any]) -> list[Any]:
    outputs = body.get("outputs")
    items = outputs if isinstance(outputs, list) else [outputs]
    ids = []
    for item in items:
        if isinstance(item, list):
            ids.extend(i.get("id") for i in item if isinstance(i, dict))
        elif isinstance(item, dict):
            ids.append(item.get("id"))
    return ids


def _is_wall_id(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("type")
    return isinstance(value, str) and value.startswith("wall")


def _declared_paths(body: dict[str, Any], entry: dict[str, Any]) -> list[Any] | None:
    """The ``pathname`` values of a request shaped exactly as ``entry`` declares.

    Dash hands inputs and state to the function by position, not by name, so only
    a request with the declared ids and properties, in the declared order and
    number, says truthfully which path it renders; for any other, None. (Public
    callbacks have plain string ids; a pattern-matching one never matches.)
    """
    paths = []
    for group in ("inputs", "state"):
        sent, declared = body.get(group, []), entry[group]
        if not isinstance(sent, list) or len(sent) != len(declared):
            return None
        for item, dep in zip(sent, declared, strict=True):
            if not isinstance(item, dict) or (
                item.get("id"), item.get("property")
            ) != (dep["id"], dep["property"]):
                return None
            if dep["property"] == "pathname":
                paths.append(item.get("value"))
    return paths


def _body() -> dict[str, Any]:
    """The JSON object of a callback request, or {} (parsed once, cached for Dash)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _referer_path() -> str | None:
    referer = request.headers.get("Referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path or "/"


class LoginGate(Auth):
    """A dash_auth ``Auth`` that enforces the Flask-Login session on every route."""

    def __init__(self, app, public_routes: tuple[str, ...] = PUBLIC_ROUTES):
        self._public = Map([Rule(route) for route in public_routes]).bind("")
        super().__init__(app)

    def is_public(self, path: str) -> bool:
        return self._public.test(path)

    def _protect(self) -> None:
        server: Flask = self.app.server
        server.before_request(self.check)

    def is_authorized(self) -> bool:
        return bool(current_user.is_authenticated)

    def login_request(self):
        return refuse()

    # The decision, one request at a time.
    def check(self):
        path = request.path
        if path.startswith(SENSOR_API):
            return None  # devices authenticate with their key (ingest.api)
        if not _same_origin():
            return json_refusal(403, "cross-origin request refused")
        if path == WALL_PATH and "token" in request.args:
            open_display(request.args.get("token"))
        if self.is_public(path):
            return None
        if self.is_authorized():
            if path == DASH_CALLBACK:
                # Profile pictures (2 MB, base64) travel in a callback body.
                request.max_content_length = SIGNED_IN_CALLBACK_MAX_BYTES
                if request.method == "POST" and self._registered(_body()) is None:
                    return json_refusal(400, "unknown callback")
            return None
        display = current_display()
        if path in DASH_PLUMBING:
            page = _referer_path()
            if display is not None or (page is not None and page in PUBLIC_PAGES):
                return None
            return json_refusal(401, "login required")
        if path == DASH_CALLBACK:
            if request.method == "POST" and self._callback_allowed(display):
                return None
            return json_refusal(401, "login required")
        if path == WALL_PATH and display is not None:
            return None
        return self.login_request()

    def _registered(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The registered server-side callback a request names, else None.

        Dash finds the function by ``output`` alone and answers a name it does not
        know, or one of a clientside callback (no server function), with a 500;
        the gate refuses those first.
        """
        output = body.get("output")
        entry = self.app.callback_map.get(output) if isinstance(output, str) else None
        return entry if entry is not None and "callback" in entry else None

    def _callback_allowed(self, display: Display | None) -> bool:
        body = _body()
        entry = self._registered(body)
        if entry is None:
            return False
        if body["output"] in PUBLIC_CALLBACKS:
            pages = PUBLIC_PAGES if display is None else PUBLIC_PAGES | {WALL_PATH}
            paths = _declared_paths(body, entry)
            return bool(paths) and all(
                isinstance(p, str) and p in pages for p in paths
            )
        if display is not None:
            outputs = _callback_outputs(body)
            return bool(outputs) and all(_is_wall_id(o) for o in outputs)
        return False


def _same_origin() -> bool:
    """Refuse state-changing browser requests sent from another site.

    Browsers send ``Origin`` on cross-site POSTs; a request without one (curl, the
    test client, sensors) is judged by the other checks (session, CSRF token).
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    if request.path.startswith(SENSOR_API):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.host


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except for the sensor API.

    Devices never carry a session cookie; skipping the session there saves its
    serializer set-up on every reading and guarantees no cookie is ever set.
    """

    def open_session(self, app: Flask, request):
        if request.path.startswith(SENSOR_API):
            return self.null_session_class()
        return super().open_session(app, request)


# --------------------------------------------------------------------------- set-up


def init_auth(app, settings) -> LoginGate:
    """Wire Flask-Login, cookie policy, the login throttle and the gate."""
    server: Flask = app.server
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.production),
        SESSION_COOKIE_NAME="energy_dash_session",
        REMEMBER_COOKIE_NAME="energy_dash_remember",
        REMEMBER_COOKIE_DURATION=timedelta(days=REMEMBER_DAYS),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=bool(settings.production),
        REMEMBER_COOKIE_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(days=REMEMBER_DAYS),
    )
    server.session_interface = CookieSessions()
    # The connection a request's reads share (request_db) goes back at teardown.
    server.teardown_appcontext(request_db.release)
    login_manager.init_app(server)
    server.extensions["energy_dash_login_throttle"] = LoginThrottle(
        settings.login_rate_storage, settings.database_url
    )
    return LoginGate(app)
