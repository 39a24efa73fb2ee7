"""Sign-in pages: ``/login``, ``/logout``, ``/register``, ``/welcome``,
``/forgot-password`` and ``/reset-password/<token>``.

Server-rendered forms in the ``web`` blueprint with Jinja templates from
``energy_dash/templates``; everything else the browser sees is Dash. The login
gate that protects the rest is ``energy_dash.web.gate``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from energy_dash.db import session_scope
from energy_dash.services import mail
from energy_dash.storage import accounts
from energy_dash.web import auth, security
from energy_dash.web.replies import db_url as _db_url
from energy_dash.web.replies import settings as _settings

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
bp = Blueprint("web", __name__, template_folder=str(TEMPLATES))


def _render(template: str, status: int = 200, **context):
    context.setdefault("csrf_token", auth.csrf_token())
    context.setdefault("theme", request.cookies.get("energy_dash_theme", "light"))
    return render_template(template, **context), status


# --------------------------------------------------------------------------- sign-in


def _demo_hint() -> bool:
    if _settings().production:
        return False
    with session_scope(_db_url()) as db:
        return accounts.get_user(db, "demo") is not None


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = auth.safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_path or auth.DEFAULT_AFTER_LOGIN)
        notice = None
        if request.args.get("reset") == "1":
            notice = "Your password has been changed. Sign in with the new one."
        return _render(
            "login.html", next=next_path, notice=notice, demo_hint=_demo_hint()
        )
    auth.check_csrf()
    username = (request.form.get("username") or "").strip()[:254]
    password = request.form.get("password") or ""
    remember = request.form.get("remember") in {"1", "on", "true", "yes"}
    address = request.remote_addr
    throttle = auth.throttle()
    wait = throttle.retry_after(username, address)
    if wait is not None:
        minutes = max(1, (wait + 59) // 60)
        body, status = _render(
            "login.html",
            429,
            next=next_path,
            username=username,
            error=(
                "Too many failed sign-in attempts. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            ),
        )
        return body, status, {"Retry-After": str(wait)}
    with session_scope(_db_url()) as db:
        user = accounts.authenticate(db, username, password)
        account = accounts.Account.of(user) if user is not None else None
        has_facility = bool(account and accounts.user_facilities(db, account.id))
    if account is None:
        throttle.failed(username, address)
        logger.info("failed sign-in from %s", address)
        return _render(
            "login.html",
            next=next_path,
            username=username,
            error="Invalid username or password.",
        )
    # A fresh session at sign-in: nothing chosen before it survives (fixation).
    theme = account.theme
    session.clear()
    login_user(
        auth.SessionUser(account),
        remember=remember,
        duration=timedelta(days=auth.REMEMBER_DAYS),
    )
    # Without a facility there is nothing to show yet: offer to create one.
    default = auth.DEFAULT_AFTER_LOGIN if has_facility else "/welcome"
    response = redirect(next_path or default)
    security.set_theme_cookie(response, theme)
    return response


@bp.route("/logout")
def logout():
    if current_user.is_authenticated:
        with session_scope(_db_url()) as db:
            accounts.bump_session_version(db, current_user.id)
        logout_user()
    session.clear()
    return redirect("/login")


# --------------------------------------------------------------------------- errors


@bp.errorhandler(400)
def _bad_request(error: HTTPException):
    """The sign-in forms' 400 (a missing or wrong CSRF token) as a page."""
    if request.path.startswith("/api/"):
        return jsonify({"error": error.description or "bad request"}), 400
    return _render(
        "error.html",
        400,
        title="Bad request",
        message=error.description or "The request was not understood.",
    )


# --------------------------------------------------------------------------- register


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(auth.DEFAULT_AFTER_LOGIN)
        return _render("register.html", min_length=accounts.MIN_PASSWORD_LENGTH)
    auth.check_csrf()
    username = (request.form.get("username") or "").strip()
    email = (request.form.get("email") or "").strip()
    password = request.form.get("password") or ""
    confirm = request.form.get("confirm") or ""

    def again(message: str, status: int = 200):
        return _render(
            "register.html",
            status,
            error=message,
            username=username,
            email=email,
            min_length=accounts.MIN_PASSWORD_LENGTH,
        )

    if not auth.throttle().allow_registration(request.remote_addr):
        return again(
            "Too many accounts were created from your address; try again later.", 429
        )
    if password != confirm:
        return again("The two passwords do not match.")
    try:
        with session_scope(_db_url()) as db:
            user = accounts.create_user(db, username, password, email=email or None)
            account = accounts.Account.of(user)
    except ValueError as exc:
        return again(str(exc))
    except Exception:  # noqa: BLE001 - a concurrent duplicate insert
        logger.exception("registration failed")
        return again("That username or email address is already registered.")
    session.clear()
    login_user(auth.SessionUser(account))
    return redirect("/welcome")


