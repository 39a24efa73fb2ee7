"""The hot path's plain statements run, with the values a user would see, on
freshly migrated SQLite and PostgreSQL databases: a column the migrations do not
create (or a model renamed without its migration) fails here, not in production."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from energy_dash.db import driver_connection, get_engine, session_scope, statements
from energy_dash.db.models import READING_FIELDS, Base, Facility
from energy_dash.domain.facility import facility_info
from energy_dash.storage.devices import digest

TS = 1_750_000_000_000  # 2025-06-15T15:06:40Z
N = len(READING_FIELDS)


def _reading(facility: int, ts: int = TS, voltage: float = 231.0) -> tuple:
    values = dict.fromkeys(READING_FIELDS, 1.0)
    values.update(energy_produced=0.25, energy_consumed=0.5, voltage=voltage)
    return (facility, "probe", ts, *(values[f] for f in READING_FIELDS))


def test_every_hot_path_statement_is_exercised_here():
    assert set(statements.HOT_PATH) == {
        "INSERT_READING", "INSERT_READING_RETURNING", "INSERT_READING_UNLESS_ALERT",
        "EXISTING_READING_ID", "ADD_TO_ROLLUP", "OPEN_VOLTAGE_ALERT",
        "FACILITY_INFO", "KEY_LOOKUP", "STORED_READING_TIMES", "STORED_READINGS",
        "STORED_READING", "LOCK_FACILITY",
    }


def test_statements_name_only_model_columns():
    """Every ``word`` next to a comma or parenthesis in a column list is a column."""
    known = {c.name for t in Base.metadata.tables.values() for c in t.columns}
    lists = [
        statements.names(statements.READINGS, statements.READING_INSERT_COLUMNS),
        statements.names(statements.ROLLUPS, statements.ROLLUP_COLUMNS),
    ]
    for column_list in lists:
        assert {name.strip() for name in column_list.split(",")} <= known
    with pytest.raises(KeyError):
        statements.names(statements.READINGS, ("no_such_column",))


def test_hot_path_statements_run_on_a_migrated_database(database_url, facility):
    with driver_connection(database_url) as tx:
        info = facility_info(
            tuple(tx.execute(statements.FACILITY_INFO, (facility,)).fetchone())
        )
        assert (info.id, info.name, info.timezone, info.expected_interval_s) == (
            facility, "Test Facility", "Europe/Berlin", 60,
        )
        assert tx.execute(statements.KEY_LOOKUP, (digest("nope"),)).fetchone() is None
        assert tx.execute(
            statements.OPEN_VOLTAGE_ALERT, (facility,)
        ).fetchone() is None
        with tx.writing():
            inserted = tx.execute(
                statements.INSERT_READING_RETURNING, _reading(facility)
            ).fetchone()
            again = tx.execute(
                statements.INSERT_READING_RETURNING, _reading(facility)
            ).fetchone()
            existing = tx.execute(
                statements.EXISTING_READING_ID, _reading(facility)[:3]
            ).fetchone()
            guarded = tx.execute(
                statements.INSERT_READING_UNLESS_ALERT,
                (*_reading(facility, TS + 60_000), facility),
            ).fetchone()
            tx.execute(statements.INSERT_READING, _reading(facility, TS + 120_000))
            bucket = TS // statements.BUCKET_MS * statements.BUCKET_MS
            delta = [facility, bucket, 1, 0.25] + [1.0, 1] * N
            tx.execute(statements.ADD_TO_ROLLUP, tuple(delta))
            tx.execute(statements.ADD_TO_ROLLUP, tuple(delta))
    assert again is None  # the natural key: stored once
    assert existing[0] == inserted[0]
    assert guarded is not None and guarded[0] != inserted[0]
    with get_engine(database_url).connect() as conn:
        assert conn.execute(
            text("SELECT COUNT(*) FROM readings WHERE facility_id = :f"),
            {"f": facility},
        ).scalar_one() == 3
        rollup = conn.execute(
            text("SELECT samples, self_supplied, voltage_sum, voltage_n "
                 "FROM reading_rollups WHERE facility_id = :f AND bucket_ms = :b"),
            {"f": facility, "b": bucket},
        ).one()
    assert tuple(rollup) == (2, 0.5, 2.0, 2)


def test_bulk_statements_run(database_url, facility):
    with driver_connection(database_url) as tx:
        with tx.writing():
            tx.execute(statements.INSERT_READING_RETURNING, _reading(facility))
            tx.execute(statements.INSERT_READING, _reading(facility, TS + 60_000))
        times = tx.execute(
            statements.STORED_READING_TIMES, (facility, "probe", TS, TS + 30_000)
        ).fetchall()
        rows = tx.execute(
            statements.STORED_READINGS, (facility, "probe", TS, TS + 60_000)
        ).fetchall()
        one = tx.execute(
            statements.STORED_READING, (facility, "probe", TS + 60_000)
        ).fetchone()
    assert [t[0] for t in times] == [TS]
    assert [tuple(r) for r in rows] == [_reading(facility)[2:],
                                        _reading(facility, TS + 60_000)[2:]]
    assert tuple(one) == _reading(facility)[3:]
    if not database_url.startswith("postgresql"):
        return  # the facility lock and the staging statements are PostgreSQL's
    with driver_connection(database_url) as tx:
        space = statements.LOCK_NAMESPACE
        locked = tx.execute(statements.LOCK_FACILITY, (space, facility)).fetchall()
        gone = tx.execute(statements.LOCK_FACILITY, (space, facility + 99)).fetchall()
    assert (len(locked), gone) == (1, [])
    import numpy as np

    from energy_dash.domain.batch import ReadingColumns
    from energy_dash.storage.columnar import _rollup_buffer, copy_buffer

    values = {f: np.array([1.0, np.nan]) for f in READING_FIELDS}
    values.update(energy_produced=np.array([0.25, 0.5]),
                  energy_consumed=np.array([0.5, 0.25]),
                  current_load=np.array([10.0, 20.0]))
    batch = ReadingColumns(np.array([TS + 120_000, TS + 180_000]),
                           np.array(["probe", "probe"], dtype=object), values)
    with get_engine(database_url).begin() as conn:
        cursor = conn.connection.cursor()
        cursor.execute(statements.OPEN_STAGING)
        with cursor.copy(statements.COPY_TO_STAGING) as copy:
            copy.write(copy_buffer(np.array([1, 1], dtype=np.int32), batch))
        cursor.execute(statements.MERGE_STAGING, (facility, ["probe"]))
        assert cursor.rowcount == 2
        with cursor.copy(statements.COPY_TO_ROLLUP_STAGING) as copy:
            copy.write(_rollup_buffer(facility, batch))
        cursor.execute(statements.MERGE_ROLLUP_STAGING)
        row = conn.execute(
            text("SELECT samples, self_supplied, energy_consumed_sum, voltage_sum, "
                 "voltage_n FROM reading_rollups WHERE facility_id = :f"),
            {"f": facility},
        ).one()
        stored = conn.execute(text(
            "SELECT voltage FROM readings WHERE facility_id = :f AND ts_ms > :t "
            "ORDER BY ts_ms"), {"f": facility, "t": TS + 60_000}).scalars().all()
    assert tuple(row) == (2, 0.5, 0.75, 1.0, 1)
    assert stored == [1.0, None]


def test_rollup_staging_merge_adds_to_stored_buckets(postgres_url):
    """The client-summed deltas, copied into the rollup staging table, are added
    to the buckets already stored and create the missing ones."""
    import numpy as np

    from energy_dash.domain.batch import ReadingColumns
    from energy_dash.storage.columnar import _rollup_buffer

    with session_scope(postgres_url) as session:
        row = Facility(name="Rollups", timezone="UTC")
        session.add(row)
        session.flush()
        facility = row.id
    values = {f: np.array([np.nan, np.nan, np.nan]) for f in READING_FIELDS}
    values.update(energy_produced=np.array([0.25, 0.5, 1.0]),
                  energy_consumed=np.array([0.5, 0.25, 2.0]),
                  current_load=np.array([10.0, 20.0, 30.0]),
                  voltage=np.array([230.0, np.nan, 231.0]))
    bucket = TS // statements.BUCKET_MS * statements.BUCKET_MS
    batch = ReadingColumns(np.array([bucket, bucket + 60_000, bucket + 900_000]),
                           np.array(["probe"] * 3, dtype=object), values)
    with get_engine(postgres_url).begin() as conn:
        cursor = conn.connection.cursor()
        for _ in range(2):  # the second time adds to the buckets the first made
            cursor.execute(statements.OPEN_STAGING)
            with cursor.copy(statements.COPY_TO_ROLLUP_STAGING) as copy:
                copy.write(_rollup_buffer(facility, batch))
            cursor.execute(statements.MERGE_ROLLUP_STAGING)
        rows = conn.execute(
            text("SELECT bucket_ms, samples, self_supplied, energy_produced_sum, "
                 "energy_produced_n, voltage_sum, voltage_n, current_n "
                 "FROM reading_rollups WHERE facility_id = :f ORDER BY bucket_ms"),
            {"f": facility},
        ).all()
    assert [tuple(r) for r in rows] == [
        (bucket, 4, 1.0, 1.5, 4, 460.0, 2, 0),
        (bucket + 900_000, 2, 2.0, 2.0, 2, 462.0, 2, 0),
    ]


def test_built_statements_are_kept_per_shape_and_answer_with_their_parameters(
        database_url):
    """A built statement is made once per key; each shape answers exactly with
    the values bound at each call (two facilities, two column sets, one range)."""
    from energy_dash.storage import readings

    calls = []
    key = ("probe-shape", database_url)
    first = statements.built(key, lambda: calls.append(1) or object())
    assert statements.built(key, lambda: calls.append(1)) is first
    assert statements.built((*key, 2), lambda: object()) is not first
    assert calls == [1]
    with session_scope(database_url) as session:
        for name in ("A", "B"):
            session.add(Facility(name=name, timezone="UTC"))
        session.flush()
        ids = [f.id for f in session.query(Facility).order_by(Facility.id)]
        readings.store_many(session, facility_info_of(session, ids[0]), [
            {"device_id": "m", "ts_ms": TS + i * 60_000, "energy_consumed": 0.5,
             "energy_produced": 0.25, "voltage": 230.0 + i} for i in range(3)])
        readings.store_many(session, facility_info_of(session, ids[1]), [
            {"device_id": "n", "ts_ms": TS, "energy_consumed": 2.0,
             "energy_produced": 0.0}])
        one = readings.fetch_raw(session, [ids[0]], TS, TS + 120_000, ["voltage"])
        both = readings.fetch_raw(session, ids, TS, None, ["energy_consumed"])
        assert one == [(ids[0], TS, "m", 230.0), (ids[0], TS + 60_000, "m", 231.0)]
        assert [r[3] for r in both] == [0.5, 0.5, 0.5, 2.0]
        assert readings.fetch_raw(session, [ids[1]], None, None, ["voltage"]) == [
            (ids[1], TS, "n", None)]
        assert readings.newest_ts(session, ids[0]) == TS + 120_000
        assert readings.newest_ts(session, ids[1]) == TS
        session.rollback()


def facility_info_of(session, facility_id):
    from energy_dash.storage.facilities import load_info

    return load_info(session, facility_id)
