"""The sensor hot path's plain DB-API statements, built from the models.

A SQLAlchemy statement costs ~50 µs to build and compile per request; these are
built once at import, from the tables and columns of :mod:`energy_dash.db.models`
(so a renamed or dropped column changes or breaks them at import, never silently),
and run through :class:`energy_dash.db.engine.DriverTransaction`, which takes
``%s`` placeholders on either engine. ``tests/db/test_statements.py`` runs each of
them on freshly migrated SQLite and PostgreSQL databases.

:func:`built` keeps SQLAlchemy statements the live pages run on every tick, built
once per shape with bind parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Table, UniqueConstraint
from sqlalchemy.dialects import postgresql

from energy_dash.db.models import (
    READING_FIELDS,
    Alert,
    ApiKey,
    Facility,
    Reading,
    ReadingRollup,
)
from energy_dash.domain.alerts import VOLTAGE_KINDS
from energy_dash.domain.facility import FACILITY_INFO_FIELDS

READINGS: Table = Reading.__table__
ROLLUPS: Table = ReadingRollup.__table__
ALERTS: Table = Alert.__table__
API_KEYS: Table = ApiKey.__table__
FACILITIES: Table = Facility.__table__

BUCKET_MS = 900_000
"""Rollup granularity: 15 minutes."""

LOCK_NAMESPACE = 7301
"""``pg_advisory_xact_lock(namespace, facility_id)``: one writer per facility."""


def names(table: Table, columns: tuple[str, ...]) -> str:
    """``a, b, c`` — each checked against the table (KeyError for a stray name)."""
    return ", ".join(table.c[name].name for name in columns)


def marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def sql_type(column: Column) -> str:
    """The column's type as PostgreSQL spells it (SQLite accepts the same names)."""
    return column.type.compile(dialect=postgresql.dialect())


def _conflict(table: Table) -> str:
    """``ON CONFLICT (…)`` on the table's natural key (unique constraint, else the
    primary key)."""
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            return f"ON CONFLICT ({', '.join(c.name for c in constraint.columns)})"
    return f"ON CONFLICT ({', '.join(c.name for c in table.primary_key.columns)})"


READING_INSERT_COLUMNS = ("facility_id", "device_id", "ts_ms", *READING_FIELDS)
ROLLUP_COLUMNS = (
    "facility_id", "bucket_ms", "samples", "self_supplied",
    *(f"{f}_{k}" for f in READING_FIELDS for k in ("sum", "n")),
)
ROLLUP_SUMS = ROLLUP_COLUMNS[2:]

LOCK_FACILITY = (
    f"SELECT pg_advisory_xact_lock(%s, {FACILITIES.c.id.name}) FROM {FACILITIES.name} "
    f"WHERE {FACILITIES.c.id.name} = %s FOR KEY SHARE"
)
"""PostgreSQL: the facility's writer lock and a key-share lock of its row, in one
round trip (params: namespace, facility_id); no row when the facility is gone.
The row lock is what the dropped foreign key took per inserted row (migration
0009): a delete of the facility waits for this transaction, then removes what
it wrote."""

INSERT_READING = (
    f"INSERT INTO {READINGS.name} ({names(READINGS, READING_INSERT_COLUMNS)}) "
    f"VALUES ({marks(len(READING_INSERT_COLUMNS))}) {_conflict(READINGS)} DO NOTHING"
)
"""One reading (executemany for bulk); a duplicate of the natural key is skipped."""

INSERT_READING_RETURNING = f"{INSERT_READING} RETURNING {READINGS.c.id.name}"

INSERT_READINGS_ARRAYS = (
    f"INSERT INTO {READINGS.name} ({names(READINGS, READING_INSERT_COLUMNS)}) "
    "SELECT * FROM unnest("
    + ", ".join(
        f"%s::{sql_type(READINGS.c[name])}[]" for name in READING_INSERT_COLUMNS
    )
    + f") {_conflict(READINGS)} DO NOTHING"
)
"""PostgreSQL only: a whole batch as one statement over column arrays (params: one
list per column). An executemany pays executor start-up per row, which on the
partitioned readings table (routing, opening the partition and its indexes)
doubles the cost of a bulk insert."""

