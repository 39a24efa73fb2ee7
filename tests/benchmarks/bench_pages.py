"""Page benchmarks: server time and response size of the page callbacks.

    python tests/benchmarks/bench_pages.py [--rows 1000000] [--repeat 20]

Builds a SQLite database (``BENCH_DATABASE_URL`` may name another, e.g. a
PostgreSQL database of its own — never a shared test database: it is
emptied) holding a year of one-minute readings for the measured facility
(525 600 rows, ending now) plus another facility's readings up to ``--rows``
in total, written with ``data.write_readings``. A signed-in Flask test client
then POSTs the callbacks exactly as the browser does.

Targets (issue: pages): a wall tick <= 50 ms of server time and <= 5 KB of
response with a million readings stored; unchanged ticks answer 204.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the fixtures' request helpers
# The project root before tests/: tests/callbacks, tests/ingest … are test folders,
# not the packages of the same name.
sys.path.insert(0, str(HERE.parents[1]))

from fixtures_web import callback_result, login_client, post_callback  # noqa: E402

from energy_dash import data  # noqa: E402
from energy_dash.config import Settings  # noqa: E402
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope  # noqa: E402
from energy_dash.db.models import Base, Facility  # noqa: E402
from energy_dash.services import live as views  # noqa: E402
from energy_dash.storage import accounts  # noqa: E402

YEAR = 525_600
MINUTE = 60_000
TICK_TARGET_MS = 50.0
TICK_TARGET_BYTES = 5 * 1024
FACILITY = "facility-select.value"


def minute_frame(end_ms: int, count: int, seed: int) -> pd.DataFrame:
    """``count`` one-minute readings ending at ``end_ms``: a solar day, a load curve."""
    rng = np.random.default_rng(seed)
    stamps = end_ms - MINUTE * np.arange(count)[::-1]
    hours = (stamps / 3_600_000.0) % 24
    sun = np.clip(np.sin((hours - 5) / 15 * np.pi), 0, None)
    return pd.DataFrame(
        {
            "energy_produced": 0.6 * sun * rng.uniform(0.7, 1.0, count),
            "energy_consumed": 0.25 + 0.1 * rng.random(count),
            "current_load": 30 + 10 * rng.random(count),
            "voltage": 230 + rng.normal(0, 2, count),
            "current1": 10 + rng.random(count),
            "current2": 10 + rng.random(count),
            "current3": 10 + rng.random(count),
            "frequency": 50 + rng.normal(0, 0.02, count),
            "power_factor": 0.95,
        },
        index=pd.to_datetime(stamps, unit="ms", utc=True),
    )


def empty_database(url: str) -> None:
    if url.startswith("sqlite"):
        init_db(url)
        return
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    init_db(url)
    assert Base.metadata.tables  # the schema exists now


def seed(url: str, total_rows: int) -> int:
    """Facility 1: a year of minute readings ending now; facility 2: the rest."""
    with session_scope(url) as session:
        session.add(Facility(name="Bench", timezone="Europe/Berlin",
                             expected_interval_s=60))
        session.add(Facility(name="Neighbour", timezone="Europe/Berlin",
                             expected_interval_s=60))
        session.flush()
        user = accounts.create_user(session, "bench", "correct horse battery",
                                    check_strength=False)
        accounts.grant(session, user.id, 1, "admin")
    end = views.now_ms() // MINUTE * MINUTE - MINUTE
    started = time.perf_counter()
    written = 0
    for facility, count in ((1, YEAR), (2, max(0, total_rows - YEAR))):
        for chunk_end in range(end, end - count * MINUTE, -100_000 * MINUTE):
            n = min(100_000, (chunk_end - (end - count * MINUTE)) // MINUTE)
            frame = minute_frame(chunk_end, n, seed=facility * 1000 + written)
            result = data.write_readings(frame, facility, database_url=url)
            written += result["accepted"]
    elapsed = time.perf_counter() - started
    print(f"seeded {written:,} readings in {elapsed:.1f} s "
          f"({written / elapsed:,.0f} rows/s)")
    return end


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"median {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms, "
            f"max {max(times):6.1f} ms")


def report(name: str, times: list[float], size: int, note: str = "") -> None:
    print(f"  {name:<44} {summary(times)}, {size:>8,} bytes{note}")


def bench(url: str, total_rows: int, repeat: int) -> int:
    empty_database(url)
    last = seed(url, total_rows)
    from energy_dash.app import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(Settings(
            database_url=url, session_secret="bench-" + "x" * 40, ingest_rate="0",
            instance_dir=Path(instance), mail_outbox=str(Path(instance) / "outbox"),
            testing=True,
        ))
        client = app.server.test_client()
        login_client(client, "bench")
        failures = 0

        def post(output, values, changed=None):
            response = post_callback(client, app, output, values, changed)
            assert response.status_code in (200, 204), response.status_code
            return response

        print(f"facility 1: {YEAR:,} readings (1 year, 1 min); "
              f"stored in total: {total_rows:,}")
        print("wall (/wall):")
        config = {"facility": None, "refresh_s": 10}
        tick = ["wall-interval.n_intervals"]
        times, first = timed(lambda: post(
            "wall-production.children",
            {FACILITY: 1, "wall-config.data": config, "wall-store.data": None}, tick,
        ), 3)
        report("first tick (full 24 h chart)", times, len(first.data))
        store = callback_result(first)["wall-store.data"]

        times, same = timed(lambda: post(
            "wall-production.children",
            {FACILITY: 1, "wall-config.data": config, "wall-store.data": store}, tick,
        ), repeat)
        report(f"tick, nothing new (HTTP {same.status_code})", times,
               len(same.data))
        if statistics.median(times) > TICK_TARGET_MS:
            failures += 1
            print(f"  !!! unchanged tick above {TICK_TARGET_MS} ms")

        new_times, sizes = [], []
        for i in range(repeat):
            stamp = last + (i + 1) * 10_000
            frame = minute_frame(stamp, 1, seed=i)
            data.write_readings(frame, 1, database_url=url)
            started = time.perf_counter()
            response = post(
                "wall-production.children",
                {FACILITY: 1, "wall-config.data": config, "wall-store.data": store},
                tick,
            )
            new_times.append((time.perf_counter() - started) * 1000)
            sizes.append(len(response.data))
            store = callback_result(response)["wall-store.data"]
        report("tick, one new reading (Patch append)", new_times, max(sizes),
               " (max)")
        if statistics.median(new_times) > TICK_TARGET_MS:
            failures += 1
            print(f"  !!! tick with a reading above {TICK_TARGET_MS} ms")
        if max(sizes) > TICK_TARGET_BYTES:
            failures += 1
            print(f"  !!! tick response above {TICK_TARGET_BYTES} bytes")

        print("first chart callback of each page:")
        cases = [
            ("dashboard", "dashboard-production.children", {FACILITY: 1}),
            ("historical 7 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "7"}),
            ("historical 30 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "30"}),
            ("historical 90 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "90"}),
            ("historical custom 365 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "custom",
              "historical-dates.start_date": str(pd.Timestamp(last, unit="ms")
                                                 - pd.Timedelta(days=364))[:10],
              "historical-dates.end_date": str(pd.Timestamp(last, unit="ms"))[:10]}),
            ("voltage (6 h live charts)", "voltage-now.children", {FACILITY: 1}),
            ("voltage quality (this week)", "voltage-quality.children",
             {FACILITY: 1}),
            ("voltage alert log", "voltage-alert-log.children", {FACILITY: 1}),
        ]
        for name, output, values in cases:
            times, response = timed(lambda o=output, v=values: post(o, v), 3)
            report(name, times, len(response.data))
        times, response = timed(lambda: post(
            "historical-download.data",
            {"historical-download-button.n_clicks": 1, FACILITY: 1,
             "historical-range.value": "7"},
            ["historical-download-button.n_clicks"],
        ), 1)
        report("CSV download, 7 days raw", times, len(response.data))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="readings stored in total (>= 525 600)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{tmp}/bench_pages.db"
        try:
            failures = bench(url, max(YEAR, args.rows), args.repeat)
        finally:
            dispose_engine(url)
    print("OK" if not failures else f"{failures} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
