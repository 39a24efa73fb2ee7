"""Reading storage: validated inserts (single and bulk) and time-bucketed reads.

Writes are one Core ``INSERT … ON CONFLICT DO NOTHING`` per request (executemany
for bulk); reads aggregate in SQL on integer epoch-millisecond buckets so a year of
minute data comes back as a few thousand rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Connection, and_, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from energy_dash.db import DriverTransaction, as_driver, statements
from energy_dash.db.models import (
    ENERGY_FIELDS,
    READING_FIELDS,
    Reading,
    ReadingRollup,
)
from energy_dash.db.statements import BUCKET_MS, LOCK_NAMESPACE
from energy_dash.domain import quality
from energy_dash.domain.alerts import Thresholds, classify
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.quality import QualityEvent
from energy_dash.storage.alerts import apply_voltage_alerts
from energy_dash.storage.quality import add_events
from energy_dash.storage.registers import needs_preparation, prepare_rows

TABLE = Reading.__table__
ROLLUP = ReadingRollup.__table__
COLUMNS = {name: TABLE.c[name] for name in READING_FIELDS}


def dialect_name(conn: Connection | Session) -> str:
    if isinstance(conn, Session):
        return conn.get_bind().dialect.name
    return conn.dialect.name


def lock_facility(session: Session, facility_id: int) -> None:
    """Serialise writers of one facility until the transaction ends.

    Duplicate checks, rollups and the alert state machine all read then write;
    one writer per facility at a time keeps them exact. SQLite already holds its
    write lock (``session_scope(write=True)`` begins IMMEDIATE). On PostgreSQL
    this is also the facility check of every reading written in the transaction
    (IntegrityError when the facility does not exist).
    """
    if dialect_name(session) == "postgresql":
        _lock_row(as_driver(session), facility_id)


def _lock_row(tx: DriverTransaction, facility_id: int) -> None:
    """PostgreSQL: writer lock and facility row lock; refuse a facility that is gone
    (what the per-row foreign key did before migration 0009)."""
    found = tx.execute(statements.LOCK_FACILITY, (LOCK_NAMESPACE, facility_id))
    if found.fetchone() is None:
        raise IntegrityError(statements.LOCK_FACILITY, (facility_id,),
                             LookupError(f"facility {facility_id} does not exist"))


@dataclass
class BulkResult:
    accepted: int = 0
    duplicates: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[QualityEvent] = field(default_factory=list)
    """Duplicates of stored readings that carry other values (when asked for)."""
    unlikely: list[QualityEvent] = field(default_factory=list)
    """Unlikely values of the new readings as booked (energies from registers and
    power included); the caller logs them in its transaction."""


def _values(facility_id: int, row: dict[str, Any]) -> tuple:
    get = row.get
    fields = (get(name) for name in READING_FIELDS)
    return (facility_id, row["device_id"], row["ts_ms"], *fields)


def _rollup_one(values: tuple) -> tuple:
    """The rollup delta of one row built by :func:`_values`."""
    produced, consumed = values[3], values[4]
    delta: list[Any] = [values[0], values[2] // BUCKET_MS * BUCKET_MS, 1,
                        min(produced, consumed)]
    for value in values[3:]:
        delta += [0.0, 0] if value is None else [value, 1]
    return tuple(delta)


def _insert_one(execute, values: tuple) -> tuple[bool, int]:
    """Insert one row and add it to its rollup; (created, id) — an existing id for a
    duplicate. ``execute(sql, params)`` runs ``%s``-style SQL and returns the cursor.
    """
    inserted = execute(statements.INSERT_READING_RETURNING, values).fetchone()
    if inserted is None:
        return False, execute(statements.EXISTING_READING_ID, values[:3]).fetchone()[0]
    execute(statements.ADD_TO_ROLLUP, _rollup_one(values))
    return True, inserted[0]


def store_one_quick(
    conn: DriverTransaction, facility: FacilityInfo, row: dict[str, Any]
) -> tuple[bool, int, list[dict[str, Any]]] | None:
    """:func:`store_one` for the common case, on a plain DB-API connection.

    When no alert can change (voltage absent, or inside its bands with no voltage
    alert open) the reading needs only its insert and rollup, so the ORM is
    skipped. Returns None, having written nothing, when the alert state machine
    has to run: the caller then uses :func:`store_one`.
    """
    if needs_preparation(row):
        return None  # registers or power to book: the full path
    voltage = row.get("voltage")
    if voltage is not None and classify(voltage, Thresholds.of(facility)) is not None:
        return None
    values = _values(facility.id, row)
    with conn.writing() as tx:
        if tx.dialect == "postgresql":
            _lock_row(tx, facility.id)
        if voltage is None:
            created, reading_id = _insert_one(tx.execute, values)
            return created, reading_id, []
        inserted = tx.execute(
            statements.INSERT_READING_UNLESS_ALERT, (*values, facility.id)
        ).fetchone()
        if inserted is None:
            existing = tx.execute(statements.EXISTING_READING_ID, values[:3]).fetchone()
            if existing is None:
                return None  # an open alert may close: the full path decides
            return False, existing[0], []
        tx.execute(statements.ADD_TO_ROLLUP, _rollup_one(values))
    return True, inserted[0], []


def conflict_with_stored(
    target: Session | DriverTransaction, facility_id: int, row: dict[str, Any]
) -> QualityEvent | None:
    """A ``conflict`` event when ``row`` (a duplicate: its device and time are
    stored) carries other values than the stored reading; None when they agree."""
    found = as_driver(target).execute(
        statements.STORED_READING, (facility_id, row["device_id"], row["ts_ms"])
    ).fetchone()
    if found is None:
        return None
    incoming = {name: row[name] for name in READING_FIELDS
                if row.get(name) is not None}
    return quality.conflict(row["ts_ms"], row["device_id"],
                            dict(zip(READING_FIELDS, found, strict=True)), incoming)


def store_one(
    session: Session, facility: FacilityInfo, row: dict[str, Any]
) -> tuple[bool, int, list[dict[str, Any]]]:
    """Store one validated row; returns (created, id, alerts opened or escalated).

    A row with a register or a power gets its interval energies first.
    """
    lock_facility(session, facility.id)
    if needs_preparation(row):
        prepared, events = prepare_rows(session, facility, [row])
        row = prepared[0]
        add_events(session, facility.id, events)
    execute = as_driver(session).execute  # plain DB-API statements in the session
    created, new_id = _insert_one(execute, _values(facility.id, row))
    if not created:
        return False, new_id, []
    alerts = []
    if row.get("voltage") is not None:
        alerts = apply_voltage_alerts(
            session, facility, [(row["ts_ms"], row["voltage"], row["device_id"])]
        )
    return True, new_id, alerts


def store_many(
    session: Session, facility: FacilityInfo, rows: Sequence[dict[str, Any]]
) -> BulkResult:
    """Store validated rows (each with ``ts_ms`` and ``device_id``) in one statement.

    Duplicates, against the database or inside the batch, are counted, not stored;
    rollups are updated and voltage alerts evaluated over the new rows in timestamp
    order. The work runs on columns (:mod:`energy_dash.storage.columnar`).
    """
    from energy_dash.domain.validation import ReadingColumns
    from energy_dash.storage.columnar import store_columns

    if not rows:
        return BulkResult()
    return store_columns(session, facility, ReadingColumns.from_rows(rows))


def fetch_raw(
    conn: Connection | Session,
    facility_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    columns: Sequence[str],
) -> list[tuple]:
    """Rows of (facility_id, ts_ms, device_id, *columns) in time order."""
    columns = tuple(columns)
    shape = _where_shape(facility_ids, start_ms, end_ms)

    def build():
        stmt = select(TABLE.c.facility_id, TABLE.c.ts_ms, TABLE.c.device_id,
                      *(COLUMNS[c] for c in columns))
        return _where_built(stmt, shape).order_by(TABLE.c.facility_id, TABLE.c.ts_ms)

    stmt = statements.built(("raw", columns, shape), build)
    return _plain(conn.execute(stmt, _where_params(facility_ids, start_ms, end_ms)))


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
    columns = tuple(columns)
    shape = _where_shape(facility_ids, start_ms, end_ms)
    dialect = dialect_name(conn) if self_supplied else None

    def build():
        bucket = ((TABLE.c.ts_ms + bindparam("offset", type_=BigInteger))
                  // bindparam("bucket_ms", type_=BigInteger)).label("bucket")
        parts = []
        for name in columns:
            parts.append(func.sum(COLUMNS[name]))
            parts.append(func.count(COLUMNS[name]))
        if self_supplied:
            parts.append(func.sum(_least(conn)))
            parts.append(func.count())
        stmt = select(TABLE.c.facility_id, bucket, func.count(), *parts)
        return _where_built(stmt, shape).group_by(
            TABLE.c.facility_id, bucket).order_by(TABLE.c.facility_id, bucket)

    stmt = statements.built(("buckets", columns, shape, dialect), build)
    params = _where_params(facility_ids, start_ms, end_ms)
    params.update(offset=int(offset_ms), bucket_ms=int(bucket_ms))
    return _plain(conn.execute(stmt, params))


def fetch_rollups(
    conn: Connection | Session,
    facility_id: int,
    start_ms: int | None,
    end_ms: int | None,
    columns: Sequence[str],
    *,
    self_supplied: bool = False,
) -> list[tuple]:
    """Rollup rows shaped like :func:`fetch_buckets` at 15 minutes (aligned bounds)."""
    columns = tuple(columns)
    shape = (start_ms is not None, end_ms is not None)

    def build():
        parts = []
        for name in columns:
            parts += [ROLLUP.c[f"{name}_sum"], ROLLUP.c[f"{name}_n"]]
        if self_supplied:
            parts += [ROLLUP.c.self_supplied, ROLLUP.c.samples]
        stmt = select(
            ROLLUP.c.facility_id, ROLLUP.c.bucket_ms // BUCKET_MS, ROLLUP.c.samples,
            *parts,
        ).where(ROLLUP.c.facility_id == bindparam("fid"))
        if shape[0]:
            stmt = stmt.where(ROLLUP.c.bucket_ms >= bindparam("lo"))
        if shape[1]:
            stmt = stmt.where(ROLLUP.c.bucket_ms < bindparam("hi"))
        return stmt.order_by(ROLLUP.c.bucket_ms)

    stmt = statements.built(("rollups", columns, self_supplied, shape), build)
    params = {"fid": int(facility_id)}
    if shape[0]:
        params["lo"] = int(start_ms)
    if shape[1]:
        params["hi"] = int(end_ms)
    return _plain(conn.execute(stmt, params))


def rollup_signature(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> tuple:
    """Rows, readings and energy sums of the rollups in ``[start, end)`` (aligned
    bounds): any reading written into the range changes it, so work derived from
    that range can be kept while it stays the same (one aggregate, no rows)."""
    stmt = statements.built(("rollup_signature",), lambda: select(
        func.count(), func.sum(ROLLUP.c.samples),
        func.sum(ROLLUP.c.energy_produced_sum),
        func.sum(ROLLUP.c.energy_produced_n),
        func.sum(ROLLUP.c.energy_consumed_sum),
        func.sum(ROLLUP.c.energy_consumed_n), func.sum(ROLLUP.c.self_supplied),
    ).where(
        ROLLUP.c.facility_id == bindparam("fid"),
        ROLLUP.c.bucket_ms >= bindparam("lo"), ROLLUP.c.bucket_ms < bindparam("hi"),
    ))
    row = conn.execute(stmt, {"fid": int(facility_id), "lo": int(start_ms),
                              "hi": int(end_ms)}).one()
    return tuple(row)


def _plain(result) -> list[tuple]:
    """Rows as plain tuples: numpy and pandas probe Row objects attribute by name."""
    return [tuple(row) for row in result]


def _least(conn):
    """min(produced, consumed) of one reading, in the dialect's spelling."""
    p, c = TABLE.c.energy_produced, TABLE.c.energy_consumed
    return func.min(p, c) if dialect_name(conn) == "sqlite" else func.least(p, c)