@bp.route("/welcome", methods=["GET", "POST"])
def welcome():
    """After registration: create a first facility, or wait to be added to one."""
    if not current_user.is_authenticated:  # the gate normally answers first
        return redirect(auth.login_url("/welcome"))
    if request.method == "GET":
        if auth.current_user_facilities():
            return redirect(auth.DEFAULT_AFTER_LOGIN)
        return _render(
            "welcome.html",
            username=current_user.username,
            zones=accounts.timezone_names(),
        )
    auth.check_csrf()
    name = (request.form.get("name") or "").strip()
    zone = (request.form.get("timezone") or "").strip()
    try:
        with session_scope(_db_url()) as db:
            accounts.create_facility_for(db, current_user.id, name, zone)
    except ValueError as exc:
        return _render(
            "welcome.html",
            username=current_user.username,
            error=str(exc),
            name=name,
            timezone=zone,
            zones=accounts.timezone_names(),
        )
    return redirect(auth.DEFAULT_AFTER_LOGIN)


# --------------------------------------------------------------------------- reset


RESET_MAX_AGE_S = 3600
RESET_SALT = "energy-dash-password-reset"


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _hash_tag(password_hash: str) -> str:
    """A short digest of the current password hash: a used link stops working."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def make_reset_token(user_id: int, password_hash: str) -> str:
    return _reset_serializer().dumps({"u": user_id, "p": _hash_tag(password_hash)})


def read_reset_token(token: str) -> int | None:
    """The user id of a valid, unused, unexpired reset token, else None."""
    if not token or len(token) > 512:
        return None
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE_S)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    try:
        user_id = int(data["u"])
    except (KeyError, TypeError, ValueError):
        return None
    with session_scope(_db_url()) as db:
        user = accounts.get_user(db, user_id)
        if user is None or not user.active:
            return None
        if not hmac.compare_digest(str(data.get("p")), _hash_tag(user.password_hash)):
            return None
    return user_id


def public_base_url() -> str:
    """Where mailed links point: a configured base URL, else this request's host.

    ``ENERGY_DASH_BASE_URL`` (``settings.base_url``) should be set in production:
    the Host header is chosen by the client, and a reset link must not follow it.
    """
    configured = _settings().base_url
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/")


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    if request.method == "GET":
        return _render("forgot.html")
    auth.check_csrf()
    email = (request.form.get("email") or "").strip()
    target = None
    with session_scope(_db_url()) as db:
        user = accounts.find_user_by_email(db, email)
        if user is not None and user.active and user.email:
            target = (
                user.email,
                user.username,
                make_reset_token(user.id, user.password_hash),
            )
    if target is not None and auth.throttle().allow_reset_mail(target[0]):
        address, username, token = target
        link = public_base_url() + "/reset-password/" + token
        mail.send_mail(
            _settings(),
            address,
            "Energy Dash: choose a new password",
            f"Hello {username},\n\n"
            "someone (hopefully you) asked to reset the password of your Energy Dash "
            "account. Open this link to choose a new one:\n\n"
            f"{link}\n\n"
            "The link works once and expires after one hour. If you did not ask for "
            "it, ignore this message; your password stays unchanged.\n",
        )
    # The same answer whether or not the address belongs to an account.
    return _render("forgot.html", sent=True)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user_id = read_reset_token(token)
    if user_id is None:
        return _render("reset.html", 400, invalid=True)
    if request.method == "GET":
        return _render(
            "reset.html", token=token, min_length=accounts.MIN_PASSWORD_LENGTH
        )
    auth.check_csrf()
    password = request.form.get("password") or ""
    if password != (request.form.get("confirm") or ""):
        return _render(
            "reset.html",
            token=token,
            error="The two passwords do not match.",
            min_length=accounts.MIN_PASSWORD_LENGTH,
        )
    try:
        with session_scope(_db_url()) as db:
            accounts.change_password(db, user_id, None, password, require_current=False)
    except ValueError as exc:
        return _render(
            "reset.html",
            token=token,
            error=str(exc),
            min_length=accounts.MIN_PASSWORD_LENGTH,
        )
    logout_user()
    session.clear()
    return redirect("/login?reset=1")
