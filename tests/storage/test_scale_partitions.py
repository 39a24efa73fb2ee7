"""PostgreSQL readings by month: in-place conversion, hot path, retention."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from alembic import command
from scale_helpers import rebuild_rollups, seed_facilities
from sqlalchemy import text

from energy_dash import data
from energy_dash.config import Settings
from energy_dash.db import (
    alembic_config,
    driver_connection,
    get_engine,
    init_db,
    session_scope,
)
from energy_dash.db.models import Facility
from energy_dash.db.partitions import is_partitioned, list_partitions
from energy_dash.services.maintenance import maintain_partitions
from energy_dash.storage import readings as store

pytestmark = pytest.mark.postgres
HOUR_MS = 3_600_000
SEP_15 = int(datetime(2026, 9, 15, tzinfo=UTC).timestamp() * 1000)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


def _names(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return [p.name for p in list_partitions(conn)]


def _count(conn, table: str) -> int:
    return conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()


def test_populated_table_is_converted_in_place(postgres_url):
    engine = get_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    command.upgrade(alembic_config(postgres_url), "0002")
    with engine.begin() as conn:  # plain SQL: the models describe the head schema
        conn.execute(text(
            "INSERT INTO facilities (id, name, capacity_kw, timezone, nominal_voltage, "
            "expected_interval_s, voltage_warning_pct, voltage_critical_pct, "
            "voltage_hysteresis_pct, created_at) VALUES (1, 'Old site', 100, 'UTC', "
            "230, 3600, 10, 15, 1, now())"
        ))
        conn.execute(
            text(
                "INSERT INTO readings (facility_id, device_id, ts_ms, energy_produced, "
                "energy_consumed, current_load, voltage) VALUES "
                "(1, :device, :ts, 0.5, 1.5, 10, 230)"
            ),
            [{"device": d, "ts": SEP_15 + h * HOUR_MS}
             for h in range(24 * 60) for d in ("a", "b")],
        )
        rebuild_rollups(conn)
        before = conn.execute(
            text("SELECT id, device_id, ts_ms FROM readings ORDER BY id")
        ).all()

    init_db(postgres_url)

    with engine.connect() as conn:
        assert is_partitioned(conn)
        after = conn.execute(
            text("SELECT id, device_id, ts_ms FROM readings ORDER BY id")
        ).all()
        assert after == before
        assert len(after) == 2880
        assert _count(conn, "readings_y2026m10") == 2 * 24 * 31
        assert _count(conn, "readings_y2026m09") == 2 * 24 * 16
        assert _count(conn, "readings_default") == 0
        # one raw day reads one partition only
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT * FROM readings WHERE facility_id = 1 "
            f"AND ts_ms >= {_ms(2026, 10, 5)} AND ts_ms < {_ms(2026, 10, 6)}"
        )).scalars())
        assert "readings_y2026m10" in plan and "readings_y2026m09" not in plan
    assert {"readings_y2026m09", "readings_y2026m10", "readings_y2026m11",
            "readings_y2026m12", "readings_default"} <= set(_names(postgres_url))
    hourly = data.read_readings(
        1, "2026-10-01", "2026-10-03", resample="1h", database_url=postgres_url
    )
    assert len(hourly) == 48
    assert (hourly["energy_consumed"] == 3.0).all()  # two meters of 1.5 kWh

    # The sensor hot paths on the partitioned table: ON CONFLICT, ids, rollups.
    last_id = before[-1][0]
    with session_scope(postgres_url, write=True) as session:
        facility = session.get(Facility, 1)
        dup = {"device_id": "a", "ts_ms": SEP_15, "energy_produced": 9.0,
               "energy_consumed": 9.0, "current_load": 1.0}
        assert store.store_one(session, facility, dup)[:2] == (False, before[0][0])
        fresh = {**dup, "ts_ms": _ms(2026, 11, 20) + 30_000}
        created, new_id, _ = store.store_one(session, facility, fresh)
        assert created and new_id > last_id  # the id sequence carried over
        bulk = store.store_many(session, facility, [
            {**dup, "ts_ms": SEP_15 + HOUR_MS},
            {**dup, "ts_ms": _ms(2026, 11, 21)},
        ])
        assert (bulk.accepted, bulk.duplicates) == (1, 1)
    with driver_connection(postgres_url) as conn:
        quick = store.store_one_quick(
            conn, facility, {**dup, "ts_ms": _ms(2026, 11, 10) + 1, "voltage": 230.0}
        )
        assert quick[0] and quick[1] > new_id
        again = store.store_one_quick(
            conn, facility, {**dup, "ts_ms": _ms(2026, 11, 10) + 1, "voltage": 230.0}
        )
        assert again[:2] == (False, quick[1])
    day = data.read_readings(1, "2026-11-10", "2026-11-11", resample="1D",
                             database_url=postgres_url)
    # the rollup of 10 Nov: 48 seeded readings of 1.5 kWh plus the new 9 kWh
    assert day["energy_consumed"].iloc[0] == pytest.approx(48 * 1.5 + 9.0)


def test_retention_drops_whole_months_and_rollups_still_answer(postgres_url):
    from scale_helpers import truncate_all as _truncate

    _truncate(postgres_url)
    fid = seed_facilities(postgres_url, 1, hours=24 * 77, end_ms=_ms(2026, 12, 1))[0]
    # a stray 2015 reading (an old import) lands in the default partition
    with session_scope(postgres_url, write=True) as session:
        store.store_many(session, session.get(Facility, fid), [
            {"device_id": "old", "ts_ms": _ms(2015, 3, 2), "energy_produced": 0.0,
             "energy_consumed": 1.0, "current_load": 1.0},
        ])
    kept = Settings(database_url=postgres_url)
    assert maintain_partitions(kept, now=DEC_1)["dropped"] == []
    names = _names(postgres_url)
    assert {"readings_y2015m03", "readings_y2026m09", "readings_y2027m03"} <= set(names)
    with get_engine(postgres_url).connect() as conn:
        assert _count(conn, "readings_default") == 0
    daily_before = data.read_readings(fid, "2026-09-20", "2026-10-10", resample="1D",
                                      database_url=postgres_url)
    assert len(daily_before) == 20

    retention = Settings(database_url=postgres_url, raw_retention_days=45)
    result = maintain_partitions(retention, now=DEC_1)

    # cutoff 17 Oct: September, the months before it (init-db makes a year of
    # them) and 2015 end before it; October does not
    assert result["dropped"][0] == "readings_y2015m03"
    assert result["dropped"][-1] == "readings_y2026m09"
    assert all(name < "readings_y2026m10" for name in result["dropped"])
    left = _names(postgres_url)
    assert left[0] == "readings_y2026m10" and left[-1] == "readings_default"
    raw = data.read_readings(fid, "2026-09-20", "2026-10-10", database_url=postgres_url)
    assert raw.index.min() == pd.Timestamp("2026-10-01 00:59", tz="UTC")
    pd.testing.assert_frame_equal(
        data.read_readings(fid, "2026-09-20", "2026-10-10", resample="1D",
                           database_url=postgres_url),
        daily_before,
    )


def test_sqlite_keeps_one_table(sqlite_url):
    assert maintain_partitions(
        Settings(database_url=sqlite_url, raw_retention_days=1)
    ) == {"created": [], "dropped": []}
    with get_engine(sqlite_url).connect() as conn:
        assert is_partitioned(conn) is False
