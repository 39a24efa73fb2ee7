"""Topic and line-protocol bindings: which device data feeds which facility."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from energy_dash.db.models import (
    BindingId,
    DeviceRegister,
    Facility,
    InfluxBinding,
    Reading,
    TopicBinding,
)

logger = logging.getLogger(__name__)

TOPICS = TopicBinding.__table__
INFLUX = InfluxBinding.__table__
FACILITIES = Facility.__table__
IDS = BindingId.__table__
READINGS = Reading.__table__
REGISTERS = DeviceRegister.__table__


def _new_id(conn: Connection | Session) -> int:
    """The next id of the source both binding kinds share: a bare id then names
    one binding, whichever table holds it."""
    new_id = int(conn.execute(insert(IDS).returning(IDS.c.id)).scalar_one())
    conn.execute(delete(IDS).where(IDS.c.id == new_id))
    return new_id


def add_topic(conn: Connection | Session, values: dict[str, Any]) -> int:
    """Insert a topic binding (validated by the caller); returns its id."""
    new_id = _new_id(conn)
    conn.execute(insert(TOPICS).values(id=new_id, **values))
    return new_id


def add_influx(conn: Connection | Session, values: dict[str, Any]) -> int:
    """Insert a line-protocol binding (validated by the caller); returns its id."""
    new_id = _new_id(conn)
    conn.execute(insert(INFLUX).values(id=new_id, **values))
    return new_id


def topic_exists(
    conn: Connection | Session, facility_id: int, topic: str, fmt: str
) -> bool:
    return conn.execute(
        select(TOPICS.c.id).where(TOPICS.c.facility_id == facility_id,
                                  TOPICS.c.topic == topic, TOPICS.c.format == fmt)
    ).first() is not None


def remove(
    conn: Connection | Session, table: str, binding_id: int,
    facility_id: int | None = None,
) -> int:
    """Delete one binding from ``topic`` or ``influx``; returns the rows removed.

    With ``facility_id`` only that facility's binding goes: the tenant check
    lives in the statement, so a forged id of another facility removes nothing.
    """
    target = TOPICS if table == "topic" else INFLUX
    stmt = delete(target).where(target.c.id == binding_id)
    if facility_id is not None:
        stmt = stmt.where(target.c.facility_id == facility_id)
    result = conn.execute(stmt)
    return result.rowcount or 0


def which_tables(conn: Connection | Session, binding_id: int) -> list[str]:
    """Which binding tables hold this id (``topic``, ``influx``)."""
    found = []
    for name, table in (("topic", TOPICS), ("influx", INFLUX)):
        if conn.execute(select(table.c.id).where(table.c.id == binding_id)).first():
            found.append(name)
    return found


def topic_rows(
    conn: Connection | Session, facility_id: int | None = None
) -> list[dict[str, Any]]:
    """Topic bindings with their facility's zone, oldest first."""
    stmt = select(
        TOPICS.c.id, TOPICS.c.facility_id, TOPICS.c.topic, TOPICS.c.format,
        TOPICS.c.role, TOPICS.c.device_id, FACILITIES.c.timezone,
    ).join(FACILITIES, FACILITIES.c.id == TOPICS.c.facility_id)
    if facility_id is not None:
        stmt = stmt.where(TOPICS.c.facility_id == facility_id)
    return [dict(row._mapping) for row in conn.execute(stmt.order_by(TOPICS.c.id))]


def influx_rows(
    conn: Connection | Session, facility_id: int | None = None
) -> list[dict[str, Any]]:
    """Line-protocol bindings, oldest first."""
    stmt = select(
        INFLUX.c.id, INFLUX.c.facility_id, INFLUX.c.measurement, INFLUX.c.tags,
        INFLUX.c.field, INFLUX.c.role, INFLUX.c.kind, INFLUX.c.unit,
        INFLUX.c.device_id,
    )
    if facility_id is not None:
        stmt = stmt.where(INFLUX.c.facility_id == facility_id)
    return [dict(row._mapping) for row in conn.execute(stmt.order_by(INFLUX.c.id))]


def newest_energy(
    conn: Connection | Session, facility_id: int, device_id: str, column: str
) -> tuple[int, float] | None:
    """Time [UTC epoch ms] and interval energy ``column`` [kWh] of the device's
    newest reading (what a power or energy binding of it stored last)."""
    row = conn.execute(
        select(READINGS.c.ts_ms, READINGS.c[column]).where(
            READINGS.c.facility_id == facility_id,
            READINGS.c.device_id == device_id,
        ).order_by(READINGS.c.ts_ms.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), float(row[1]))


def newest_register(
    conn: Connection | Session, facility_id: int, device_id: str, register: str
) -> tuple[int, float] | None:
    """Time [UTC epoch ms] and total [kWh] of the device's newest ``register``
    (``consumed`` or ``produced``) reading."""
    row = conn.execute(
        select(REGISTERS.c.ts_ms, REGISTERS.c.total_kwh).where(
            REGISTERS.c.facility_id == facility_id,
            REGISTERS.c.device_id == device_id,
            REGISTERS.c.register == register,
        ).order_by(REGISTERS.c.ts_ms.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), float(row[1]))
