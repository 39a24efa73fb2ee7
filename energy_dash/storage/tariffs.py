"""The ``tariffs`` rows of a facility: one per version, each valid from a local
calendar day on. Functions take the Session they are given; the rules of a
tariff (validation, which version prices which day) are
``energy_dash.domain.tariffs``."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from energy_dash.db.models import Tariff
from energy_dash.domain.tariffs import default_tariff


def tariff_dict(row: Tariff | None) -> dict[str, Any]:
    if row is None:
        return default_tariff()
    tou = row.tou or {}
    windows = tou.get("windows", []) if isinstance(tou, dict) else list(tou)
    return {
        "currency": row.currency or "EUR",
        "import_price": float(row.import_price),
        "export_price": float(row.export_price),
        "standing_charge": float(row.standing_charge or 0.0),
        "demand_charge": float(row.demand_charge or 0.0),
        "tou": [dict(w) for w in windows],
        "valid_from": row.valid_from,
        "configured": True,
    }


def _rows(session: Session, facility_id: int) -> list[Tariff]:
    return list(session.scalars(
        select(Tariff).where(Tariff.facility_id == int(facility_id))
        .order_by(Tariff.valid_from)
    ))


def versions(session: Session, facility_id: int) -> list[dict[str, Any]]:
    """Every stored version, oldest first (empty: none stored)."""
    return [tariff_dict(row) for row in _rows(session, facility_id)]


def load(session: Session, facility_id: int, today: date) -> dict[str, Any]:
    """The version valid on local ``today``: the newest that has begun, else the
    earliest (``configured`` False: the defaults, none stored)."""
    rows = _rows(session, facility_id)
    begun = [row for row in rows if row.valid_from <= today]
    return tariff_dict(begun[-1] if begun else (rows[0] if rows else None))


def store(
    session: Session, facility_id: int, clean: dict[str, Any], valid_from: date
) -> dict[str, Any]:
    """Store an already validated tariff (``domain.tariffs.clean_tariff``) as the
    version valid from ``valid_from``, replacing a version of that same day."""
    row = session.scalars(
        select(Tariff).where(Tariff.facility_id == int(facility_id),
                             Tariff.valid_from == valid_from)
    ).first()
    if row is None:
        row = Tariff(facility_id=int(facility_id), valid_from=valid_from)
        session.add(row)
    row.currency = clean["currency"]
    row.import_price = clean["import_price"]
    row.export_price = clean["export_price"]
    row.standing_charge = clean["standing_charge"]
    row.demand_charge = clean.get("demand_charge", 0.0)
    row.tou = {"windows": clean["tou"]}
    session.flush()
    return tariff_dict(row)


def remove(session: Session, facility_id: int, valid_from: date) -> bool:
    """Delete the version valid from ``valid_from``; False when there is none."""
    result = session.execute(
        delete(Tariff).where(Tariff.facility_id == int(facility_id),
                             Tariff.valid_from == valid_from)
    )
    return bool(result.rowcount)
