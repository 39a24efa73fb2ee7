"""Facility rows: create, read, update, and the :class:`FacilityInfo` every layer
passes around. Functions take the Session or Connection they are given."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from energy_dash.db import statements
from energy_dash.db.models import Facility, Membership, User
from energy_dash.domain.facility import (
    FACILITY_INFO_FIELDS,
    FacilityInfo,
    clean_facility_values,
    facility_info,
)

INFO_COLUMNS = tuple(Facility.__table__.c[name] for name in FACILITY_INFO_FIELDS)


def load_info(conn: Connection | Session, facility_id: int) -> FacilityInfo | None:
    """The facility's :class:`FacilityInfo`, or None when it does not exist."""
    stmt = statements.built(("facility_info",), lambda: select(
        *INFO_COLUMNS).where(Facility.id == bindparam("fid")))
    row = conn.execute(stmt, {"fid": int(facility_id)}).first()
    return None if row is None else facility_info(tuple(row))


def all_infos(
    conn: Connection | Session, facility_id: int | None = None
) -> list[FacilityInfo]:
    """Every facility (or just ``facility_id``) as :class:`FacilityInfo`, by id."""
    stmt = select(*INFO_COLUMNS).order_by(Facility.id)
    if facility_id is not None:
        stmt = stmt.where(Facility.id == int(facility_id))
    return [facility_info(tuple(row)) for row in conn.execute(stmt)]


def facility_ids(conn: Connection | Session) -> list[int]:
    """Every facility id, ascending."""
    return [int(i) for i in conn.execute(select(Facility.id).order_by(Facility.id))
            .scalars()]


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
        "latitude": facility.latitude,
        "longitude": facility.longitude,
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
