"""Sign-in state: Flask-Login users, CSRF, the login throttle, wall display tokens
and facility permission checks. The gate itself is ``energy_dash.web.gate``.

The gate decides, before any view runs, whether a request may proceed:

* public paths (landing page, sign-in pages, the sensor API, health, static files)
  always pass;
* a signed-in user passes everywhere;
* a wall display session (``/wall?token=…``) passes for ``/wall``, the Dash
  plumbing it needs and the wall's own callbacks, and nothing else;
* otherwise a page request is redirected to ``/login?next=<path>`` and anything
  else (Dash callbacks, the session API) answers ``401`` JSON.

Dash callbacks that must work on the public landing page are listed in
``PUBLIC_CALLBACKS``; they pass anonymously only when the request carries exactly
the inputs and state the callback declares (Dash passes them by position) and
every ``pathname`` among them is a public page, and they act only on
``current_user``. Wall callbacks are recognised by their output ids: every output
id (or the ``type`` of a pattern-matching id) starts with ``wall``. A callback
request that names no registered server-side callback is refused before Dash
sees it (401 without a session, else 400).

Sessions: the Flask-Login id is ``"<user id>:<session_version>"``; bumping the
user's ``session_version`` (logout, password change or reset) makes every older
session and remember-me cookie worthless.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from flask import (
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
)
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user

from energy_dash.db import session_scope
from energy_dash.storage import accounts
from energy_dash.storage.devices import find_display_token
from energy_dash.storage.limits import WindowLimit, counters_for
from energy_dash.web.request_db import read_session

logger = logging.getLogger(__name__)

REMEMBER_DAYS = 30
LOGIN_FAILURE_LIMIT = 10
LOGIN_WINDOW_MINUTES = 15
CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "_csrf"
DISPLAY_SESSION_KEY = "display"
DEFAULT_AFTER_LOGIN = "/dashboard"
SENSOR_API = "/api/hardware/"  # devices: authenticated by their key, not a session
SIGNED_IN_CALLBACK_MAX_BYTES = 4 * 1024 * 1024

PUBLIC_ROUTES = (
    "/",
    "/login",
    "/logout",
    "/register",
    "/forgot-password",
    "/reset-password/<token>",
    "/healthz",
    "/api/hardware/<path:rest>",
    "/api/openapi.json",
    "/api/v2/write",  # InfluxDB-compatible: the device key authenticates
    "/write",
    "/query",
    "/assets/<path:rest>",
    "/_dash-component-suites/<path:rest>",
    "/_favicon.ico",
)
# Dash pages that render without a session (their callbacks may run anonymously).
PUBLIC_PAGES = frozenset({"/"})
WALL_PATH = "/wall"
# Dash plumbing every page needs: structure only, no data.
DASH_PLUMBING = frozenset({"/_dash-layout", "/_dash-dependencies", "/_reload-hash"})
DASH_CALLBACK = "/_dash-update-component"
# Output specs of callbacks that may run for anonymous visitors of a public page.
ROUTING_OUTPUT = ".._pages_content.children..._pages_store.data.."
PUBLIC_CALLBACKS: set[str] = {ROUTING_OUTPUT}


# --------------------------------------------------------------------------- users


class SessionUser(UserMixin):
    """The signed-in user of this request (a plain copy, no ORM object)."""

    def __init__(self, account: accounts.Account):
        self.account = account
        self.id = account.id
        self.username = account.username
        self.email = account.email
        self.theme = account.theme
        self.avatar_file = account.avatar_file
        self.session_version = account.session_version

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.account.active


class Anonymous(AnonymousUserMixin):
    id = None
    username = None
    theme = "light"
    avatar_file = None


login_manager = LoginManager()
login_manager.anonymous_user = Anonymous
login_manager.session_protection = "basic"


def _settings():
    return current_app.config["ENERGY_DASH"]


def _db_url() -> str:
    return _settings().database_url


@login_manager.user_loader
def _load_user(ident: str) -> SessionUser | None:
    try:
        raw_id, raw_version = str(ident).split(":", 1)
        user_id, version = int(raw_id), int(raw_version)
    except (TypeError, ValueError):
        return None
    with read_session(_db_url()) as db:
        account = accounts.load_session_user(db, user_id, version)
    return SessionUser(account) if account is not None else None


@login_manager.unauthorized_handler
def _unauthorized():
    return refuse()


def json_refusal(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    return response


def refuse():
    """Refuse an anonymous request: pages redirect to sign-in, the rest get 401."""
    path = request.path
    is_page = (
        request.method in ("GET", "HEAD")
        and not path.startswith("/api/")
        and not path.startswith("/_")
    )
    if is_page:
        target = request.full_path if request.query_string else path
        return redirect(login_url(target))
    return json_refusal(401, "login required")



# --------------------------------------------------------------------------- CSRF


def csrf_token() -> str:
    """This session's form token (created on first use)."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Abort with 400 unless the form carries this session's token."""
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_SESSION_KEY, "")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="The form has expired or is invalid; reload and retry.")


# --------------------------------------------------------------------------- redirects


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not isinstance(target, str) or len(target) > 2048:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ord(ch) < 33 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if parts.path.rstrip("/") in {"/login", "/logout"}:
        return None
    return target


def login_url(next_path: str | None = None) -> str:
    if not next_path or next_path == "/":
        return "/login"
    return "/login?next=" + quote(next_path, safe="/")


# --------------------------------------------------------------------------- lockout


class LoginThrottle:
    """At most ``LOGIN_FAILURE_LIMIT`` failed sign-ins per account and per address.

    Every attempt first takes a slot of both counters (atomic check-and-count in
    the shared counters of :mod:`energy_dash.storage.limits`), and only then is the
    password checked; a sign-in that succeeds gives its slots back. So exactly 10
    wrong passwords are checked per window (15 minutes from the first failure),
    sequential or concurrent, whatever the number of workers.
    """

    def __init__(self, storage_uri: str | None, database_url: str):
        counters = counters_for(storage_uri, database_url)
        window_s = LOGIN_WINDOW_MINUTES * 60
        self.login = WindowLimit(counters, LOGIN_FAILURE_LIMIT, window_s, "login")
        self.registrations = WindowLimit(counters, 20, 3600, "register")
        self.reset_mails = WindowLimit(counters, 5, 3600, "reset")

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        return [
            "account:" + (username or "").strip().lower()[:150],
            "address:" + (address or "unknown"),
        ]

    def attempt(self, username: str, address: str | None) -> int | None:
        """Take a slot for one password check; seconds to wait when locked out."""
        taken: list[str] = []
        for key in self.keys(username, address):
            wait = self.login.take(key)
            if wait:
                for held in taken:
                    self.login.give_back(held)
                return wait
            taken.append(key)
        return None

    def succeeded(self, username: str, address: str | None) -> None:
        """A right password: its attempt is not a failure."""
        for key in self.keys(username, address):
            self.login.give_back(key)

    def retry_after(self, username: str, address: str | None) -> int | None:
        """Seconds until the window ends when locked out, else None (no counting)."""
        waits = [self.login.wait(key) for key in self.keys(username, address)]
        return max(waits) if any(waits) else None

    def allow_registration(self, address: str | None) -> bool:
        """At most 20 new accounts per address and hour."""
        return not self.registrations.take(address or "unknown")

    def allow_reset_mail(self, email: str) -> bool:
        """At most 5 reset mails per account and hour (no mail bombing)."""
        return not self.reset_mails.take(email.lower()[:150])


def throttle() -> LoginThrottle:
    return current_app.extensions["energy_dash_login_throttle"]


# --------------------------------------------------------------------------- display


@dataclass(frozen=True)
class Display:
    facility_id: int
    token_id: int


def open_display(token: str | None) -> Display | None:
    """Start a wall display session for a valid token; None (and cleared) if not."""
    with session_scope(_db_url()) as db:
        row = find_display_token(db, token)
        found = Display(row.facility_id, row.id) if row is not None else None
        if found is not None:
            accounts.touch_display_token(db, found.token_id)
    if found is None:
        session.pop(DISPLAY_SESSION_KEY, None)
    else:
        session[DISPLAY_SESSION_KEY] = {"f": found.facility_id, "t": found.token_id}
    g.energy_dash_display = found
    return found


def current_display() -> Display | None:
    """The valid display session of this request (re-checked against the database)."""
    if not has_request_context():
        return None
    if "energy_dash_display" in g:
        return g.energy_dash_display
    data = session.get(DISPLAY_SESSION_KEY)
    found = None
    if isinstance(data, dict):
        try:
            facility_id, token_id = int(data["f"]), int(data["t"])
        except (KeyError, TypeError, ValueError):
            facility_id = token_id = None
        if facility_id is not None:
            from energy_dash.db.models import DisplayToken

            with read_session(_db_url()) as db:
                row = db.get(DisplayToken, token_id)
                if (
                    row is not None
                    and row.revoked_at is None
                    and row.facility_id == facility_id
                ):
                    found = Display(facility_id, token_id)
        if found is None:
            session.pop(DISPLAY_SESSION_KEY, None)
    g.energy_dash_display = found
    return found


def display_facility() -> int | None:
    """The facility of this request's wall display session, or None."""
    found = current_display()
    return found.facility_id if found is not None else None