# "Newest reading" look-ups try the last RECENT_MS first: on PostgreSQL an open
# ``ORDER BY ts_ms DESC LIMIT 1`` probes the index of every monthly partition
# (about 1 ms with a year kept, three times per dashboard tick), a lower bound
# on ts_ms lets it skip all but the newest. The newest reading is almost always
# that recent; when it is not, the open query answers (the same row either way).
RECENT_MS = 2 * 86_400_000


def _newest(conn: Connection | Session, name: str, build: Callable[[], Any],
            params: dict[str, Any], since_ms: int):
    """First row of the statement ``build`` makes (newest first) from
    ``since_ms`` on, else over all time."""
    bounded = statements.built((name, "recent"), lambda: build().where(
        TABLE.c.ts_ms >= bindparam("since")))
    row = conn.execute(bounded, {**params, "since": int(since_ms)}).first()
    if row is not None:
        return row
    return conn.execute(statements.built((name, "open"), build), params).first()


def _where_shape(facility_ids, start_ms, end_ms) -> tuple:
    """What :func:`_where_built` filters on (part of a built statement's key)."""
    ids = None if facility_ids is None else (1 if len(facility_ids) == 1 else "in")
    return ids, start_ms is not None, end_ms is not None


def _where_built(stmt, shape: tuple):
    """:func:`_where` with bind parameters (values from :func:`_where_params`)."""
    ids, has_start, has_end = shape
    if ids == 1:
        stmt = stmt.where(TABLE.c.facility_id == bindparam("fid"))
    elif ids == "in":
        stmt = stmt.where(TABLE.c.facility_id.in_(bindparam("fids", expanding=True)))
    if has_start:
        stmt = stmt.where(TABLE.c.ts_ms >= bindparam("lo"))
    if has_end:
        stmt = stmt.where(TABLE.c.ts_ms < bindparam("hi"))
    return stmt