OPEN_VOLTAGE_ALERT = (
    f"SELECT {ALERTS.c.id.name} FROM {ALERTS.name} "
    f"WHERE {ALERTS.c.facility_id.name} = %s AND {ALERTS.c.ended_at.name} IS NULL "
    f"AND {ALERTS.c.kind.name} IN ({', '.join(repr(k) for k in VOLTAGE_KINDS)}) "
    "LIMIT 1"
)
"""The id of the facility's open voltage alert, if any (params: facility_id)."""

_CASTS = ", ".join(
    f"CAST(%s AS {sql_type(READINGS.c[name])})" for name in READING_INSERT_COLUMNS
)
INSERT_READING_UNLESS_ALERT = (
    f"INSERT INTO {READINGS.name} ({names(READINGS, READING_INSERT_COLUMNS)}) "
    f"SELECT {_CASTS} "
    f"WHERE NOT EXISTS ({OPEN_VOLTAGE_ALERT.replace('SELECT id', 'SELECT 1', 1)}) "
    f"{_conflict(READINGS)} DO NOTHING RETURNING {READINGS.c.id.name}"
)
"""The insert, skipped while a voltage alert of the facility is open (then the
reading may close it and the full path with the state machine must run).
Params: the reading's values, then facility_id."""

EXISTING_READING_ID = (
    f"SELECT {READINGS.c.id.name} FROM {READINGS.name} "
    f"WHERE {READINGS.c.facility_id.name} = %s AND {READINGS.c.device_id.name} = %s "
    f"AND {READINGS.c.ts_ms.name} = %s"
)

ADD_TO_ROLLUP = (
    f"INSERT INTO {ROLLUPS.name} ({names(ROLLUPS, ROLLUP_COLUMNS)}) "
    f"VALUES ({marks(len(ROLLUP_COLUMNS))}) {_conflict(ROLLUPS)} DO UPDATE SET "
    + ", ".join(f"{c} = {ROLLUPS.name}.{c} + excluded.{c}"
                for c in (ROLLUPS.c[n].name for n in ROLLUP_SUMS))
)
"""Add one reading's delta (see ``storage.readings.rollup_delta``) to its bucket."""


STORED_READING_TIMES = (
    f"SELECT {READINGS.c.ts_ms.name} FROM {READINGS.name} "
    f"WHERE {READINGS.c.facility_id.name} = %s AND {READINGS.c.device_id.name} = %s "
    f"AND {READINGS.c.ts_ms.name} BETWEEN %s AND %s"
)
"""Times already stored for one device in a range (bulk duplicate check)."""

STORED_READINGS = (
    f"SELECT {names(READINGS, ('ts_ms', *READING_FIELDS))} FROM {READINGS.name} "
    f"WHERE {READINGS.c.facility_id.name} = %s AND {READINGS.c.device_id.name} = %s "
    f"AND {READINGS.c.ts_ms.name} BETWEEN %s AND %s"
)
"""Stored values of one device in a range (conflicting duplicates; params as
``STORED_READING_TIMES``)."""

STORED_READING = (
    f"SELECT {names(READINGS, READING_FIELDS)} FROM {READINGS.name} "
    f"WHERE {READINGS.c.facility_id.name} = %s AND {READINGS.c.device_id.name} = %s "
    f"AND {READINGS.c.ts_ms.name} = %s"
)
"""The stored values of one reading by its natural key (a single duplicate)."""

