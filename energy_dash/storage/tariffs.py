"""The ``tariffs`` row of a facility (one per facility). Functions take the Session
they are given; the rules of a tariff are ``energy_dash.domain.tariffs``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
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
        "tou": [dict(w) for w in windows],
        "configured": True,
    }


def load(session: Session, facility_id: int) -> dict[str, Any]:
    """The facility's tariff dict (``configured`` False: the defaults, none stored)."""
    row = session.scalars(
        select(Tariff).where(Tariff.facility_id == int(facility_id))
    ).first()
    return tariff_dict(row)


def store(session: Session, facility_id: int, clean: dict[str, Any]) -> dict[str, Any]:
    """Store an already validated tariff (see ``domain.tariffs.clean_tariff``)."""
    row = session.scalars(
        select(Tariff).where(Tariff.facility_id == int(facility_id))
    ).first()
    if row is None:
        row = Tariff(facility_id=int(facility_id))
        session.add(row)
    row.currency = clean["currency"]
    row.import_price = clean["import_price"]
    row.export_price = clean["export_price"]
    row.standing_charge = clean["standing_charge"]
    row.tou = {"windows": clean["tou"]}
    session.flush()
    return tariff_dict(row)
