"""Identities of committed MQTT messages dated at receipt (``mqtt_deliveries``).

Written by DB-API statements: a batch of 2 000 identities through SQLAlchemy's
executemany cost more CPU than storing its readings.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from energy_dash.db import as_driver
from energy_dash.db.models import MqttDelivery

TABLE = MqttDelivery.__table__
LOOKUP_CHUNK = 1_000
_KEY, _AT = TABLE.c.identity.name, TABLE.c.received_ms.name
_UPSERT = (f"ON CONFLICT ({_KEY}) DO UPDATE SET {_AT} = excluded.{_AT}")
INSERT_SQLITE = f"INSERT INTO {TABLE.name} ({_KEY}, {_AT}) VALUES (?, ?) {_UPSERT}"
INSERT_ARRAYS = (
    f"INSERT INTO {TABLE.name} ({_KEY}, {_AT}) "
    f"SELECT unnest(%s::text::bigint[]), %s {_UPSERT}"
)
"""PostgreSQL: the whole batch as one statement, the identities as one array
literal (a third of the client's CPU of a list adapted value by value). They
are distinct: one statement may not update a row twice."""
PRUNE = f"DELETE FROM {TABLE.name} WHERE {_AT} < %s"


def record(
    session: Session, identities: Iterable[int], received_ms: int, keep_ms: int
) -> None:
    """Add identities (a repeat refreshes its time) and drop those older than
    ``keep_ms``, in the session's transaction."""
    unique = list(set(identities))
    if not unique:
        return
    driver = as_driver(session)
    driver.execute(PRUNE, (received_ms - keep_ms,))
    if driver.dialect == "postgresql":
        literal = "{" + ",".join(map(str, unique)) + "}"
        driver.execute(INSERT_ARRAYS, (literal, received_ms))
    else:
        driver.cursor.executemany(INSERT_SQLITE, [(i, received_ms) for i in unique])


def recorded(session: Session, identities: Iterable[int]) -> set[int]:
    """Which of these identities are recorded."""
    wanted = list(set(identities))
    found: set[int] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start:start + LOOKUP_CHUNK]
        found.update(int(row[0]) for row in session.execute(
            select(TABLE.c.identity).where(TABLE.c.identity.in_(chunk))))
    return found
