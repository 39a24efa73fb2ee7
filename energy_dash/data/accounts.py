"""Users, facilities and memberships: everything sign-in, settings and profile need.

Passwords are hashed with scrypt (werkzeug). Functions take an open SQLAlchemy
session (the caller owns its lifetime, see ``energy_dash.db.session_scope``) and
raise ``ValueError`` with a message meant for the user when an input is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from energy_dash.models import ROLES, Facility, Membership, User

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "common_passwords.txt"
THEMES = ("light", "dark")


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """An scrypt hash (salted, self-describing) of ``password``."""
    return generate_password_hash(password, "scrypt")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verifying against a hash of a random string costs as much as a real check,
    # so a missing account is not revealed by a faster answer.
    return generate_password_hash("not-a-real-password-7f3a", "scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (constant-time compare)."""
    if not password_hash or not isinstance(password, str):
        burn_password_check(password if isinstance(password, str) else "")
        return False
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return check_password_hash(password_hash, password)
    except (ValueError, TypeError):
        return False


def burn_password_check(password: str) -> None:
    """Spend the time of one password check (for unknown accounts)."""
    check_password_hash(_dummy_hash(), (password or "")[:MAX_PASSWORD_LENGTH])


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    try:
        text = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    except OSError:  # pragma: no cover - the file ships with the package
        return frozenset()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return "This password is too common; choose a less guessable one."
    if len(set(password)) < 4:
        return "This password is too repetitive; choose a less guessable one."
    if username and lowered == username.strip().lower():
        return "Password must not be your username."
    return None


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Account:
    """A plain copy of a user row (safe to keep after the session closes)."""

    id: int
    username: str
    email: str | None
    role: str
    active: bool
    session_version: int
    theme: str
    avatar_file: str | None
    preferences: dict[str, Any]

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            role=user.role,
            active=bool(user.active),
            session_version=user.session_version or 1,
            theme=user.theme or "light",
            avatar_file=user.avatar_file,
            preferences=dict(user.preferences or {}),
        )


def _clean_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise ValueError(
            "Username must be 2–64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _clean_email(email: str | None) -> str | None:
    if email is None:
        return None
    value = email.strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValueError("Enter a valid email address.")
    return value.lower()


def _username_taken(
    session: Session, username: str, exclude: int | None = None
) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    if exclude is not None:
        stmt = stmt.where(User.id != exclude)
    return session.scalar(stmt) is not None


def _email_taken(session: Session, email: str, exclude: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if exclude is not None:
        stmt = stmt.where(User.id != exclude)
    return session.scalar(stmt) is not None


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    email: str | None = None,
    role: str = "viewer",
    check_strength: bool = True,
) -> User:
    """Create a user; ``ValueError`` for a taken name or email or a weak password.

    ``check_strength=False`` only for the demo seed (its password is "password").
    """
    name = _clean_username(username)
    address = _clean_email(email)
    if role not in ROLES:
        raise ValueError(f"Role must be one of {', '.join(ROLES)}.")
    if check_strength:
        problem = password_problem(password, name)
        if problem:
            raise ValueError(problem)
    elif not password:
        raise ValueError("Password must not be empty.")
    if _username_taken(session, name):
        raise ValueError(f"The username {name!r} is already taken.")
    if address and _email_taken(session, address):
        raise ValueError("That email address is already registered.")
    user = User(
        username=name,
        email=address,
        password_hash=hash_password(password),
        role=role,
        active=True,
        session_version=1,
        theme="light",
        preferences={},
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user: int | str) -> User | None:
    """A user by id or by username (case-insensitive)."""
    if isinstance(user, int):
        return session.get(User, user)
    return session.scalar(
        select(User).where(func.lower(User.username) == str(user).strip().lower())
    )


def find_user_by_login(session: Session, login: str) -> User | None:
    """A user by username or, when it contains '@', by email."""
    value = (login or "").strip()
    if not value or len(value) > 254:
        return None
    if "@" in value:
        found = session.scalar(
            select(User).where(func.lower(User.email) == value.lower())
        )
        if found is not None:
            return found
    return get_user(session, value)


def find_user_by_email(session: Session, email: str) -> User | None:
    value = (email or "").strip().lower()
    if not value or len(value) > 254:
        return None
    return session.scalar(select(User).where(func.lower(User.email) == value))


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this username (or email) and password, else None."""
    user = find_user_by_login(session, login)
    if user is None or not user.active:
        burn_password_check(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return user


def load_session_user(session: Session, user_id: int, version: int) -> Account | None:
    """The account behind a session cookie, when it is active and still current."""
    user = session.get(User, user_id)
    if user is None or not user.active or (user.session_version or 1) != version:
        return None
    return Account.of(user)


def bump_session_version(session: Session, user_id: int) -> int:
    """End every existing session of a user (logout, password change)."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=func.coalesce(User.session_version, 1) + 1)
    )
    return session.scalar(select(User.session_version).where(User.id == user_id)) or 1


