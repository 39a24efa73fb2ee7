"""Reading storage: validated inserts (single and bulk) and time-bucketed reads.

Writes are one Core ``INSERT … ON CONFLICT DO NOTHING`` per request (executemany
for bulk); reads aggregate in SQL on integer epoch-millisecond buckets so a year of
minute data comes back as a few thousand rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from energy_dash.alerts import apply_voltage_alerts
from energy_dash.models import ENERGY_FIELDS, READING_FIELDS, Facility, Reading

TABLE = Reading.__table__
COLUMNS = {name: TABLE.c[name] for name in READING_FIELDS}


def dialect_name(conn: Connection | Session) -> str:
    if isinstance(conn, Session):
        return conn.get_bind().dialect.name
    return conn.dialect.name


def _insert(session: Session):
    module = postgresql if dialect_name(session) == "postgresql" else sqlite
    return module.insert(TABLE).on_conflict_do_nothing(
        index_elements=["facility_id", "device_id", "ts_ms"]
    )


@dataclass
class BulkResult:
    accepted: int = 0
    duplicates: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _db_row(facility_id: int, row: dict[str, Any]) -> dict[str, Any]:
    values = {name: row.get(name) for name in READING_FIELDS}
    values["facility_id"] = facility_id
    values["device_id"] = row["device_id"]
    values["ts_ms"] = row["ts_ms"]
    return values


def store_one(
    session: Session, facility: Facility, row: dict[str, Any]
) -> tuple[bool, int, list[dict[str, Any]]]:
    """Store one validated row; returns (created, id, alerts opened or escalated)."""
    stmt = _insert(session).returning(TABLE.c.id)
    new_id = session.execute(stmt, _db_row(facility.id, row)).scalar()
    if new_id is None:
        existing = session.execute(
            select(TABLE.c.id).where(
                TABLE.c.facility_id == facility.id,
                TABLE.c.device_id == row["device_id"],
                TABLE.c.ts_ms == row["ts_ms"],
            )
        ).scalar_one()
        return False, existing, []
    alerts = []
    if row.get("voltage") is not None:
        alerts = apply_voltage_alerts(
            session, facility, [(row["ts_ms"], row["voltage"], row["device_id"])]
        )
    return True, new_id, alerts


def store_many(
    session: Session, facility: Facility, rows: Sequence[dict[str, Any]]
) -> BulkResult:
    """Store validated rows (each with ``ts_ms`` and ``device_id``) in one statement.

    Duplicates, against the database or inside the batch, are counted, not stored;
    voltage alerts are evaluated over the new rows in timestamp order.
    """
    result = BulkResult()
    if not rows:
        return result
    stamps = [r["ts_ms"] for r in rows]
    devices = {r["device_id"] for r in rows}
    existing = set(
        session.execute(
            select(TABLE.c.device_id, TABLE.c.ts_ms).where(
                TABLE.c.facility_id == facility.id,
                TABLE.c.ts_ms >= min(stamps),
                TABLE.c.ts_ms <= max(stamps),
                TABLE.c.device_id.in_(devices),
            )
        ).all()
    )
    fresh: list[dict[str, Any]] = []
    for row in rows:
        key = (row["device_id"], row["ts_ms"])
        if key in existing:
            result.duplicates += 1
            continue
        existing.add(key)
        fresh.append(_db_row(facility.id, row))
    if fresh:
        outcome = session.execute(_insert(session), fresh)
        stored = outcome.rowcount if outcome.rowcount >= 0 else len(fresh)
        result.accepted = stored
        result.duplicates += len(fresh) - stored  # lost a race with a concurrent writer
        voltages = sorted(
            (r["ts_ms"], r["voltage"], r["device_id"])
            for r in fresh
            if r["voltage"] is not None
        )
        result.alerts = apply_voltage_alerts(session, facility, voltages)
    return result


def fetch_raw(
    conn: Connection | Session,
    facility_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    columns: Sequence[str],
) -> list[tuple]:
    """Rows of (facility_id, ts_ms, device_id, *columns) in time order."""
    stmt = select(
        TABLE.c.facility_id, TABLE.c.ts_ms, TABLE.c.device_id,
        *(COLUMNS[c] for c in columns),
    )
    stmt = _where(stmt, facility_ids, start_ms, end_ms)
    return conn.execute(stmt.order_by(TABLE.c.facility_id, TABLE.c.ts_ms)).all()


def fetch_buckets(
    conn: Connection | Session,
    facility_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    columns: Sequence[str],
    bucket_ms: int,
    offset_ms: int = 0,
    *,
    self_supplied: bool = False,
) -> list[tuple]:
    """Per bucket: (facility_id, bucket, rows, then sum and count of each column).

    ``bucket`` is ``(ts_ms + offset_ms) // bucket_ms``; energies are summed, the
    other columns come with their sums and counts so callers can combine buckets
    into weighted means. With ``self_supplied`` a last pair sums
    ``min(produced, consumed)`` per reading.
    """
    bucket = ((TABLE.c.ts_ms + offset_ms) // bucket_ms).label("bucket")
    parts = []
    for name in columns:
        parts.append(func.sum(COLUMNS[name]))
        parts.append(func.count(COLUMNS[name]))
    if self_supplied:
        parts.append(func.sum(_least(conn)))
        parts.append(func.count())
    stmt = select(TABLE.c.facility_id, bucket, func.count(), *parts)
    stmt = _where(stmt, facility_ids, start_ms, end_ms)
    stmt = stmt.group_by(TABLE.c.facility_id, bucket).order_by(
        TABLE.c.facility_id, bucket
    )
    return conn.execute(stmt).all()


def _least(conn):
    """min(produced, consumed) of one reading, in the dialect's spelling."""
    p, c = TABLE.c.energy_produced, TABLE.c.energy_consumed
    return func.min(p, c) if dialect_name(conn) == "sqlite" else func.least(p, c)


