"""Topic and line-protocol bindings: which device data feeds which facility."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from energy_dash.db.models import Facility, InfluxBinding, TopicBinding

logger = logging.getLogger(__name__)

TOPICS = TopicBinding.__table__
INFLUX = InfluxBinding.__table__
FACILITIES = Facility.__table__


def add_topic(conn: Connection | Session, values: dict[str, Any]) -> int:
    """Insert a topic binding (validated by the caller); returns its id."""
    result = conn.execute(insert(TOPICS).values(**values).returning(TOPICS.c.id))
    return int(result.scalar_one())


def add_influx(conn: Connection | Session, values: dict[str, Any]) -> int:
    """Insert a line-protocol binding (validated by the caller); returns its id."""
    result = conn.execute(insert(INFLUX).values(**values).returning(INFLUX.c.id))
    return int(result.scalar_one())


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
