"""Columnar bulk writes: exact rows, rollups, duplicates and alerts on both engines.

Batches of 3 000 rows take PostgreSQL's COPY path (staging table, one merge);
smaller ones take executemany; both must store exactly what the old row-by-row
path stored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from energy_dash import data
from energy_dash.db import get_engine, session_scope
from energy_dash.domain.alerts import Thresholds, classify
from energy_dash.domain.validation import ReadingColumns
from energy_dash.storage.columnar import COPY_MIN_ROWS, all_normal, store_columns
from energy_dash.storage.facilities import load_info

ROWS = 3_000
assert ROWS >= COPY_MIN_ROWS


def frame(periods: int, start: str = "2025-03-01", **extra) -> pd.DataFrame:
    index = pd.date_range(start, periods=periods, freq="1min", tz="UTC")
    k = np.arange(periods)
    columns = {
        "energy_produced": (k % 7) * 0.001,
        "energy_consumed": (k % 5) * 0.002,
        "current_load": 30.0 + k % 3,
        "voltage": 230.0 + (k % 9) * 0.5,
        "frequency": np.where(k % 4 == 0, np.nan, 50.0),
    }
    columns.update(extra)
    return pd.DataFrame(columns, index=index)


def stored(url: str, facility: int) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT device_id, ts_ms, energy_produced, energy_consumed, current_load, "
            "voltage, current, frequency FROM readings WHERE facility_id = :f "
            "ORDER BY device_id, ts_ms"), {"f": facility})]


def rollups(url: str, facility: int) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT bucket_ms, samples, energy_produced_sum, energy_produced_n, "
            "self_supplied, voltage_n, frequency_n, current_n FROM reading_rollups "
            "WHERE facility_id = :f ORDER BY bucket_ms"), {"f": facility})]


@pytest.mark.parametrize("periods", [ROWS, 50])
def test_rows_and_rollups_are_exact(database_url, facility, periods):
    source = frame(periods)
    result = data.write_readings(source, facility, database_url=database_url)
    assert result == {"accepted": periods, "duplicates": 0, "rejected": []}

    rows = stored(database_url, facility)
    assert len(rows) == periods
    first = rows[0]
    assert first[:2] == ("notebook", int(source.index[0].value // 1_000_000))
    assert first[2:6] == (0.0, 0.0, 30.0, 230.0)
    assert first[6] is None and first[7] is None  # absent fields stay NULL
    assert rows[1][7] == 50.0
    assert [r[5] for r in rows] == source["voltage"].tolist()

    buckets = rollups(database_url, facility)
    assert len(buckets) == -(-periods // 15)
    assert sum(b[1] for b in buckets) == periods
    assert buckets[0][1] == 15 and buckets[0][3] == 15 and buckets[0][5] == 15
    assert buckets[0][6] == 11  # frequency absent every 4th minute: 15 - 4
    assert buckets[0][7] == 0  # current never sent
    expected = source["energy_produced"].iloc[:15].sum()
    assert buckets[0][2] == pytest.approx(expected, abs=1e-12)
    self_used = np.minimum(source["energy_produced"], source["energy_consumed"])
    assert buckets[0][4] == pytest.approx(self_used.iloc[:15].sum(), abs=1e-12)


def test_duplicates_in_database_and_batch_are_counted_once(database_url, facility):
    data.write_readings(frame(ROWS), facility, database_url=database_url)
    again = pd.concat([frame(ROWS, "2025-03-01 12:00"), frame(10, "2025-03-10")])
    again = pd.concat([again, again.iloc[-3:]])  # three rows repeated in the batch
    result = data.write_readings(again, facility, database_url=database_url)
    # 12:00 + 3 000 minutes overlaps the first batch for 3 000 - 720 minutes.
    assert result["duplicates"] == (ROWS - 720) + 3
    assert result["accepted"] == 720 + 10
    assert len(stored(database_url, facility)) == ROWS + 720 + 10
    assert sum(b[1] for b in rollups(database_url, facility)) == ROWS + 730


def test_devices_from_a_column(database_url, facility):
    source = frame(ROWS)
    source["device_id"] = np.where(np.arange(ROWS) % 2 == 0, "east", "west")
    source.iloc[5, source.columns.get_loc("device_id")] = None  # missing: default
    source.iloc[7, source.columns.get_loc("device_id")] = "  "  # blank: as the API
    result = data.write_readings(source, facility, database_url=database_url)
    assert result["accepted"] == ROWS - 1
    assert result["rejected"] == [{"index": 7, "details": [
        {"field": "device_id", "message": "must be a non-empty string"}]}]
    devices = [r[0] for r in stored(database_url, facility)]
    assert devices.count("east") == ROWS // 2
    assert devices.count("west") == ROWS // 2 - 2
    assert devices.count("notebook") == 1


def test_a_bad_voltage_still_opens_and_closes_its_alert(database_url, facility):
    volts = np.full(ROWS, 230.0)
    volts[100:110] = 270.0  # critical high for ten minutes
    data.write_readings(frame(ROWS, voltage=volts), facility, database_url=database_url)
    alerts = data.read_alerts(facility, database_url=database_url)
    assert alerts[["kind", "level"]].values.tolist() == [["voltage_high", "critical"]]
    assert alerts["extreme_value"].tolist() == [270.0]
    assert alerts["ended_at"].notna().all()


def test_store_columns_from_rows_keeps_the_row_contract(database_url, facility):
    rows = [
        {"ts_ms": 1_740_000_000_000 + i * 1000, "device_id": "d",
         "energy_produced": 1.0, "energy_consumed": 0.5, "current_load": 10.0,
         "voltage": None}
        for i in range(5)
    ]
    with session_scope(database_url, write=True) as session:
        facility_row = load_info(session, facility)
        result = store_columns(session, facility_row, ReadingColumns.from_rows(rows))
    assert (result.accepted, result.duplicates, result.alerts) == (5, 0, [])
    assert [r[5] for r in stored(database_url, facility)] == [None] * 5


def test_vectorised_band_check_matches_classify():
    rng = np.random.default_rng(3)
    t = Thresholds(230.0, 10.0, 15.0, 1.0)
    edges = [230 * f for f in (0.05, 0.85, 0.9, 1.1, 1.15)]
    volts = np.concatenate([rng.uniform(0, 300, 5000), edges,
                            np.nextafter(edges, 0), np.nextafter(edges, 1000)])
    for v in volts:
        assert all_normal(np.array([v]), t) == (classify(float(v), t) is None), v
    odd = Thresholds(230.0, 12.0, 8.0, 1.0)  # critical inside warning: still exact
    for v in (230 * 1.09, 230 * 0.91, 230.0):
        assert all_normal(np.array([v]), odd) == (classify(v, odd) is None)


def test_registers_and_power_in_a_frame_are_booked_before_the_insert(
    database_url, facility
):
    """write_readings takes registers and power through the register preparation
    (interval energies and load derived, a glitch logged), as the API does."""
    start = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(hours=1)
    index = pd.date_range(start, periods=4, freq="1min")
    source = pd.DataFrame(
        {"energy_consumed_total": [100.0, 100.5, 0.0, 101.0],
         "power_produced": [6.0, 6.0, 6.0, 6.0]},
        index=index,
    )
    result = data.write_readings(source, facility, device_id="plug",
                                 database_url=database_url)
    assert result == {"accepted": 4, "duplicates": 0, "rejected": []}
    got = data.read_readings(facility, database_url=database_url)
    assert got["energy_consumed"].round(6).tolist() == [0.0, 0.5, 0.0, 0.5]
    assert got["energy_produced"].round(6).tolist()[1:] == [0.1, 0.1, 0.1]
    kinds = data.read_quality_events(facility, database_url=database_url)["kind"]
    assert kinds.tolist() == ["counter_glitch"]


def test_a_physically_impossible_row_is_rejected_by_its_frame_position(
    database_url, facility
):
    source = frame(5)
    source.iloc[1, source.columns.get_loc("current_load")] = 101  # row rule
    source.iloc[3, source.columns.get_loc("energy_consumed")] = 1e7  # > 1 GW
    result = data.write_readings(source, facility, database_url=database_url)
    assert result["accepted"] == 3
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert result["rejected"][1]["details"][0]["field"] == "energy_consumed"


def test_rollups_add_up_the_stored_rows_across_copy_pieces(
    database_url, facility, monkeypatch
):
    """A batch sent as several COPY pieces, two devices out of time order, into
    buckets that already hold rows: each bucket is its readings' sums, no more."""
    import energy_dash.storage.columnar as columnar

    monkeypatch.setattr(columnar, "COPY_CHUNK_ROWS", 700)
    data.write_readings(frame(30, "2025-03-01 23:45"), facility,
                        database_url=database_url)  # buckets at the batch's start
    source = frame(ROWS, "2025-03-02")
    source["device_id"] = np.where(np.arange(ROWS) % 3 == 0, "east", "west")
    source = pd.concat([source.iloc[ROWS // 2:], source.iloc[:ROWS // 2]])
    result = data.write_readings(source, facility, database_url=database_url)
    assert result == {"accepted": ROWS, "duplicates": 0, "rejected": []}
    with get_engine(database_url).connect() as conn:
        from_rows = conn.execute(text(
            "SELECT ts_ms / 900000 * 900000, COUNT(*), SUM(energy_produced), "
            "COUNT(frequency), SUM(frequency), "
            "SUM(CASE WHEN energy_produced < energy_consumed THEN energy_produced "
            "ELSE energy_consumed END) FROM readings WHERE facility_id = :f "
            "GROUP BY 1 ORDER BY 1"), {"f": facility}).all()
        kept = conn.execute(text(
            "SELECT bucket_ms, samples, energy_produced_sum, frequency_n, "
            "frequency_sum, self_supplied FROM reading_rollups "
            "WHERE facility_id = :f ORDER BY bucket_ms"), {"f": facility}).all()
    assert len(kept) == len(from_rows) == 1 + ROWS // 15  # 00:00 holds both
    assert [r[:2] for r in kept] == [r[:2] for r in from_rows]
    assert [r[3] for r in kept] == [r[3] for r in from_rows]
    for mine, theirs in zip(kept, from_rows, strict=True):
        assert mine[2] == pytest.approx(theirs[2], abs=1e-12)
        assert mine[4] == pytest.approx(theirs[4], abs=1e-9)
        assert mine[5] == pytest.approx(theirs[5], abs=1e-12)