def change_password(
    session: Session,
    user_id: int,
    current: str | None,
    new: str,
    *,
    require_current: bool = True,
) -> int:
    """Set a new password and end every other session; returns the new version."""
    user = session.get(User, user_id)
    if user is None:
        raise ValueError("Unknown user.")
    if require_current and not verify_password(user.password_hash, current or ""):
        raise ValueError("The current password is not correct.")
    problem = password_problem(new, user.username)
    if problem:
        raise ValueError(problem)
    user.password_hash = hash_password(new)
    session.flush()
    return bump_session_version(session, user_id)


def update_profile(
    session: Session,
    user_id: int,
    *,
    username: str | None = None,
    email: str | None = None,
) -> Account:
    """Change username and/or email (``email=""`` removes it)."""
    user = session.get(User, user_id)
    if user is None:
        raise ValueError("Unknown user.")
    if username is not None:
        name = _clean_username(username)
        if _username_taken(session, name, exclude=user_id):
            raise ValueError(f"The username {name!r} is already taken.")
        user.username = name
    if email is not None:
        address = _clean_email(email)
        if address and _email_taken(session, address, exclude=user_id):
            raise ValueError("That email address is already registered.")
        user.email = address
    session.flush()
    return Account.of(user)


def set_theme(session: Session, user_id: int, theme: str) -> None:
    if theme not in THEMES:
        raise ValueError(f"Theme must be one of {', '.join(THEMES)}.")
    session.execute(update(User).where(User.id == user_id).values(theme=theme))


def set_avatar(session: Session, user_id: int, filename: str | None) -> str | None:
    """Store the avatar file name; returns the previous one (to delete)."""
    user = session.get(User, user_id)
    if user is None:
        raise ValueError("Unknown user.")
    previous = user.avatar_file
    user.avatar_file = filename
    session.flush()
    return previous


def get_preferences(session: Session, user_id: int) -> dict[str, Any]:
    user = session.get(User, user_id)
    return dict(user.preferences or {}) if user is not None else {}


def set_preferences(
    session: Session, user_id: int, preferences: dict[str, Any]
) -> None:
    user = session.get(User, user_id)
    if user is None:
        raise ValueError("Unknown user.")
    user.preferences = dict(preferences)
    session.flush()


NOTIFY_LEVELS = ("warning", "critical")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def clean_notifications(
    values: dict[str, Any], allowed_facilities: list[int]
) -> dict[str, Any]:
    """Validate notification preferences; ``FieldError`` names a refused field.

    Returns ``{"facilities": [id…], "levels": [...], "email": str | None,
    "webhook": str | None, "quiet_hours": {"from": "HH:MM", "to": "HH:MM"} | None}``.
    """
    facilities = []
    for item in values.get("facilities") or []:
        try:
            fid = int(item)
        except (TypeError, ValueError):
            raise FieldError("facilities", "Unknown facility.") from None
        if fid not in allowed_facilities:
            raise FieldError("facilities", "You can only follow your own facilities.")
        if fid not in facilities:
            facilities.append(fid)
    levels = [lv for lv in NOTIFY_LEVELS if lv in (values.get("levels") or [])]
    if set(values.get("levels") or []) - set(NOTIFY_LEVELS):
        raise FieldError("levels", "Levels must be warning and/or critical.")
    try:
        email = _clean_email(values.get("email"))
    except ValueError as exc:
        raise FieldError("email", str(exc)) from None
    webhook = (values.get("webhook") or "").strip() or None
    if webhook is not None:
        from urllib.parse import urlsplit

        parts = urlsplit(webhook)
        if (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or len(webhook) > 500
        ):
            raise FieldError("webhook", "The webhook must be an http(s):// URL.")
    start = (values.get("quiet_from") or "").strip()
    end = (values.get("quiet_to") or "").strip()
    quiet = None
    if start or end:
        if not (_TIME_RE.match(start) and _TIME_RE.match(end)):
            raise FieldError(
                "quiet_hours", "Quiet hours need a start and an end (HH:MM)."
            )
        if start == end:
            raise FieldError(
                "quiet_hours", "Quiet hours must not start and end together."
            )
        quiet = {"from": start, "to": end}
    return {
        "facilities": facilities,
        "levels": levels,
        "email": email,
        "webhook": webhook,
        "quiet_hours": quiet,
    }