def _where(stmt, facility_ids, start_ms, end_ms):
    if facility_ids is not None:
        if len(facility_ids) == 1:
            stmt = stmt.where(TABLE.c.facility_id == facility_ids[0])
        else:
            stmt = stmt.where(TABLE.c.facility_id.in_(list(facility_ids)))
    if start_ms is not None:
        stmt = stmt.where(TABLE.c.ts_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(TABLE.c.ts_ms < end_ms)
    return stmt


def last_reading(conn: Connection | Session, facility_id: int):
    """The newest reading of a facility (all fields), or None."""
    return conn.execute(
        select(TABLE)
        .where(TABLE.c.facility_id == facility_id)
        .order_by(TABLE.c.ts_ms.desc())
        .limit(1)
    ).first()


def count_since(conn: Connection | Session, facility_id: int, since_ms: int) -> int:
    return conn.execute(
        select(func.count()).where(
            TABLE.c.facility_id == facility_id, TABLE.c.ts_ms >= since_ms
        )
    ).scalar_one()


def energy_totals(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> dict[str, float]:
    """kWh produced and consumed in [start, end), plus the self-supplied share."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(TABLE.c.energy_produced), 0.0),
            func.coalesce(func.sum(TABLE.c.energy_consumed), 0.0),
            func.coalesce(func.sum(_least(conn)), 0.0),
        ).where(
            TABLE.c.facility_id == facility_id,
            TABLE.c.ts_ms >= start_ms,
            TABLE.c.ts_ms < end_ms,
        )
    ).one()
    return {
        "produced": float(row[0]),
        "consumed": float(row[1]),
        "self_used": float(row[2]),
    }


__all__ = [
    "BulkResult",
    "ENERGY_FIELDS",
    "energy_totals",
    "fetch_buckets",
    "fetch_raw",
    "last_reading",
    "store_many",
    "store_one",
]