# Bulk writes on PostgreSQL (storage.columnar): a binary COPY into a temporary
# staging table, then one merge into readings; the rollup deltas, summed by the
# client, take a staging table and a merge of their own. Absent
# values travel as NaN (validated values are finite) and the device as an index
# into an array parameter, so every COPY field has a fixed width.
STAGING = "readings_staging"
STAGING_FIELDS = ("device_code", "ts_ms", *READING_FIELDS)
CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (device_code INTEGER, "
    f"ts_ms {sql_type(READINGS.c.ts_ms)}, "
    + ", ".join(f"{name} {sql_type(READINGS.c[name])}" for name in READING_FIELDS)
    + ") ON COMMIT DELETE ROWS"
)
EMPTY_STAGING = f"TRUNCATE {STAGING}"
COPY_TO_STAGING = (
    f"COPY {STAGING} ({', '.join(STAGING_FIELDS)}) FROM STDIN (FORMAT BINARY)"
)
MERGE_STAGING = (
    f"INSERT INTO {READINGS.name} ({names(READINGS, READING_INSERT_COLUMNS)}) "
    f"SELECT %s, (%s::{sql_type(READINGS.c.device_id)}[])[device_code], ts_ms, "
    + ", ".join(f"NULLIF({name}, 'NaN')" for name in READING_FIELDS)
    + f" FROM {STAGING} {_conflict(READINGS)} DO NOTHING"
)
"""Params: facility_id, the batch's device names (device_code 1 is the first)."""
MERGE_STAGING_NEW = MERGE_STAGING.split(f" {_conflict(READINGS)}")[0]
"""``MERGE_STAGING`` for rows known to be new (checked under the facility's lock):
a plain insert skips the speculative insertion of ``ON CONFLICT``, which costs
about 40 % of the merge of a year of minute rows."""
ROLLUP_STAGING = "rollups_staging"
CREATE_ROLLUP_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {ROLLUP_STAGING} ("
    + ", ".join(f"{name} {sql_type(ROLLUPS.c[name])}" for name in ROLLUP_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
COPY_TO_ROLLUP_STAGING = (
    f"COPY {ROLLUP_STAGING} ({names(ROLLUPS, ROLLUP_COLUMNS)}) "
    "FROM STDIN (FORMAT BINARY)"
)
MERGE_ROLLUP_STAGING = (
    f"INSERT INTO {ROLLUPS.name} ({names(ROLLUPS, ROLLUP_COLUMNS)}) "
    f"SELECT {names(ROLLUPS, ROLLUP_COLUMNS)} FROM {ROLLUP_STAGING} "
    f"{_conflict(ROLLUPS)} DO UPDATE SET "
    + ", ".join(f"{c} = {ROLLUPS.name}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
)
"""The deltas per bucket, summed by the client in numpy (``storage.columnar``): a
year of minute rows is 35 040 buckets, and merging those costs a fifth of
aggregating the 525 600 staged rows on the server. No parameters, so it can
share a round trip with other statements."""
OPEN_STAGING = (
    f"{CREATE_STAGING}; {CREATE_ROLLUP_STAGING}; TRUNCATE {STAGING}, {ROLLUP_STAGING}"
)
"""Both staging tables, created once per connection and empty, in one round trip
(a batch of 2 500 line-protocol readings pays per statement, not per row)."""


FACILITY_INFO = (
    f"SELECT {names(FACILITIES, FACILITY_INFO_FIELDS)} FROM {FACILITIES.name} "
    f"WHERE {FACILITIES.c.id.name} = %s"
)
"""The columns of a :class:`~energy_dash.domain.facility.FacilityInfo`, in order."""

KEY_LOOKUP = (
    f"SELECT {names(API_KEYS, ('id', 'facility_id', 'name', 'key_hash'))} "
    f"FROM {API_KEYS.name} WHERE {API_KEYS.c.key_hash.name} = %s "
    f"AND {API_KEYS.c.revoked_at.name} IS NULL"
)
"""An active device key by its digest (params: the SHA-256 hex digest)."""

HOT_PATH = {
    "INSERT_READING": INSERT_READING,
    "INSERT_READING_RETURNING": INSERT_READING_RETURNING,
    "INSERT_READING_UNLESS_ALERT": INSERT_READING_UNLESS_ALERT,
    "EXISTING_READING_ID": EXISTING_READING_ID,
    "ADD_TO_ROLLUP": ADD_TO_ROLLUP,
    "STORED_READING_TIMES": STORED_READING_TIMES,
    "STORED_READINGS": STORED_READINGS,
    "STORED_READING": STORED_READING,
    "LOCK_FACILITY": LOCK_FACILITY,
    "OPEN_VOLTAGE_ALERT": OPEN_VOLTAGE_ALERT,
    "FACILITY_INFO": FACILITY_INFO,
    "KEY_LOOKUP": KEY_LOOKUP,
}
"""Every ``%s``-style statement above, by name (the statements test runs them all)."""


# Statements the live ticks run several times a second: constructing a select()
# costs about 350 µs of CPU per call (as much as PostgreSQL needs to run it); a
# built one with bind parameters is also cache-keyed once (SQLAlchemy memoises
# the key on the statement), leaving only the execution.
_BUILT: dict[tuple, Any] = {}


def built(key: tuple, build: Callable[[], Any]) -> Any:
    """The statement ``build()`` makes, built once per ``key`` (its shape: which
    filters and columns; values go in as bind parameters)."""
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = _BUILT[key] = build()
    return stmt