def set_notifications(
    session: Session, user_id: int, notifications: dict[str, Any]
) -> None:
    prefs = get_preferences(session, user_id)
    prefs["notifications"] = notifications
    set_preferences(session, user_id, prefs)


# --------------------------------------------------------------------------- facilities


def valid_timezone(name: str) -> str:
    """``name`` when it is an IANA zone known to this system, else ValueError."""
    value = (name or "").strip()
    if not value or value not in _zone_names():
        raise ValueError(f"{value or 'An empty value'} is not a known IANA time zone.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value} is not a known IANA time zone.") from None
    return value


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def timezone_names() -> list[str]:
    return sorted(_zone_names())


FACILITY_FIELDS: dict[str, tuple[type, float | None, float | None]] = {
    # name: (type, minimum, maximum)
    "capacity_kw": (float, 0.001, 1e7),
    "panel_count": (int, 0, 1e7),
    "nominal_voltage": (float, 1, 1000),
    "expected_interval_s": (int, 1, 86400),
    "voltage_warning_pct": (float, 0.1, 50),
    "voltage_critical_pct": (float, 0.1, 80),
    "voltage_hysteresis_pct": (float, 0, 20),
}
LABELS = {
    "name": "Name",
    "location": "Location",
    "timezone": "Time zone",
    "capacity_kw": "Capacity (kW)",
    "panel_count": "Panel count",
    "nominal_voltage": "Nominal voltage (V)",
    "expected_interval_s": "Reporting interval (s)",
    "voltage_warning_pct": "Warning threshold (%)",
    "voltage_critical_pct": "Critical threshold (%)",
    "voltage_hysteresis_pct": "Hysteresis (%)",
}


