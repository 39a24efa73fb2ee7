"""Device API keys and wall display tokens: random secrets stored as SHA-256 digests.

Secrets are long and random, so a fast digest is safe and keeps every sensor request
cheap; lookup is by the indexed digest, compared again in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from energy_dash.db import DriverTransaction, as_driver, statements
from energy_dash.db.models import ApiKey, DisplayToken, Facility, utc, utcnow

KEY_PREFIX = "ed_"
TOKEN_PREFIX = "edw_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class DeviceKey:
    """What a request learns from a valid key (no ORM object crosses the request)."""

    id: int
    facility_id: int
    name: str


def _new_secret(session: Session, facility_id: int, prefix: str) -> str:
    """A fresh random secret for an existing facility (LookupError otherwise)."""
    if session.get(Facility, facility_id) is None:
        raise LookupError(f"facility {facility_id} does not exist")
    return prefix + secrets.token_urlsafe(32)


def create_api_key(session: Session, facility_id: int, name: str = "sensor") -> str:
    """Create a key for a facility and return the secret; only its digest is kept."""
    secret = _new_secret(session, facility_id, KEY_PREFIX)
    session.add(
        ApiKey(facility_id=facility_id, name=name[:64] or "sensor",
               key_hash=digest(secret), prefix=secret[:10])
    )
    session.flush()
    return secret


BOOTSTRAP_NAME = "bootstrap"
BOOTSTRAP_PREFIX = "HARDWARE_KEY"  # fits the 12-character column
"""Shown for the bootstrap key instead of its first characters: an operator's
secret may be short enough for those to be all of it."""


def ensure_bootstrap_key(
    session: Session, secret: str | None, facility_id: int = 1
) -> None:
    """Register ``HARDWARE_API_KEY`` (older firmware) as a hashed key of facility 1,
    and revoke the bootstrap keys of earlier values: a secret taken out of the
    environment stops working."""
    hashed = digest(secret) if secret else None
    bootstrap = (  # created keys start with KEY_PREFIX; bootstrap rows never do
        ApiKey.name == BOOTSTRAP_NAME,
        func.substr(ApiKey.prefix, 1, len(KEY_PREFIX)) != KEY_PREFIX,
    )
    session.execute(
        update(ApiKey).where(*bootstrap, ApiKey.key_hash != (hashed or ""),
                             ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.execute(update(ApiKey).where(*bootstrap).values(prefix=BOOTSTRAP_PREFIX))
    if hashed is None:
        return
    if session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hashed)) is not None:
        return
    if session.get(Facility, facility_id) is None:
        return
    session.add(ApiKey(facility_id=facility_id, name=BOOTSTRAP_NAME, key_hash=hashed,
                       prefix=BOOTSTRAP_PREFIX))
    session.flush()


def find_api_key(
    target: Session | DriverTransaction, secret: str | None
) -> DeviceKey | None:
    """The active key matching ``secret``, or None (missing, unknown or revoked).

    The SHA-256 digest is looked up by its unique index with one plain DB-API
    statement (the sensor hot path calls this on every request; ``target`` is a
    session or a driver transaction) and compared again in constant time.
    """
    if not secret or len(secret) > 256:
        return None
    hashed = digest(secret)
    row = as_driver(target).execute(statements.KEY_LOOKUP, (hashed,)).fetchone()
    if row is None or not hmac.compare_digest(row[3], hashed):
        return None
    return DeviceKey(row[0], row[1], row[2])


def touch_api_key(session: Session, key_id: int, when: datetime | None = None) -> None:
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when or utcnow())
    )


def _of_facility(session: Session, model: type, facility_id: int) -> list:
    """Every key or token row of a facility, oldest first."""
    return list(
        session.scalars(
            select(model).where(model.facility_id == facility_id).order_by(model.id)
        )
    )


def _revoke(session: Session, model: type, facility_id: int, row_id: int) -> bool:
    """Revoke one key or token of this facility; False when it is not its own (or
    already revoked): the tenant check lives in the statement."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.facility_id == facility_id,
               model.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


def list_api_keys(session: Session, facility_id: int) -> list[ApiKey]:
    return _of_facility(session, ApiKey, facility_id)


def revoke_api_key(session: Session, facility_id: int, key_id: int) -> bool:
    """Revoke a key of this facility; False when it is not this facility's key."""
    return _revoke(session, ApiKey, facility_id, key_id)


def create_display_token(session: Session, facility_id: int, name: str = "wall") -> str:
    """Create a read-only /wall token and return the secret (only its digest kept)."""
    secret = _new_secret(session, facility_id, TOKEN_PREFIX)
    session.add(
        DisplayToken(facility_id=facility_id, name=name[:64] or "wall",
                     token_hash=digest(secret), prefix=secret[:11])
    )
    session.flush()
    return secret


def find_display_token(session: Session, secret: str | None) -> DisplayToken | None:
    if not secret or len(secret) > 256:
        return None
    hashed = digest(secret)
    row = session.scalars(
        select(DisplayToken).where(
            DisplayToken.token_hash == hashed, DisplayToken.revoked_at.is_(None)
        )
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, hashed):
        return None
    return row


def list_display_tokens(session: Session, facility_id: int) -> list[DisplayToken]:
    return _of_facility(session, DisplayToken, facility_id)


def revoke_display_token(session: Session, facility_id: int, token_id: int) -> bool:
    """Revoke a wall token of this facility; False when it is not this facility's."""
    return _revoke(session, DisplayToken, facility_id, token_id)


# ----------------------------------------------------------- listings for settings
def _when(value) -> str | None:
    moment = utc(value)
    return moment.isoformat() if moment is not None else None


def _secrets_info(rows: list[ApiKey] | list[DisplayToken]) -> list[dict[str, Any]]:
    """Newest first, no secret: name, prefix and dates."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.prefix,
            "created_at": _when(r.created_at),
            "last_used_at": _when(r.last_used_at),
            "revoked_at": _when(r.revoked_at),
        }
        for r in reversed(rows)
    ]


def api_keys_info(session: Session, facility_id: int) -> list[dict[str, Any]]:
    """Device keys of a facility, newest first (no secret: name, prefix, dates)."""
    return _secrets_info(list_api_keys(session, facility_id))


def display_tokens_info(session: Session, facility_id: int) -> list[dict[str, Any]]:
    """Wall display tokens of a facility, newest first (no secret)."""
    return _secrets_info(list_display_tokens(session, facility_id))


def touch_display_token(session: Session, token_id: int) -> None:
    session.execute(
        update(DisplayToken)
        .where(DisplayToken.id == token_id)
        .values(last_used_at=utcnow())
    )