def _where_params(facility_ids, start_ms, end_ms) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if facility_ids is not None:
        if len(facility_ids) == 1:
            params["fid"] = int(facility_ids[0])
        else:
            params["fids"] = [int(f) for f in facility_ids]
    if start_ms is not None:
        params["lo"] = int(start_ms)
    if end_ms is not None:
        params["hi"] = int(end_ms)
    return params


def last_reading(conn: Connection | Session, facility_id: int):
    """The newest reading of a facility (all fields), or None."""
    return _newest(conn, "last_reading", lambda: (
        select(TABLE).where(TABLE.c.facility_id == bindparam("fid"))
        .order_by(TABLE.c.ts_ms.desc()).limit(1)
    ), {"fid": int(facility_id)}, _recent_ms())


def _recent_ms() -> int:
    return int(time.time() * 1000) - RECENT_MS


def count_since(conn: Connection | Session, facility_id: int, since_ms: int) -> int:
    return conn.execute(
        select(func.count()).where(
            TABLE.c.facility_id == facility_id, TABLE.c.ts_ms >= since_ms
        )
    ).scalar_one()


def covered_buckets(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> int:
    """How many 15-minute rollup buckets in ``[start_ms, end_ms)`` hold a reading:
    the measure of how complete a period's data is."""
    row = conn.execute(
        select(func.count()).select_from(ROLLUP).where(
            ROLLUP.c.facility_id == facility_id,
            ROLLUP.c.bucket_ms >= start_ms // BUCKET_MS * BUCKET_MS,
            ROLLUP.c.bucket_ms < end_ms,
            ROLLUP.c.samples > 0,
        )
    ).one()
    return int(row[0])


def energy_totals(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> dict[str, float]:
    """kWh produced, consumed and self-supplied in ``[start_ms, end_ms)``.

    Whole 15-minute buckets come from the rollups (a year is 35 040 rows, not
    525 600), the unaligned edges from raw readings.
    """
    first = -(-start_ms // BUCKET_MS) * BUCKET_MS
    last = end_ms // BUCKET_MS * BUCKET_MS
    if first >= last:
        return _raw_totals(conn, facility_id, start_ms, end_ms)
    sums = _energy_sums(conn, ("rollup_totals",), ROLLUP, ROLLUP.c.bucket_ms, (
        ROLLUP.c.energy_produced_sum, ROLLUP.c.energy_consumed_sum,
        ROLLUP.c.self_supplied), facility_id, first, last)
    for lo, hi in ((start_ms, first), (last, end_ms)):
        if hi > lo:
            edge = _raw_totals(conn, facility_id, lo, hi)
            for key in sums:
                sums[key] += edge[key]
    return sums


def _raw_totals(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> dict[str, float]:
    """kWh produced and consumed in [start, end), plus the self-supplied share."""
    return _energy_sums(conn, ("raw_totals", dialect_name(conn)), TABLE,
                        TABLE.c.ts_ms, (TABLE.c.energy_produced,
                                        TABLE.c.energy_consumed, _least(conn)),
                        facility_id, start_ms, end_ms)


def _energy_sums(conn, key: tuple, table, time_column, sums: tuple,
                 facility_id: int, start_ms: int, end_ms: int) -> dict[str, float]:
    """Produced, consumed and self-used sums of ``table`` in [start, end)."""
    stmt = statements.built(key, lambda: select(
        *(func.coalesce(func.sum(column), 0.0) for column in sums)
    ).where(
        table.c.facility_id == bindparam("fid"),
        time_column >= bindparam("lo"), time_column < bindparam("hi"),
    ))
    row = conn.execute(stmt, {"fid": int(facility_id), "lo": int(start_ms),
                              "hi": int(end_ms)}).one()
    return {"produced": float(row[0]), "consumed": float(row[1]),
            "self_used": float(row[2])}


def newest_ts(conn: Connection | Session, facility_id: int) -> int | None:
    """Timestamp of the facility's newest reading [UTC epoch ms], or None."""
    row = _newest(conn, "newest_ts", lambda: (
        select(TABLE.c.ts_ms).where(TABLE.c.facility_id == bindparam("fid"))
        .order_by(TABLE.c.ts_ms.desc()).limit(1)
    ), {"fid": int(facility_id)}, _recent_ms())
    return None if row is None else int(row[0])


def previous_ts(
    conn: Connection, facility_id: int, device: str, before_ms: int
) -> int | None:
    """The newest reading of ``device`` before ``before_ms`` [UTC epoch ms], or None."""
    row = _newest(conn, "previous_ts", lambda: (
        select(TABLE.c.ts_ms)
        .where(TABLE.c.facility_id == bindparam("fid"),
               TABLE.c.device_id == bindparam("device"),
               TABLE.c.ts_ms < bindparam("before"))
        .order_by(TABLE.c.ts_ms.desc()).limit(1)
    ), {"fid": int(facility_id), "device": device, "before": int(before_ms)},
        before_ms - RECENT_MS)
    return None if row is None else int(row[0])


def count_between(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> int:
    """How many readings lie in ``[start_ms, end_ms)``."""
    return conn.execute(
        select(func.count()).where(
            TABLE.c.facility_id == facility_id, TABLE.c.ts_ms >= start_ms,
            TABLE.c.ts_ms < end_ms,
        )
    ).scalar_one()


def energy_points(
    conn: Connection | Session, facility_id: int, since_ms: int, limit: int,
    until_ms: int | None = None,
) -> list[tuple]:
    """(ts_ms, device_id, energy_produced, energy_consumed) after ``since_ms``,
    oldest first, at most ``limit``."""
    stmt = select(
        TABLE.c.ts_ms, TABLE.c.device_id, TABLE.c.energy_produced,
        TABLE.c.energy_consumed,
    ).where(TABLE.c.facility_id == facility_id, TABLE.c.ts_ms > since_ms)
    if until_ms is not None:
        stmt = stmt.where(TABLE.c.ts_ms <= until_ms)
    return _plain(conn.execute(stmt.order_by(TABLE.c.ts_ms).limit(limit)))


def voltage_within(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int,
    low: float, high: float,
) -> tuple[int, int]:
    """(readings with a voltage, those inside ``[low, high]`` V) in ``[start, end)``."""
    inside = case(
        (and_(TABLE.c.voltage >= low, TABLE.c.voltage <= high), 1), else_=0
    )
    total, within = conn.execute(
        select(func.count(TABLE.c.voltage), func.coalesce(func.sum(inside), 0)).where(
            TABLE.c.facility_id == facility_id, TABLE.c.ts_ms >= start_ms,
            TABLE.c.ts_ms < end_ms, TABLE.c.voltage.is_not(None),
        )
    ).one()
    return int(total), int(within)


__all__ = [
    "conflict_with_stored",
    "count_between",
    "count_since",
    "energy_points",
    "newest_ts",
    "previous_ts",
    "voltage_within",
    "BulkResult",
    "ENERGY_FIELDS",
    "energy_totals",
    "fetch_buckets",
    "fetch_raw",
    "last_reading",
    "store_many",
    "store_one",
    "store_one_quick",
]
