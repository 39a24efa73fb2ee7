"""Bulk writes of validated readings as columns: no dict or ORM object per row.

A year of minute readings is half a million rows; at that size the Python work
per row (a dict, a tuple built field by field, a set probe) costs more than the
database insert itself. Here the batch stays in numpy arrays: duplicates are
found with one sort, rollups are summed with ``bincount``, the voltage bands
are checked vectorised, and the rows reach the driver in one call — SQLite's
``executemany`` over a ``zip`` of columns, PostgreSQL's binary ``COPY`` into a
temporary staging table (built with numpy, no per-row Python) and one
``INSERT … SELECT`` from it; the rollup deltas take a COPY and a merge of their
own.

Duplicates are filtered under the facility's write lock before the insert, so
every row that reaches the table is new and the rollups add exactly those rows.
"""

from __future__ import annotations

import logging
from itertools import repeat

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from energy_dash.db import as_driver, statements
from energy_dash.db.models import READING_FIELDS, Reading
from energy_dash.domain import quality
from energy_dash.domain.alerts import OUTAGE_SHARE, Thresholds
from energy_dash.domain.batch import unlikely_batch
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.validation import ReadingColumns
from energy_dash.storage.alerts import apply_voltage_alerts
from energy_dash.storage.quality import add_events
from energy_dash.storage.readings import BulkResult, dialect_name, lock_facility
from energy_dash.storage.registers import prepare_rows

logger = logging.getLogger(__name__)

TABLE = Reading.__table__
COPY_MIN_ROWS = 2_000  # below this PostgreSQL's executemany is as quick as COPY
def _python_column(column: np.ndarray) -> list:
    """Floats for the driver, ``None`` where the value is absent."""
    missing = np.isnan(column)
    if not missing.any():
        return column.tolist()
    if missing.all():
        return [None] * len(column)
    boxed = column.astype(object)
    boxed[missing] = None
    return boxed.tolist()


FEW_DEVICES = 16  # up to this many: one index range scan of times per device


def _stored(session: Session, facility_id: int, cols: ReadingColumns,
            codes: np.ndarray, uniques: np.ndarray) -> dict[str, np.ndarray]:
    """Stored times per device within the batch's time range."""
    lo, hi = int(cols.ts_ms.min()), int(cols.ts_ms.max())
    if len(uniques) <= FEW_DEVICES:
        driver = as_driver(session)
        out = {}
        for device in uniques.tolist():
            found = driver.execute(statements.STORED_READING_TIMES,
                                   (facility_id, device, lo, hi))
            times = found.fetchall()
            if times:
                out[device] = np.fromiter((t[0] for t in times), np.int64, len(times))
        return out
    by_device: dict[str, list[int]] = {}
    for device, ts in session.execute(
        select(TABLE.c.device_id, TABLE.c.ts_ms).where(
            TABLE.c.facility_id == facility_id, TABLE.c.ts_ms.between(lo, hi),
            TABLE.c.device_id.in_(uniques.tolist()),
        )
    ):
        by_device.setdefault(device, []).append(ts)
    return {d: np.asarray(t, dtype=np.int64) for d, t in by_device.items()}


def _duplicates(
    session: Session, facility_id: int, cols: ReadingColumns
) -> tuple[np.ndarray, np.ndarray]:
    """(already stored, repeated earlier in the batch): a row is new when neither
    is true; of repeats inside the batch the first wins."""
    codes, uniques = _codes(cols.device_id)
    seen = np.zeros(len(cols), dtype=bool)
    stored = _stored(session, facility_id, cols, codes, uniques)
    for code, device in enumerate(uniques.tolist()):
        if device in stored:
            mine = codes == code
            seen[mine] = np.isin(cols.ts_ms[mine], stored[device])
    return seen, _repeated(codes, cols.ts_ms)