# --------------------------------------------------------------------------- helpers


def signed_in() -> bool:
    return bool(has_request_context() and current_user.is_authenticated)


def current_user_facilities() -> list[dict[str, Any]]:
    """``[{id, name, role, timezone}]`` of the signed-in user, by id.

    A wall display session (no user) sees its one facility with role ``viewer``.
    """
    if not has_request_context():
        return []
    if "energy_dash_facilities" in g:
        return g.energy_dash_facilities
    result: list[dict[str, Any]] = []
    if current_user.is_authenticated:
        with read_session(_db_url()) as db:
            rows = accounts.user_facilities(db, current_user.id)
        result = [
            {"id": fid, "name": name, "role": role, "timezone": tz}
            for fid, name, role, tz in rows
        ]
    else:
        display = current_display()
        if display is not None:
            with read_session(_db_url()) as db:
                info = accounts.get_facility(db, display.facility_id)
            if info is not None:
                result = [
                    {
                        "id": info["id"],
                        "name": info["name"],
                        "role": "viewer",
                        "timezone": info["timezone"],
                    }
                ]
    g.energy_dash_facilities = result
    return result


def current_role(facility_id: Any) -> str | None:
    """The signed-in user's role in a facility (``viewer`` for a display session)."""
    try:
        fid = int(facility_id)
    except (TypeError, ValueError):
        return None
    for item in current_user_facilities():
        if item["id"] == fid:
            return item["role"]
    return None


