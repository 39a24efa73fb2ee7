"""Identities of committed MQTT messages dated at receipt (``mqtt_deliveries``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from energy_dash.db.models import MqttDelivery

TABLE = MqttDelivery.__table__
LOOKUP_CHUNK = 1_000


def record(
    conn: Connection | Session, identities: Iterable[bytes], received_ms: int,
    keep_ms: int,
) -> None:
    """Add identities (a repeat refreshes its time) and drop those older than
    ``keep_ms``, in the caller's transaction."""
    rows = [{"identity": i, "received_ms": received_ms} for i in set(identities)]
    if not rows:
        return
    conn.execute(delete(TABLE).where(TABLE.c.received_ms < received_ms - keep_ms))
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else (
        conn.dialect.name)
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(TABLE)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[TABLE.c.identity],
        set_={"received_ms": stmt.excluded.received_ms}), rows)


def recorded(conn: Connection | Session, identities: Iterable[bytes]) -> set[bytes]:
    """Which of these identities are recorded."""
    wanted = list(set(identities))
    found: set[bytes] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start:start + LOOKUP_CHUNK]
        found.update(bytes(row[0]) for row in conn.execute(
            select(TABLE.c.identity).where(TABLE.c.identity.in_(chunk))))
    return found
