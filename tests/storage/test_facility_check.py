"""Readings never outlive their facility, with or without a per-row foreign key.

PostgreSQL has no foreign key from readings to facilities since migration 0009:
writers lock the facility row once per transaction and a delete trigger removes
the facility's readings. SQLite keeps its foreign key. Both engines.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from psycopg.errors import LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from energy_dash import data
from energy_dash.db import ROW_REFUSALS, get_engine, session_scope
from energy_dash.db.models import Facility
from energy_dash.domain.validation import INPUT_FIELDS, ReadingColumns
from energy_dash.storage.columnar import COPY_MIN_ROWS, store_columns
from energy_dash.storage.facilities import load_info


def minutes(periods: int, start: str = "2025-03-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=periods, freq="1min", tz="UTC")
    return pd.DataFrame({"energy_produced": 0.01, "energy_consumed": 0.02,
                         "current_load": 30.0, "voltage": 230.0}, index=index)


def columns(periods: int, start_ms: int = 1_740_787_200_000) -> ReadingColumns:
    values = {name: np.full(periods, np.nan) for name in INPUT_FIELDS}
    values.update(energy_produced=np.full(periods, 0.01),
                  energy_consumed=np.full(periods, 0.02),
                  current_load=np.full(periods, 30.0))
    devices = np.empty(periods, dtype=object)
    devices[:] = "probe"
    return ReadingColumns(start_ms + np.arange(periods, dtype=np.int64) * 60_000,
                          devices, values)


def counts(url: str, facility: int) -> tuple[int, int]:
    with get_engine(url).connect() as conn:
        readings = conn.execute(text(
            "SELECT COUNT(*) FROM readings WHERE facility_id = :f"), {"f": facility}
        ).scalar_one()
        rollups = conn.execute(text(
            "SELECT COUNT(*) FROM reading_rollups WHERE facility_id = :f"),
            {"f": facility}).scalar_one()
    return readings, rollups


def delete_facility(url: str, facility: int, *, lock_timeout_ms: int = 0) -> None:
    with get_engine(url).begin() as conn:
        if lock_timeout_ms and conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
        conn.execute(text("DELETE FROM facilities WHERE id = :f"), {"f": facility})


@pytest.fixture
def other_facility(database_url, facility) -> int:
    with session_scope(database_url) as session:
        row = Facility(name="Other", timezone="UTC")
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize("periods", [COPY_MIN_ROWS + 500, 30], ids=["copy", "rows"])
def test_deleting_a_facility_deletes_its_readings_only(
    database_url, facility, other_facility, periods
):
    for fid in (facility, other_facility):
        result = data.write_readings(minutes(periods), fid, database_url=database_url)
        assert result["accepted"] == periods
    assert counts(database_url, facility) == (periods, -(-periods // 15))
    delete_facility(database_url, facility)
    assert counts(database_url, facility) == (0, 0)
    assert counts(database_url, other_facility) == (periods, -(-periods // 15))


@pytest.mark.parametrize("periods", [COPY_MIN_ROWS + 500, 30], ids=["copy", "rows"])
def test_readings_of_a_facility_that_does_not_exist_are_refused(
    database_url, facility, periods
):
    with session_scope(database_url) as session:
        gone = load_info(session, facility)
    ghost = replace(gone, id=facility + 1000)
    with pytest.raises(ROW_REFUSALS):  # what the bulk path isolates row by row
        with session_scope(database_url, write=True) as session:
            store_columns(session, ghost, columns(periods))
    assert counts(database_url, facility + 1000) == (0, 0)


POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
"""SQLite keeps its foreign key and has one writer at a time (no interleaving)."""


@POSTGRESQL
def test_postgresql_inserts_run_no_per_row_foreign_key_check(database_url, facility):
    with get_engine(database_url).connect() as conn:
        keys = conn.execute(text(
            "SELECT COUNT(*) FROM pg_constraint c JOIN pg_class t "
            "ON t.oid = c.conrelid WHERE c.contype = 'f' "
            "AND (t.relname = 'readings' OR t.relname LIKE 'readings\\_%')"
        )).scalar_one()
        triggers = conn.execute(text(
            "SELECT COUNT(*) FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid "
            "WHERE t.relname = 'readings' OR t.relname LIKE 'readings\\_%'"
        )).scalar_one()
    assert (keys, triggers) == (0, 0)


@POSTGRESQL
def test_a_delete_waits_for_a_writer_and_then_removes_what_it_wrote(
    database_url, facility
):
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        result = store_columns(session, info, columns(COPY_MIN_ROWS + 1))
        assert result.accepted == COPY_MIN_ROWS + 1
        with pytest.raises(OperationalError):  # the writer holds the row lock
            delete_facility(database_url, facility, lock_timeout_ms=300)
    delete_facility(database_url, facility)
    assert counts(database_url, facility) == (0, 0)


@POSTGRESQL
def test_a_writer_after_a_pending_delete_stores_nothing(database_url, facility):
    with session_scope(database_url) as session:
        info = load_info(session, facility)
    engine = get_engine(database_url)
    deleter = engine.connect()
    try:
        pending = deleter.begin()
        deleter.execute(text("DELETE FROM facilities WHERE id = :f"), {"f": facility})
        with pytest.raises(LockNotAvailable):  # waits for the delete to finish
            with session_scope(database_url, write=True) as session:
                session.execute(text("SET LOCAL lock_timeout = 300"))
                store_columns(session, info, columns(10))
        pending.commit()
    finally:
        deleter.close()
    with pytest.raises(IntegrityError):
        with session_scope(database_url, write=True) as session:
            store_columns(session, info, columns(10))
    assert counts(database_url, facility) == (0, 0)


@POSTGRESQL
def test_the_plain_merge_falls_back_when_a_row_is_stored_meanwhile(
    database_url, facility
):
    """The COPY merge inserts without ON CONFLICT (rows are checked new under the
    lock); a row stored by a writer that bypassed the lock still counts once."""
    from energy_dash.storage.columnar import _insert_copy

    batch = columns(COPY_MIN_ROWS + 10)
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        store_columns(session, info, batch.take(np.array([5])))
    with session_scope(database_url, write=True) as session:
        assert _insert_copy(session, facility, batch) == COPY_MIN_ROWS + 9
    assert counts(database_url, facility)[0] == COPY_MIN_ROWS + 10
