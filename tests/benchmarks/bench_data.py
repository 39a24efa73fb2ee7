"""Data-module benchmarks: write throughput and reads over a year of minute data.

Targets (issue: foundation): ``data.write_readings`` >= 100 000 rows/s;
``read_readings(resample="1h")`` over a year <= 0.5 s and <= 0.2x the naive way
(read every row, resample in pandas); one raw day <= 0.1 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from energy_dash import data
from energy_dash.db import dispose_engine, init_db, session_scope
from energy_dash.db.models import Facility

YEAR = 525_600


def best_of(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def year_frame() -> pd.DataFrame:
    index = pd.date_range("2025-01-01", periods=YEAR, freq="1min", tz="UTC")
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "energy_produced": rng.random(YEAR) * 0.02,
            "energy_consumed": rng.random(YEAR) * 0.02,
            "current_load": 30.0,
            "voltage": 230 + rng.normal(0, 2, YEAR),
            "current1": 5.0, "current2": 5.1, "current3": 5.4,
            "frequency": 50.0, "power_factor": 0.95,
        },
        index=index,
    )


def run(url: str, label: str) -> None:
    init_db(url)
    with session_scope(url) as session:
        session.add(Facility(name="Bench", timezone="Europe/Berlin"))
    frame = year_frame()
    start = time.perf_counter()
    result = data.write_readings(frame, 1, database_url=url)
    elapsed = time.perf_counter() - start
    assert result["accepted"] == YEAR, result
    print(f"[{label}] data.write_readings: {YEAR / elapsed:,.0f} rows/s "
          f"({YEAR:,} rows in {elapsed:.2f} s; target >= 100,000 rows/s)")

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
    print(f"[{label}] read_readings(resample='1h'), one year: {t_fast:.3f} s "
          f"(target <= 0.5 s)")
    print(f"[{label}] naive read + pandas resample:          {t_naive:.3f} s; "
          f"ratio {t_fast / t_naive:.2f}x (target <= 0.2x)")
    t_daily = best_of(lambda: data.read_readings(1, resample="1D", tz="Europe/Berlin",
                                                 database_url=url))
    print(f"[{label}] read_readings(resample='1D'), one year: {t_daily:.3f} s")
    print(f"[{label}] one raw day (1 440 rows):               {t_day:.3f} s "
          f"(target <= 0.1 s)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        run(url, "sqlite")
        dispose_engine(url)
    pg = os.environ.get("BENCH_DATABASE_URL")
    if pg:
        from sqlalchemy import text

        from energy_dash.db import get_engine

        with get_engine(pg).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        run(pg, "postgresql")


if __name__ == "__main__":
    main()
