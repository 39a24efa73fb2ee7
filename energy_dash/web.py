"""Browser-facing server side: sign-in pages, the login gate, the session API.

Server-rendered forms (``/login``, ``/register``, ``/forgot-password``,
``/reset-password/<token>``) live in the ``web`` blueprint with Jinja templates
from ``energy_dash/templates``; everything else the browser sees is Dash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
)
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from energy_dash import auth, mail, security
from energy_dash.data import accounts, views
from energy_dash.data import readings as _readings
from energy_dash.db import get_engine, session_scope
from energy_dash.models import READING_FIELDS, Facility
from energy_dash.validation import (
    END_MS,
    FIRST_MS,
    day_bounds_message,
    validate_reading,
)

logger = logging.getLogger(__name__)

bp = Blueprint("web", __name__, template_folder="templates")
VENDOR_STYLESHEETS = (
    "/assets/vendor/bootstrap.min.css",
    "/assets/vendor/bootstrap-icons.min.css",
)


def _settings():
    return current_app.config["ENERGY_DASH"]


def _db_url() -> str:
    return _settings().database_url


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
    wait = throttle.attempt(username, address)
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
        logger.info("failed sign-in from %s", address)
        return _render(
            "login.html",
            next=next_path,
            username=username,
            error="Invalid username or password.",
        )
    throttle.succeeded(username, address)
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


def _json_error(status: int, message: str, field: str | None = None):
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


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


# --------------------------------------------------------------------------- avatars


AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.(png|webp)$")


def avatar_dir() -> Path:
    return Path(_settings().instance_dir) / "avatars"


@bp.get("/avatars/<name>")
def avatar(name: str):
    """A profile picture, to signed-in users only (the gate enforces sign-in)."""
    if not current_user.is_authenticated or not AVATAR_NAME.match(name):
        abort(404)
    path = avatar_dir() / name
    if not path.is_file():
        abort(404)
    mimetype = "image/png" if name.endswith(".png") else "image/webp"
    response = send_file(path, mimetype=mimetype, max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# ------------------------------------------------------------------------- session API


def _facility_param() -> tuple[Any, Response | None]:
    """The facility of the checked ``facility_id`` parameter (default: the first).

    Returns ``(views.FacilityView, None)`` or ``(None, the JSON refusal)``.
    """
    raw = request.args.get("facility_id")
    if raw is None or raw == "":
        facilities = auth.current_user_facilities()
        if not facilities:
            return None, _json_error(403, "you are not a member of any facility")
        fid = facilities[0]["id"]
    elif not re.fullmatch(r"\s*\d{1,12}\s*", raw):
        return None, _json_error(
            400, "facility_id must be a positive integer", "facility_id"
        )
    else:
        try:
            fid = auth.check_facility(int(raw))
        except PermissionError as exc:
            return None, _json_error(403, str(exc))
    facility = views.facility_view(fid, database_url=_db_url())
    if facility is None:
        return None, _json_error(403, "you are not a member of this facility")
    return facility, None


def _iso(ts_ms: int | None, zone: str | None = None) -> str | None:
    if ts_ms is None:
        return None
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    if zone:
        moment = moment.astimezone(ZoneInfo(zone))
        return moment.isoformat(timespec="seconds")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@bp.get("/api/latest-hardware-data")
def latest_hardware_data():
    """The newest reading of a facility with its local time and power [kW]."""
    facility, error = _facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    state = views.latest_state(fid, database_url=url)
    with get_engine(url).connect() as conn:
        row = _readings.last_reading(conn, fid)
    body: dict[str, Any] = {
        "facility_id": fid,
        "facility_name": facility.name,
        "timezone": facility.timezone,
        "timestamp": None,
        "local_time": None,
        "device_id": None,
        "expected_interval_s": facility.expected_interval_s,
    }
    fields = READING_FIELDS
    for name in fields:
        body[name] = None
    body.update(
        interval_s=None,
        power_kw={"produced": None, "consumed": None, "net_import": None},
        connected=False,
        age_s=None,
    )
    if row is not None and state.get("last_ms") is not None:
        body["timestamp"] = _iso(row.ts_ms)
        body["local_time"] = _iso(row.ts_ms, facility.timezone)
        body["device_id"] = row.device_id
        for name in fields:
            body[name] = _num(getattr(row, name))
        body["interval_s"] = state["interval_s"]
        body["power_kw"] = {
            "produced": _round(state["production_kw"]),
            "consumed": _round(state["consumption_kw"]),
            "net_import": _round(state["net_import_kw"]),
        }
        body["connected"] = bool(state["connected"])
        body["age_s"] = _round(state["age_s"], 1)
    return jsonify(body)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@bp.get("/api/hardware-status-check")
def hardware_status_check():
    """Is the facility's sensor reporting? (connected, last seen, expected interval)."""
    facility, error = _facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    state = views.latest_state(fid, database_url=url)
    since = int(time.time() * 1000) - 86_400_000
    with get_engine(url).connect() as conn:
        count = _readings.count_since(conn, fid, since)
    return jsonify(
        {
            "facility_id": fid,
            "connected": bool(state["connected"]),
            "last_seen": _iso(state["last_ms"]),
            "last_seen_local": _iso(state["last_ms"], facility.timezone),
            "age_s": _round(state["age_s"], 1),
            "expected_interval_s": facility.expected_interval_s,
            "readings_24h": int(count),
            "timezone": facility.timezone,
        }
    )


