"""Data-quality events: append and read (one table, ``quality_events``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.orm import Session

from energy_dash.db import statements
from energy_dash.db.models import QualityEvent as QualityRow
from energy_dash.domain.quality import QualityEvent

logger = logging.getLogger(__name__)

TABLE = QualityRow.__table__


def add_events(
    conn: Connection | Session,
    facility_id: int | None,
    events: Iterable[QualityEvent],
) -> int:
    """Append events of one facility (``None``: no facility, e.g. unbound topics)."""
    rows = [
        {"facility_id": facility_id, "device_id": e.device_id, "ts_ms": e.ts_ms,
         "kind": e.kind, "detail": e.detail}
        for e in events
    ]
    if rows:
        conn.execute(insert(TABLE), rows)
    return len(rows)


def fetch_events(
    conn: Connection | Session,
    facility_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    *,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[tuple]:
    """Rows of (ts_ms, facility_id, device_id, kind, detail), half-open range."""
    stmt = select(TABLE.c.ts_ms, TABLE.c.facility_id, TABLE.c.device_id,
                  TABLE.c.kind, TABLE.c.detail)
    if facility_ids is not None:
        stmt = stmt.where(TABLE.c.facility_id.in_(list(facility_ids)))
    if start_ms is not None:
        stmt = stmt.where(TABLE.c.ts_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(TABLE.c.ts_ms < end_ms)
    order = (TABLE.c.ts_ms.desc(), TABLE.c.id.desc()) if newest_first else (
        TABLE.c.ts_ms, TABLE.c.id)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [tuple(row) for row in conn.execute(stmt)]


def count_since(conn: Connection | Session, facility_id: int, since_ms: int) -> int:
    """How many events a facility has had since ``since_ms``."""
    stmt = statements.built(("quality_count_since",), lambda: select(
        func.count()).where(TABLE.c.facility_id == bindparam("fid"),
                            TABLE.c.ts_ms >= bindparam("since")))
    return conn.execute(stmt, {"fid": int(facility_id),
                               "since": int(since_ms)}).scalar_one()


def last_event_ts(
    conn: Connection | Session, facility_id: int, device_id: str | None, kind: str
) -> int | None:
    """The newest event of one kind for a device (so a detector reports it once)."""
    stmt = select(func.max(TABLE.c.ts_ms)).where(
        TABLE.c.facility_id == facility_id, TABLE.c.kind == kind)
    if device_id is not None:
        stmt = stmt.where(TABLE.c.device_id == device_id)
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)