class FieldError(ValueError):
    """A refused facility field: ``field`` names it, the message explains."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def clean_facility_values(values: dict[str, Any]) -> dict[str, Any]:
    """Validate facility fields; raises ``FieldError`` naming the first bad one."""
    clean: dict[str, Any] = {}
    for key, raw in values.items():
        if key == "name":
            name = (raw or "").strip() if isinstance(raw, str) else ""
            if not name or len(name) > 120:
                raise FieldError(key, "Name must be 1–120 characters.")
            clean[key] = name
        elif key == "location":
            text = (raw or "").strip() if isinstance(raw, str) else ""
            if len(text) > 200:
                raise FieldError(key, "Location must be at most 200 characters.")
            clean[key] = text or None
        elif key == "country":
            text = (raw or "").strip().upper() if isinstance(raw, str) else ""
            if text and not re.fullmatch(r"[A-Z]{2}", text):
                raise FieldError(key, "Country must be a two-letter code.")
            clean[key] = text or None
        elif key == "timezone":
            try:
                clean[key] = valid_timezone(raw if isinstance(raw, str) else "")
            except ValueError as exc:
                raise FieldError(key, str(exc)) from None
        elif key in FACILITY_FIELDS:
            kind, low, high = FACILITY_FIELDS[key]
            if key == "panel_count" and (raw is None or raw == ""):
                clean[key] = None
                continue
            label = LABELS[key]
            if isinstance(raw, bool) or raw is None or raw == "":
                raise FieldError(key, f"{label} is required.")
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise FieldError(key, f"{label} must be a number.") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise FieldError(key, f"{label} must be a finite number.")
            if kind is int:
                if number != int(number):
                    raise FieldError(key, f"{label} must be a whole number.")
                number = int(number)
            if (low is not None and number < low) or (
                high is not None and number > high
            ):
                raise FieldError(key, f"{label} must be between {low:g} and {high:g}.")
            clean[key] = number
        else:
            raise FieldError(key, f"{key} cannot be changed here.")
    warning = clean.get("voltage_warning_pct")
    critical = clean.get("voltage_critical_pct")
    if warning is not None and critical is not None and critical <= warning:
        raise FieldError(
            "voltage_critical_pct",
            "Critical threshold must be greater than the warning threshold.",
        )
    return clean


def create_facility_for(
    session: Session,
    user_id: int,
    name: str,
    timezone: str = "UTC",
    **values: Any,
) -> Facility:
    """Create a facility; its creator becomes its admin."""
    clean = clean_facility_values({"name": name, "timezone": timezone, **values})
    if session.get(User, user_id) is None:
        raise ValueError("Unknown user.")
    facility = Facility(**clean)
    session.add(facility)
    session.flush()
    session.add(Membership(user_id=user_id, facility_id=facility.id, role="admin"))
    session.flush()
    return facility


def facility_dict(facility: Facility) -> dict[str, Any]:
    return {
        "id": facility.id,
        "name": facility.name,
        "location": facility.location,
        "country": facility.country,
        "capacity_kw": facility.capacity_kw,
        "panel_count": facility.panel_count,
        "timezone": facility.timezone,
        "nominal_voltage": facility.nominal_voltage,
        "expected_interval_s": facility.expected_interval_s,
        "voltage_warning_pct": facility.voltage_warning_pct,
        "voltage_critical_pct": facility.voltage_critical_pct,
        "voltage_hysteresis_pct": facility.voltage_hysteresis_pct,
    }


def get_facility(session: Session, facility_id: int) -> dict[str, Any] | None:
    facility = session.get(Facility, facility_id)
    return facility_dict(facility) if facility is not None else None


def update_facility(
    session: Session, facility_id: int, **values: Any
) -> dict[str, Any]:
    """Validate and store facility details; ``FieldError`` names a refused field."""
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    merged_thresholds = {
        "voltage_warning_pct": values.get(
            "voltage_warning_pct", facility.voltage_warning_pct
        ),
        "voltage_critical_pct": values.get(
            "voltage_critical_pct", facility.voltage_critical_pct
        ),
    }
    clean = clean_facility_values(values)
    clean_facility_values(merged_thresholds)
    for key, value in clean.items():
        setattr(facility, key, value)
    session.flush()
    return facility_dict(facility)


# ------------------------------------------------------------------------ memberships


def _user_id(session: Session, user: int | str) -> int:
    if isinstance(user, int):
        if session.get(User, user) is None:
            raise ValueError(f"There is no user with id {user}.")
        return user
    found = get_user(session, user)
    if found is None:
        raise ValueError(f"There is no user named {str(user).strip()!r}.")
    return found.id


def grant(
    session: Session, user: int | str, facility_id: int, role: str = "viewer"
) -> None:
    """Make ``user`` (id or username) a member of a facility with ``role``."""
    if role not in ROLES:
        raise ValueError(f"Role must be one of {', '.join(ROLES)}.")
    if session.get(Facility, facility_id) is None:
        raise ValueError(f"There is no facility with id {facility_id}.")
    uid = _user_id(session, user)
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == uid, Membership.facility_id == facility_id
        )
    )
    if membership is None:
        session.add(Membership(user_id=uid, facility_id=facility_id, role=role))
    else:
        membership.role = role
    session.flush()


def membership_role(session: Session, user_id: int, facility_id: int) -> str | None:
    """The user's role in a facility, or None when not a member."""
    return session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.facility_id == facility_id
        )
    )