EXPORT_CHUNK_MS = 7 * 86_400_000
EXPORT_MAX_DAYS = 3660


def _parse_instant(raw: str, zone: str, field: str) -> int:
    """Epoch ms from ISO 8601 (offset, or naive = facility local time) or a date."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _ParamError(
            field, f"{field} must be an ISO 8601 date or date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        ms = int(moment.timestamp() * 1000)
    except (OverflowError, ValueError):
        ms = -1
    if not FIRST_MS <= ms <= END_MS:
        raise _ParamError(field, day_bounds_message(field))
    return ms


class _ParamError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@bp.get("/api/export.csv")
def export_csv():
    """Every reading of ``[start, end)`` as CSV (streamed in weekly chunks)."""
    facility, error = _facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    try:
        now_ms = int(time.time() * 1000)
        end_raw, start_raw = request.args.get("end"), request.args.get("start")
        end_ms = (
            _parse_instant(end_raw, facility.timezone, "end") if end_raw else now_ms
        )
        start_ms = (
            _parse_instant(start_raw, facility.timezone, "start")
            if start_raw
            else end_ms - 86_400_000
        )
    except _ParamError as exc:
        return _json_error(400, str(exc), exc.field)
    if end_ms <= start_ms:
        return _json_error(400, "end must be after start", "end")
    if end_ms - start_ms > EXPORT_MAX_DAYS * 86_400_000:
        return _json_error(
            400, f"the range must be at most {EXPORT_MAX_DAYS} days", "start"
        )
    name = (
        f"energy-dash-facility-{fid}-{_iso(start_ms, facility.timezone)[:10]}"
        f"-{_iso(end_ms - 1, facility.timezone)[:10]}.csv"
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",  # readings of a facility: never in a cache
    }
    if end_ms - start_ms <= EXPORT_CHUNK_MS:
        text = views.export_csv(
            fid, start_ms, end_ms, database_url=url, facility=facility
        )
        return Response(text, mimetype="text/csv", headers=headers)
    return Response(
        stream_with_context(_export_chunks(fid, start_ms, end_ms, url, facility)),
        mimetype="text/csv",
        headers=headers,
    )


def _export_chunks(
    fid: int, start_ms: int, end_ms: int, url: str, facility
) -> Iterator[str]:
    first = True
    lo = start_ms
    while lo < end_ms:
        hi = min(end_ms, lo + EXPORT_CHUNK_MS)
        text = views.export_csv(fid, lo, hi, database_url=url, facility=facility)
        if not first:
            text = text.split("\n", 1)[1] if "\n" in text else ""
        first = False
        if text:
            yield text
        lo = hi


# --------------------------------------------------------------------------- debug


VOLTAGE_CONDITIONS = (
    "normal",
    "high_warning",
    "high_critical",
    "low_warning",
    "low_critical",
    "fluctuating",
)


def _debug_facility() -> tuple[int | None, Response | None]:
    if _settings().production:
        abort(404)
    raw = request.args.get("facility_id")
    facilities = auth.current_user_facilities()
    if raw in (None, ""):
        writable = [f["id"] for f in facilities if f["role"] in ("admin", "operator")]
        if not facilities:
            return None, _json_error(403, "you are not a member of any facility")
        if not writable:
            return None, _json_error(403, "your role in this facility is read-only")
        return writable[0], None
    if not re.fullmatch(r"\s*\d{1,12}\s*", raw):
        return None, _json_error(
            400, "facility_id must be a positive integer", "facility_id"
        )
    try:
        return auth.check_facility(int(raw), write=True), None
    except PermissionError as exc:
        return None, _json_error(403, str(exc))


def realistic_reading(
    facility: Facility, now_s: float, rng: random.Random
) -> dict[str, Any]:
    """A plausible reading at ``now_s``: daylight solar, a base load, 3 phases."""
    zone = ZoneInfo(facility.timezone or "UTC")
    local = datetime.fromtimestamp(now_s, tz=zone)
    hour = local.hour + local.minute / 60
    interval_h = max(1, facility.expected_interval_s or 300) / 3600
    capacity = float(facility.capacity_kw or 10.0)
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12)) if 6 <= hour <= 18 else 0.0
    production_kw = capacity * 0.8 * sun * rng.uniform(0.75, 1.0)
    consumption_kw = capacity * rng.uniform(0.15, 0.45)
    nominal = float(facility.nominal_voltage or 230.0)
    phase = consumption_kw * 1000 / (3 * nominal)
    return {
        "energy_produced": round(production_kw * interval_h, 4),
        "energy_consumed": round(consumption_kw * interval_h, 4),
        "current_load": round(min(100.0, consumption_kw / capacity * 100), 2),
        "voltage": round(nominal * (1 + rng.gauss(0, 0.008)), 2),
        "current": round(phase * 3, 2),
        "current1": round(phase * rng.uniform(0.95, 1.05), 2),
        "current2": round(phase * rng.uniform(0.95, 1.05), 2),
        "current3": round(phase * rng.uniform(0.95, 1.05), 2),
        "frequency": round(50 + rng.gauss(0, 0.02), 3),
        "power_factor": round(rng.uniform(0.92, 0.99), 3),
        "timestamp": round(now_s, 3),
        "device_id": "debug-sensor",
        "facility_id": facility.id,
    }


@bp.get("/api/debug/test-hardware")
def debug_test_hardware():
    """Development only: store one realistic reading through validate + store_one."""
    fid, error = _debug_facility()
    if error is not None:
        return error
    now_s = time.time()
    with session_scope(_db_url(), write=True) as db:
        facility = db.get(Facility, fid)
        payload = realistic_reading(facility, now_s, random.Random())
        row, details = validate_reading(payload, now_s=now_s)
        if row is None:  # pragma: no cover - the generator makes valid readings
            return jsonify({"error": "validation_error", "details": details}), 422
        created, reading_id, alerts = _readings.store_one(db, facility, row)
    return jsonify(
        {
            "status": "ok" if created else "duplicate",
            "id": reading_id,
            "facility_id": fid,
            "timestamp": _iso(row["ts_ms"]),
            "reading": payload,
            "alerts": alerts,
        }
    ), 201 if created else 200


def voltage_profile(
    condition: str, nominal: float, warning_pct: float, critical_pct: float, count: int
) -> list[float]:
    """Voltages [V] that lie in the band named by ``condition``."""
    mid = (warning_pct + critical_pct) / 2
    beyond = critical_pct + max(2.0, critical_pct * 0.2)
    levels = {
        "normal": [0.0, 0.4, -0.3, 0.2, -0.1],
        "high_warning": [mid],
        "high_critical": [beyond],
        "low_warning": [-mid],
        "low_critical": [-beyond],
        "fluctuating": [
            0.0,
            mid,
            -mid,
            beyond * 0.9 if beyond * 0.9 > critical_pct else beyond,
            0.0,
            -mid,
        ],
    }[condition]
    return [
        round(nominal * (1 + levels[i % len(levels)] / 100), 2) for i in range(count)
    ]


@bp.get("/api/debug/voltage-demo")
def debug_voltage_demo():
    """Development only: readings with a voltage profile, via validate + store."""
    fid, error = _debug_facility()
    if error is not None:
        return error
    condition = request.args.get("condition", "normal")
    if condition not in VOLTAGE_CONDITIONS:
        return _json_error(
            400,
            "condition must be one of " + ", ".join(VOLTAGE_CONDITIONS),
            "condition",
        )
    count = 12
    now_s = time.time()
    rng = random.Random()
    with session_scope(_db_url(), write=True) as db:
        facility = db.get(Facility, fid)
        interval = max(1, facility.expected_interval_s or 300)
        volts = voltage_profile(
            condition,
            facility.nominal_voltage,
            facility.voltage_warning_pct,
            facility.voltage_critical_pct,
            count,
        )
        rows = []
        for i, volt in enumerate(volts):
            at = now_s - (count - 1 - i) * interval
            payload = realistic_reading(facility, at, rng)
            payload.update(voltage=volt, device_id="voltage-demo")
            row, _details = validate_reading(payload, now_s=now_s)
            if row is not None:
                rows.append(row)
        result = _readings.store_many(db, facility, rows)
    return jsonify(
        {
            "status": "ok",
            "condition": condition,
            "facility_id": fid,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "voltages": volts,
            "alerts": result.alerts,
        }
    ), 201


# --------------------------------------------------------------------------- set-up


def init_app(app, settings) -> None:
    """Wire Flask-Login, the gate, the sign-in pages, the session API and headers."""
    server = app.server
    # Bootstrap first, then our own assets (Dash would load assets/ top level first).
    app.config.external_stylesheets = list(VENDOR_STYLESHEETS)
    app.config.assets_path_ignore = ["vendor"]
    auth.init_auth(app, settings)
    server.register_blueprint(bp)
    security.init_security(app, settings)
