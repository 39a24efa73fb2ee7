"""Facility look-ups for callers without a session of their own (pages, APIs,
jobs): each opens one short connection."""

from __future__ import annotations

from sqlalchemy import Connection

from energy_dash.db import connected, get_engine
from energy_dash.domain.facility import FacilityInfo
from energy_dash.storage import facilities as rows


def facility_info(
    facility_id: int, *, database_url: str | None = None,
    conn: Connection | None = None,
) -> FacilityInfo | None:
    """Name, zone, holiday country, reporting interval [s], capacity [kW], bands."""
    with connected(database_url, conn) as conn:
        return rows.load_info(conn, facility_id)


def facility_ids(*, database_url: str | None = None) -> list[int]:
    """Every facility id, ascending."""
    with get_engine(database_url).connect() as conn:
        return rows.facility_ids(conn)
