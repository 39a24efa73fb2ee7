"""Account rules: password strength and hashing, usernames, e-mail addresses,
notification preferences. Pure checks; storage/accounts.py applies them.

Passwords are hashed with scrypt (werkzeug). Refusals raise ``ValueError`` (or
:class:`~energy_dash.domain.facility.FieldError` naming the field) with a message
meant for the user.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.security import check_password_hash, generate_password_hash

from energy_dash.domain.facility import FieldError

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


# ------------------------------------------------------------------ names


def clean_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise ValueError(
            "Username must be 2–64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def clean_email(email: str | None) -> str | None:
    if email is None:
        return None
    value = email.strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValueError("Enter a valid email address.")
    return value.lower()


# ----------------------------------------------------------------- notifications


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
        email = clean_email(values.get("email"))
    except ValueError as exc:
        raise FieldError("email", str(exc)) from None
    webhook = (values.get("webhook") or "").strip() or None
    if webhook is not None:
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