def _codes(devices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of the devices; without hashing every row when one device
    sent the whole batch (a notebook's frame, a gateway's backfill)."""
    if len(devices) and (devices == devices[0]).all():
        return np.zeros(len(devices), dtype=np.intp), devices[:1].copy()
    codes, uniques = pd.factorize(devices)
    return codes, np.asarray(uniques, dtype=object)


def _repeated(codes: np.ndarray, ts_ms: np.ndarray) -> np.ndarray:
    """True for a (device, time) seen earlier in the batch. A batch in (device,
    time) order, as backfills are, has none: one vectorised comparison."""
    if len(ts_ms) > 1:
        same = codes[1:] == codes[:-1]
        if ((codes[1:] > codes[:-1]) | (same & (ts_ms[1:] > ts_ms[:-1]))).all():
            return np.zeros(len(ts_ms), dtype=bool)
    return pd.DataFrame({"d": codes, "t": ts_ms}).duplicated().to_numpy()


def find_conflicts(session: Session, facility_id: int,
              cols: ReadingColumns) -> list[QualityEvent]:
    """``conflict`` events of rows whose device and time are stored with other
    values (``cols``: rows known to be stored already; the first value is kept).

    Runs only when a batch holds duplicates, so new readings never pay for it.
    """
    if not len(cols):
        return []
    stored: dict[tuple[str, int], tuple] = {}
    lo, hi = int(cols.ts_ms.min()), int(cols.ts_ms.max())
    driver = as_driver(session)
    for device in dict.fromkeys(cols.device_id.tolist()):
        found = driver.execute(statements.STORED_READINGS,
                               (facility_id, device, lo, hi))
        for ts, *values in found.fetchall():
            stored[(device, ts)] = values
    incoming = {name: cols.column(name) for name in READING_FIELDS}
    events = []
    for k, (device, ts) in enumerate(
        zip(cols.device_id.tolist(), cols.ts_ms.tolist(), strict=True)
    ):
        old = stored.get((device, ts))
        if old is None:
            continue
        new = {name: incoming[name][k] for name in READING_FIELDS}
        new = {name: value for name, value in new.items() if value == value}
        found = quality.conflict(ts, device, dict(zip(READING_FIELDS, old,
                                                      strict=True)), new)
        if found is not None:
            events.append(found)
    return events


def _rollup_columns(cols: ReadingColumns) -> list[np.ndarray]:
    """The rollup delta per 15-minute bucket, summed in numpy: one array per
    rollup column after ``facility_id`` (bucket, samples, …)."""
    step = statements.BUCKET_MS
    starts = cols.ts_ms // step * step
    if len(starts) and (starts[1:] >= starts[:-1]).all():  # time order: no sort
        first = np.empty(len(starts), dtype=bool)
        first[0], first[1:] = True, starts[1:] != starts[:-1]
        buckets, inverse = starts[first], np.cumsum(first) - 1
    else:
        buckets, inverse = np.unique(starts, return_inverse=True)
    size = len(buckets)
    values = cols.values
    out = [
        buckets,
        np.bincount(inverse, minlength=size),
        np.bincount(inverse, np.minimum(values["energy_produced"],
                                        values["energy_consumed"]), minlength=size),
    ]
    for name in READING_FIELDS:
        column = values[name]
        present = ~np.isnan(column)
        out.append(np.bincount(inverse, np.where(present, column, 0.0),
                               minlength=size))
        out.append(np.bincount(inverse, present, minlength=size).astype(np.int64))
    return out


def _rollup_rows(facility_id: int, cols: ReadingColumns) -> list[tuple]:
    """:func:`_rollup_columns` as parameter rows of ``ADD_TO_ROLLUP`` (SQLite)."""
    columns = [column.tolist() for column in _rollup_columns(cols)]
    return list(zip(repeat(facility_id, len(columns[0])), *columns, strict=False))


def _insert_executemany(session: Session, facility_id: int, cols: ReadingColumns,
                        dialect: str) -> int:
    """Rows and rollups by DB-API executemany (SQLite; small PostgreSQL batches)."""
    rows = zip(repeat(facility_id), cols.device_id.tolist(), cols.ts_ms.tolist(),
               *(_python_column(cols.values[name]) for name in READING_FIELDS))
    raw = session.connection().connection.cursor()
    insert, upsert = statements.INSERT_READING, statements.ADD_TO_ROLLUP
    if dialect == "sqlite":
        insert, upsert = insert.replace("%s", "?"), upsert.replace("%s", "?")
    raw.executemany(insert, rows)
    count = raw.rowcount
    raw.executemany(upsert, _rollup_rows(facility_id, cols))
    return count if count is not None and count >= 0 else len(cols)


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
COPY_TRAILER = b"\xff\xff"
COPY_CHUNK_ROWS = 65_536
"""Rows per piece of a COPY: the server stores one piece while the next is built."""


def _binary_rows(fields: list[tuple[np.ndarray, str]]) -> bytes:
    """PostgreSQL binary COPY rows (no header) of fixed-width columns, built
    without a row loop: each ``(values, big-endian dtype)`` is one field."""
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for k, (_, dtype) in enumerate(fields):
        layout += [(f"length{k}", ">i4"), (f"field{k}", dtype)]
    rows = np.empty(len(fields[0][0]), dtype=layout)
    rows["count"] = len(fields)
    for k, (values, dtype) in enumerate(fields):
        rows[f"length{k}"] = np.dtype(dtype).itemsize
        rows[f"field{k}"] = values
    return rows.tobytes()


def _reading_rows(codes: np.ndarray, cols: ReadingColumns) -> bytes:
    """Staging rows: int4 device code, int8 time, float8 values (NaN = absent)."""
    return _binary_rows([(codes, ">i4"), (cols.ts_ms, ">i8"),
                         *((cols.values[name], ">f8") for name in READING_FIELDS)])


def copy_buffer(codes: np.ndarray, cols: ReadingColumns) -> bytes:
    """PostgreSQL binary COPY data for the staging table, in one piece.

    Every field is fixed width (int4 device code, int8 time, float8 values; an
    absent value is NaN), so the whole batch is one numpy structured array.
    """
    return COPY_HEADER + _reading_rows(codes, cols) + COPY_TRAILER


def _rollup_buffer(facility_id: int, cols: ReadingColumns) -> bytes:
    """Binary COPY data of the batch's rollup deltas for the rollup staging table."""
    columns = _rollup_columns(cols)
    fields = [(np.full(len(columns[0]), facility_id), ">i4")]
    for name, values in zip(statements.ROLLUP_COLUMNS[1:], columns, strict=True):
        if values.dtype.kind == "f":
            fields.append((values, ">f8"))
        else:
            fields.append((values, ">i8" if name == "bucket_ms" else ">i4"))
    return COPY_HEADER + _binary_rows(fields) + COPY_TRAILER


def _insert_copy(session: Session, facility_id: int, cols: ReadingColumns) -> int:
    """PostgreSQL: binary COPY into a staging table, then one merge of each kind.

    The rows are sent in pieces, each built while the server stores the last;
    the rollup deltas are summed here and merged from a staging table of their
    own (one row per bucket instead of an aggregate over every staged row).
    Statements without parameters share round trips: eight in all (each COPY
    takes two).
    """
    codes, uniques = _codes(cols.device_id)
    codes = codes.astype(np.int32) + 1  # SQL arrays start at 1
    cursor = session.connection().connection.cursor()
    cursor.execute(statements.OPEN_STAGING)
    with cursor.copy(statements.COPY_TO_STAGING) as copy:
        copy.write(COPY_HEADER)
        for start in range(0, len(cols), COPY_CHUNK_ROWS):
            piece = slice(start, start + COPY_CHUNK_ROWS)
            copy.write(_reading_rows(codes[piece], cols.take(piece)))
        copy.write(COPY_TRAILER)
    with cursor.copy(statements.COPY_TO_ROLLUP_STAGING) as copy:
        copy.write(_rollup_buffer(facility_id, cols))
    merge = (facility_id, [str(d) for d in uniques])
    # Every staged row is new (duplicates were dropped under the facility's lock),
    # so the plain insert runs; should a writer that bypasses the lock have stored
    # one meanwhile, the savepoint turns that into the ON CONFLICT merge.
    cursor.execute("SAVEPOINT staging_merge")
    try:
        cursor.execute(statements.MERGE_STAGING_NEW, merge)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT staging_merge")
        cursor.execute(statements.MERGE_STAGING, merge)
    count = cursor.rowcount
    cursor.execute("RELEASE SAVEPOINT staging_merge; "
                   + statements.MERGE_ROLLUP_STAGING)
    return count if count is not None and count >= 0 else len(cols)


def all_normal(voltages: np.ndarray, t: Thresholds) -> bool:
    """``classify`` (:mod:`energy_dash.domain.alerts`) is None for every voltage.

    The same comparisons in the same float arithmetic, on whole arrays.
    """
    with np.errstate(invalid="ignore"):
        deviation = (voltages - t.nominal) / t.nominal * 100
        outside = (
            (voltages < t.nominal * OUTAGE_SHARE)
            | (deviation > t.critical_pct) | (deviation > t.warning_pct)
            | (deviation < -t.critical_pct) | (deviation < -t.warning_pct)
        )
    return not outside.any()


def _alerts(session: Session, facility: FacilityInfo, cols: ReadingColumns) -> list:
    """Voltage alerts over the new rows; skipped when nothing can open or close."""
    voltage = cols.values["voltage"]
    present = ~np.isnan(voltage)
    if not present.any():
        return []
    if all_normal(voltage[present], Thresholds.of(facility)):
        found = as_driver(session).execute(statements.OPEN_VOLTAGE_ALERT,
                                           (facility.id,))
        if found.fetchone() is None:
            return []  # normal voltage and nothing open: the state machine is idle
    readings = sorted(zip(cols.ts_ms[present].tolist(), voltage[present].tolist(),
                          cols.device_id[present].tolist(), strict=True))
    return apply_voltage_alerts(session, facility, readings)


def store_columns(session: Session, facility: FacilityInfo,
                  cols: ReadingColumns, *, conflicts: bool = False) -> BulkResult:
    """Store validated columns: duplicates counted, rollups and alerts kept current.

    The same contract as :func:`energy_dash.storage.readings.store_many`. Rows
    with a register or a power (or without their energies or load) go through
    :func:`energy_dash.storage.registers.prepare_rows` first, under the lock, and
    its data-quality events are logged; the others stay columns. With
    ``conflicts`` the result lists duplicates of stored rows that carry other
    values (the caller logs them, as the sensor API and the notebook writer do).
    ``unlikely`` lists the unlikely values of the rows inserted, as booked: only
    here are the energies from registers and power known, and duplicates (a
    redelivery, a re-import) known not to be new.
    """
    result = BulkResult()
    if not len(cols):
        return result
    lock_facility(session, facility.id)
    if cols.needs_preparation():
        rows, events = prepare_rows(session, facility, cols.to_rows())
        add_events(session, facility.id, events)
        cols = ReadingColumns.from_rows(rows, READING_FIELDS)
    seen, repeated = _duplicates(session, facility.id, cols)
    dup = seen | repeated
    result.duplicates = int(dup.sum())
    if conflicts and seen.any():
        result.conflicts = find_conflicts(session, facility.id,
                                          cols.take(np.flatnonzero(seen)))
    if result.duplicates == len(cols):
        return result
    fresh = cols if not result.duplicates else cols.take(np.flatnonzero(~dup))
    dialect = dialect_name(session)
    if dialect == "postgresql" and len(fresh) >= COPY_MIN_ROWS:
        result.accepted = _insert_copy(session, facility.id, fresh)
    else:
        result.accepted = _insert_executemany(session, facility.id, fresh, dialect)
    result.alerts = _alerts(session, facility, fresh)
    result.unlikely = unlikely_batch(fresh, facility)
    return result


__all__ = ["ReadingColumns", "all_normal", "copy_buffer", "find_conflicts",
           "store_columns"]
