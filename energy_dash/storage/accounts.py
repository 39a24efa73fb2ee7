"""Users, memberships and preferences: the rows sign-in, settings and profile need.

Functions take an open SQLAlchemy session (the caller owns its lifetime, see
``energy_dash.db.session_scope``) and raise ``ValueError`` with a message meant
for the user when an input is refused. The rules themselves (passwords, names,
notification settings) are ``energy_dash.domain.accounts``; facility rows are
``energy_dash.storage.facilities``; device keys ``energy_dash.storage.devices``.
Their names used by the pages are importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from energy_dash.db import statements
from energy_dash.db.models import ROLES, Facility, Membership, User
from energy_dash.domain.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    NOTIFY_LEVELS,
    THEMES,
    burn_password_check,
    clean_email,
    clean_notifications,
    clean_username,
    common_passwords,
    hash_password,
    password_problem,
    verify_password,
)
from energy_dash.domain.facility import (
    FieldError,
    clean_facility_values,
    timezone_names,
    valid_timezone,
)
from energy_dash.storage.devices import (
    api_keys_info,
    display_tokens_info,
    touch_display_token,
)
from energy_dash.storage.facilities import (
    create_facility_for,
    facility_dict,
    get_facility,
    update_facility,
)

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
    def of(cls, user: Any) -> Account:
        """From a :class:`User` or a row of its columns."""
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
    name = clean_username(username)
    address = clean_email(email)
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
    """The account behind a session cookie, when it is active and still current
    (read on every request: one built statement, no ORM object)."""
    stmt = statements.built(("session_user",), lambda: select(
        User.id, User.username, User.email, User.role, User.active,
        User.session_version, User.theme, User.avatar_file, User.preferences,
    ).where(User.id == bindparam("uid")))
    user = session.execute(stmt, {"uid": int(user_id)}).first()
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
        name = clean_username(username)
        if _username_taken(session, name, exclude=user_id):
            raise ValueError(f"The username {name!r} is already taken.")
        user.username = name
    if email is not None:
        address = clean_email(email)
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


def set_notifications(
    session: Session, user_id: int, notifications: dict[str, Any]
) -> None:
    prefs = get_preferences(session, user_id)
    prefs["notifications"] = notifications
    set_preferences(session, user_id, prefs)


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
    stmt = statements.built(("user_facilities",), lambda: (
        select(Facility.id, Facility.name, Membership.role, Facility.timezone)
        .join(Membership, Membership.facility_id == Facility.id)
        .where(Membership.user_id == bindparam("uid"))
        .order_by(Facility.id)
    ))
    rows = session.execute(stmt, {"uid": int(user_id)}).all()
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


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "NOTIFY_LEVELS",
    "THEMES",
    "burn_password_check",
    "clean_email",
    "clean_username",
    "common_passwords",
    "facility_dict",
    "timezone_names",
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