def user_facilities(session: Session, user_id: int) -> list[tuple[int, str, str, str]]:
    """(id, name, role, timezone) of every facility the user belongs to, by id."""
    rows = session.execute(
        select(Facility.id, Facility.name, Membership.role, Facility.timezone)
        .join(Membership, Membership.facility_id == Facility.id)
        .where(Membership.user_id == user_id)
        .order_by(Facility.id)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def list_members(session: Session, facility_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(User.id, User.username, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.facility_id == facility_id)
        .order_by(func.lower(User.username))
    ).all()
    return [
        {"user_id": r[0], "username": r[1], "email": r[2], "role": r[3]} for r in rows
    ]


def _admin_count(session: Session, facility_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Membership.facility_id == facility_id, Membership.role == "admin"
            )
        )
        or 0
    )


def add_member(session: Session, facility_id: int, username: str, role: str) -> None:
    """Add an existing user by name; ValueError when unknown or already a member."""
    uid = _user_id(session, (username or "").strip())
    if membership_role(session, uid, facility_id) is not None:
        raise ValueError(f"{username.strip()} is already a member of this facility.")
    grant(session, uid, facility_id, role)


def set_member_role(
    session: Session, facility_id: int, user_id: int, role: str
) -> None:
    """Change a member's role; the last admin cannot be demoted."""
    if role not in ROLES:
        raise ValueError(f"Role must be one of {', '.join(ROLES)}.")
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.facility_id == facility_id
        )
    )
    if membership is None:
        raise ValueError("That user is not a member of this facility.")
    if (
        membership.role == "admin"
        and role != "admin"
        and _admin_count(session, facility_id) <= 1
    ):
        raise ValueError("A facility needs at least one admin.")
    membership.role = role
    session.flush()


def remove_member(session: Session, facility_id: int, user_id: int) -> None:
    """Remove a member; the last admin cannot be removed."""
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.facility_id == facility_id
        )
    )
    if membership is None:
        raise ValueError("That user is not a member of this facility.")
    if membership.role == "admin" and _admin_count(session, facility_id) <= 1:
        raise ValueError("A facility needs at least one admin.")
    session.delete(membership)
    session.flush()


# ------------------------------------------------------------------ keys and tokens


def _when(value) -> str | None:
    from energy_dash.models import utc

    moment = utc(value)
    return moment.isoformat() if moment is not None else None


def api_keys_info(session: Session, facility_id: int) -> list[dict[str, Any]]:
    """Device keys of a facility, newest first (no secret: name, prefix, dates)."""
    from energy_dash.data.devices import list_api_keys

    rows = list_api_keys(session, facility_id)
    return [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": _when(k.created_at),
            "last_used_at": _when(k.last_used_at),
            "revoked_at": _when(k.revoked_at),
        }
        for k in reversed(rows)
    ]


def display_tokens_info(session: Session, facility_id: int) -> list[dict[str, Any]]:
    """Wall display tokens of a facility, newest first (no secret)."""
    from energy_dash.data.devices import list_display_tokens

    rows = list_display_tokens(session, facility_id)
    return [
        {
            "id": t.id,
            "name": t.name,
            "prefix": t.prefix,
            "created_at": _when(t.created_at),
            "last_used_at": _when(t.last_used_at),
            "revoked_at": _when(t.revoked_at),
        }
        for t in reversed(rows)
    ]


def touch_display_token(session: Session, token_id: int) -> None:
    from energy_dash.models import DisplayToken, utcnow

    session.execute(
        update(DisplayToken)
        .where(DisplayToken.id == token_id)
        .values(last_used_at=utcnow())
    )


__all__ = [
    "clean_notifications",
    "set_notifications",
    "api_keys_info",
    "touch_display_token",
    "display_tokens_info",
    "Account",
    "FieldError",
    "MIN_PASSWORD_LENGTH",
    "add_member",
    "authenticate",
    "bump_session_version",
    "change_password",
    "clean_facility_values",
    "create_facility_for",
    "create_user",
    "find_user_by_email",
    "get_facility",
    "get_user",
    "grant",
    "hash_password",
    "list_members",
    "load_session_user",
    "membership_role",
    "password_problem",
    "remove_member",
    "set_avatar",
    "set_member_role",
    "set_preferences",
    "set_theme",
    "update_facility",
    "update_profile",
    "user_facilities",
    "valid_timezone",
    "verify_password",
]