def check_facility(facility_id: Any, *, write: bool = False) -> int:
    """The facility id as an int when this session may read (or write) it.

    Raises ``PermissionError`` when the user is not a member, when ``write`` is
    asked by a viewer or a display session, or for a malformed id.
    """
    if isinstance(facility_id, bool):
        raise PermissionError("no such facility")
    try:
        fid = int(facility_id)
    except (TypeError, ValueError):
        raise PermissionError("no such facility") from None
    role = current_role(fid)
    if role is None:
        raise PermissionError("you are not a member of this facility")
    if write and (role not in ("admin", "operator") or not signed_in()):
        raise PermissionError("your role in this facility is read-only")
    return fid


def require_admin(facility_id: Any) -> int:
    """Like ``check_facility`` but only a facility admin passes."""
    fid = check_facility(facility_id, write=True)
    if current_role(fid) != "admin":
        raise PermissionError("only an admin of this facility may do this")
    return fid


def public_callback(output_spec: str) -> None:
    """Mark a callback (by its output spec) as runnable on public pages."""
    PUBLIC_CALLBACKS.add(output_spec)


__all__ = [
    "SessionUser",
    "check_csrf",
    "check_facility",
    "csrf_token",
    "current_display",
    "current_role",
    "current_user_facilities",
    "display_facility",
    "login_url",
    "public_callback",
    "require_admin",
    "safe_next",
    "signed_in",
]
