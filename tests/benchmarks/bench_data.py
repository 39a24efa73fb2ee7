"""Data-module benchmarks: write throughput and reads over a year of minute data.

    python tests/benchmarks/bench_data.py

``data.write_readings`` of a year of one-minute readings with every field
(525 600 rows) against plain DB-API ``executemany`` of the same rows (the
peer), on SQLite and, with ``BENCH_DATABASE_URL`` (a PostgreSQL database of
its own: it is emptied), on PostgreSQL with a large table already stored
(``BENCH_PG_STORED`` rows of another facility, default 10 000 000, built with
``generate_series``). Targets: >= 150 000 rows/s on SQLite, >= 100 000 on
PostgreSQL. Reads: ``read_readings(resample="1h")`` over the year <= 0.5 s and
<= 0.2x the naive way (read every row, resample in pandas); one raw day
<= 0.1 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import Report  # noqa: E402

from energy_dash import data  # noqa: E402
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope  # noqa: E402
from energy_dash.db.models import READING_FIELDS, Facility  # noqa: E402

YEAR = 525_600
PEER_ROWS = 100_000
TARGETS = {"sqlite": 150_000, "postgresql": 100_000}


def best_of(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def year_frame() -> pd.DataFrame:
    """A year of minute readings with every field, as a notebook user has them."""
    index = pd.date_range("2025-01-01", periods=YEAR, freq="1min", tz="UTC")
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "energy_produced": rng.random(YEAR) * 0.02,
            "energy_consumed": rng.random(YEAR) * 0.02,
            "current_load": rng.random(YEAR) * 80,
            "voltage": 230 + rng.normal(0, 2, YEAR),
            "current": 15.5 + rng.random(YEAR),
            "current1": 5.0, "current2": 5.1, "current3": 5.4,
            "frequency": 50 + rng.normal(0, 0.02, YEAR),
            "power_factor": 0.95,
        },
        index=index,
    )


def peer_rows_per_s(url: str, frame: pd.DataFrame, facility_id: int) -> float:
    """Plain DB-API executemany of the frame's first rows (no checks, no rollups)."""
    part = frame.iloc[:PEER_ROWS]
    ts = (part.index.as_unit("ns").asi8 // 1_000_000).tolist()
    cols = [part[name].tolist() for name in READING_FIELDS]
    rows = [(facility_id, "peer", t, *vals) for t, *vals in zip(ts, *cols, strict=True)]
    names = ("facility_id", "device_id", "ts_ms", *READING_FIELDS)
    engine = get_engine(url)
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = (f"INSERT INTO readings ({', '.join(names)}) VALUES "
           f"({', '.join([mark] * len(names))}) "
           "ON CONFLICT (facility_id, device_id, ts_ms) DO NOTHING")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        start = time.perf_counter()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(sql, rows)
        raw.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
    return len(rows) / elapsed


def store_large_table(url: str, facility_id: int, count: int) -> float:
    """``count`` minute readings of another facility, generated inside PostgreSQL."""
    start = time.perf_counter()
    with get_engine(url).begin() as conn:
        conn.execute(text(
            "INSERT INTO readings (facility_id, device_id, ts_ms, energy_produced, "
            "energy_consumed, current_load, voltage, current, current1, current2, "
            "current3, frequency, power_factor) "
            "SELECT :fid, 'history', 1262304000000 + g::bigint * 60000, "
            "(g % 97) * 0.0002, (g % 89) * 0.0002, (g % 100)::float, "
            "225 + (g % 11), 15.5, 5.0, 5.1, 5.4, 50.0, 0.95 "
            "FROM generate_series(0::bigint, :n - 1) AS g"
        ), {"fid": facility_id, "n": count})
    with get_engine(url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE readings"))
    return time.perf_counter() - start


def run(url: str, label: str, report: Report, stored: int = 0) -> None:
    init_db(url)
    with session_scope(url) as session:
        for name in ("Bench", "Peer", "History"):
            session.add(Facility(name=name, timezone="Europe/Berlin"))
    note = ""
    if stored:
        seconds = store_large_table(url, 3, stored)
        note = f"{stored:,} rows already stored"
        print(f"[{label}] {note} (built in {seconds:.0f} s)")
    frame = year_frame()
    peer = peer_rows_per_s(url, frame, 2)
    start = time.perf_counter()
    result = data.write_readings(frame, 1, database_url=url)
    elapsed = time.perf_counter() - start
    assert result["accepted"] == YEAR and not result["rejected"], result
    report.figure(
        f"[{label}] data.write_readings, a year of minute readings (all fields)",
        YEAR / elapsed, "rows/s", peer=peer,
        peer_name=f"executemany of {PEER_ROWS:,} rows", target=TARGETS[label],
        note="; ".join(x for x in (note, f"load {os.getloadavg()[0]:.1f}") if x),
        seconds=elapsed,
    )

    def fast():
        return data.read_readings(1, "2025-01-01", "2026-01-01", resample="1h",
                                  database_url=url)

    def naive():
        raw = data.read_readings(1, "2025-01-01", "2026-01-01", database_url=url)
        return raw.resample("1h").agg(
            {"energy_produced": "sum", "energy_consumed": "sum", "voltage": "mean"})

    def raw_day():
        return data.read_readings(1, "2025-06-01", "2025-06-02", database_url=url)

    t_fast, t_naive, t_day = best_of(fast), best_of(naive, 1), best_of(raw_day)
    report.figure(f"[{label}] read_readings(resample='1h'), one year", t_fast, "s",
                  target=0.5, higher_is_better=False)
    report.figure(f"[{label}] read_readings(resample='1h') against the naive path",
                  t_fast, "s", peer=t_naive,
                  peer_name="read every row + pandas resample", target=0.2,
                  target_of="ratio", higher_is_better=False)
    t_daily = best_of(lambda: data.read_readings(1, resample="1D", tz="Europe/Berlin",
                                                 database_url=url))
    report.figure(f"[{label}] read_readings(resample='1D'), one year", t_daily, "s")
    report.figure(f"[{label}] one raw day (1 440 rows)", t_day, "s", target=0.1,
                  higher_is_better=False)


def main() -> None:
    report = Report("data")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            run(url, "sqlite", report)
            dispose_engine(url)
        pg = os.environ.get("BENCH_DATABASE_URL")
        if pg:
            with get_engine(pg).begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            stored = int(os.environ.get("BENCH_PG_STORED", "10000000"))
            run(pg, "postgresql", report, stored)
    finally:
        report.save()


if __name__ == "__main__":
    main()
