"""Scale-out benchmark on PostgreSQL: Celery refresh, cost growth, ingest per process.

    python tests/benchmarks/bench_scale.py [--sizes 1,10,30] [--workers 1,2,4]
        [--facilities 200] [--history-days 3] [--skip refresh,growth,ingest]

Needs PostgreSQL: ``BENCH_DATABASE_URL``, else ``<TEST_DATABASE_URL>_bench`` on the
same server (created, and its schema dropped, by this script); redis-server from
Debian for the broker. Without either it says so and exits 0.

1. Forecast refresh of ``--facilities`` facilities (``--history-days`` of hourly
   history: 3 days means seasonal-naive fits, 15 or more lets Prophet compete)
   on one Celery worker with 1, 2 and 4 pool processes: wall time of the slot
   and mean time per fit. The machine's CPU count bounds the speed-up.
2. Cost growth: facility 1 holds a year of one-minute readings (525 600 rows);
   99 other facilities fill the table up to each size. The rows are made in SQL
   (generate_series: nothing crosses the wire), one statement per twelfth of
   the year, and each statement sums the same generated rows into the 15-minute
   rollups the pages read, so charts and raw reads agree (checked after each
   size). 30 M readings take about 7 GB and 15-20 minutes on 2 busy cores;
   ``BENCH_DATABASE_URL`` should name a database of its own (drop it after).
   At each size: a dashboard tick (signature, latest state, today's totals,
   today's 5-minute power), the hourly view of the year and one raw day, best
   of 5. Flat means within 2x from the smallest size.
3. Ingest: single readings (req/s) and 10 000-row bulk arrays (rows/s) with
   gunicorn -w 1 and -w 4 against the same PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_ingest import bulk_rows_per_s, free_port, load, stop, wait_ready

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests"))
MINUTE_MS = 60_000
YEAR_MINUTES = 525_600


# -------------------------------------------------------------------- set-up
def bench_url() -> str | None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from energy_dash.db import get_engine

    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            return None
        parsed = make_url(base)
        name = f"{parsed.database}_bench"
        admin = get_engine(base).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = parsed.set(database=name).render_as_string(hide_password=False)
    return url


def fresh_schema(url: str) -> None:
    from sqlalchemy import text

    from energy_dash.db import dispose_engines, get_engine, init_db

    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    init_db(url)
    dispose_engines()


def env_for(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ, DATABASE_URL=url, ENERGY_DASH_ENV="development",
        ENERGY_DASH_INSTANCE=str(workdir), ENERGY_DASH_SCHEDULER="0",
        ENERGY_DASH_INGEST_RATE="0", SESSION_SECRET="bench-" + "s" * 48,
        ENERGY_DASH_MAIL_OUTBOX=str(workdir / "outbox"), **extra,
    )
    env.pop("HARDWARE_API_KEY", None)
    return env


# ------------------------------------------------------------------- refresh
def bench_refresh(url: str, workdir: Path, facilities: int, history_days: int,
                  workers: list[int]) -> dict[int, tuple[float, float]]:
    from scale_helpers import seed_facilities, start_redis
    from sqlalchemy import delete

    from energy_dash.config import Settings
    from energy_dash.db import session_scope
    from energy_dash.db.models import Forecast, ForecastTask
    from energy_dash.jobs import slot_start
    from energy_dash.services.forecast_slots import slot_status
    from energy_dash.services.tasks import refresh_slot

    fresh_schema(url)
    slot = slot_start(datetime.now(UTC), 3600)
    seed_facilities(url, facilities, hours=24 * history_days,
                    end_ms=int(slot.timestamp() * 1000))
    redis_proc, redis_url = start_redis(workdir)
    settings = Settings(database_url=url, broker_url=redis_url,
                        fit_time_limit_s=300)
    out = {}
    try:
        for n in workers:
            with session_scope(url) as session:
                session.execute(delete(ForecastTask))
                session.execute(delete(Forecast))
            proc = subprocess.Popen(
                [str(BIN / "energy-dash"), "worker", "-c", str(n), "--loglevel",
                 "WARNING"],
                env=env_for(url, workdir, ENERGY_DASH_BROKER_URL=redis_url),
                cwd=REPO, stdout=(workdir / f"worker{n}.log").open("w"),
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                time.sleep(3 + n)  # pool processes up and forecasting imported
                start = time.perf_counter()
                refresh_slot(settings, slot=slot)
                while True:
                    status = slot_status(url, slot)
                    if status["complete"]:
                        break
                    if time.perf_counter() - start > 1800:
                        raise RuntimeError(f"refresh not done in 30 min: {status}")
                    time.sleep(0.2)
                wall = time.perf_counter() - start
            finally:
                stop(proc)
            if status["done"] + status["skipped"] != status["total"]:
                raise RuntimeError(f"refresh with {n} process(es): {status}")
            out[n] = (wall, status["fit_mean_s"])
            print(f"refresh of {facilities} facilities ({2 * facilities} fits, "
                  f"{history_days} days of history), 1 worker x {n} process(es): "
                  f"{wall:6.1f} s wall, {status['fit_mean_s'] * 1000:6.0f} ms per fit "
                  f"(wall-time ratio {out[workers[0]][0] / wall:.2f}x against "
                  f"{workers[0]} process(es); this machine has {os.cpu_count()} "
                  f"cores; load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
    return out


# -------------------------------------------------------------------- growth
CHUNKS = 12  # about one monthly partition per statement: its indexes stay cached
FILLED = {  # the generated value of each reading field (others stay NULL)
    "energy_produced": "ep", "energy_consumed": "ec", "current_load": "30",
    "voltage": "230",
}


def _fill_sql() -> str:
    """One pass per chunk: the generated rows are materialised once, inserted
    into readings and summed into the 15-minute rollups the pages read, with the
    sums the ingest path adds (``db.statements.MERGE_ROLLUP_STAGING``)."""
    from energy_dash.db.models import READING_FIELDS

    sums = ["samples", "self_supplied"] + [
        f"{f}_{part}" for f in READING_FIELDS for part in ("sum", "n")
    ]
    values = ["count(*)", "sum(least(ep, ec))"] + [
        item for f in READING_FIELDS for item in (
            (f"sum({FILLED[f]})", "count(*)") if f in FILLED else ("0", "0")
        )
    ]
    return (
        "WITH gen AS MATERIALIZED ("
        " SELECT f AS facility_id, CAST(:start AS bigint) + g * CAST(:step AS bigint)"
        " AS ts_ms, greatest(0, 2 * sin(g / 240.0)) AS ep, 1 + (g % 60) / 60.0 AS ec"
        " FROM generate_series(CAST(:f0 AS int), CAST(:f1 AS int)) AS f,"
        " generate_series(CAST(:g0 AS int), CAST(:g1 AS int) - 1) AS g),"
        " ins AS (INSERT INTO readings (facility_id, device_id, ts_ms, "
        + ", ".join(FILLED) + ") SELECT facility_id, :device, ts_ms, "
        + ", ".join(FILLED.values()) + " FROM gen)"
        " INSERT INTO reading_rollups (facility_id, bucket_ms, " + ", ".join(sums)
        + ") SELECT facility_id, ts_ms / 900000 * 900000, " + ", ".join(values)
        + " FROM gen GROUP BY 1, 2 ON CONFLICT (facility_id, bucket_ms) DO UPDATE SET "
        + ", ".join(f"{c} = reading_rollups.{c} + excluded.{c}" for c in sums)
    )


def _fill(engine, first_fid: int, facilities: int, rows: int, device: str,
          start_ms: int, span_ms: int) -> None:
    """``rows`` readings spread evenly over ``facilities`` and ``span_ms``.

    Generated in SQL (no rows cross the wire), in ``CHUNKS`` time slices of one
    transaction each, with their rollups built from the same generated rows.
    """
    from sqlalchemy import text

    per = max(1, rows // facilities)
    step = max(1, span_ms // per)
    bounds = [per * i // CHUNKS for i in range(CHUNKS + 1)]
    sql = _fill_sql()
    for g0, g1 in zip(bounds, bounds[1:], strict=False):
        if g1 <= g0:
            continue
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            conn.execute(text(sql), {
                "device": device, "start": start_ms, "step": step, "f0": first_fid,
                "f1": first_fid + facilities - 1, "g0": g0, "g1": g1,
            })


def _check_rollups(conn, facility_id: int) -> None:
    """The rollups hold exactly the readings' sums (what pages and raw reads see)."""
    from sqlalchemy import text

    raw = conn.execute(text(
        "SELECT count(*), sum(energy_consumed) FROM readings WHERE facility_id = :f"
    ), {"f": facility_id}).one()
    rolled = conn.execute(text(
        "SELECT sum(samples), sum(energy_consumed_sum) FROM reading_rollups "
        "WHERE facility_id = :f"
    ), {"f": facility_id}).one()
    if raw[0] != rolled[0] or abs(raw[1] - rolled[1]) > 1e-6 * max(1.0, raw[1]):
        raise RuntimeError(f"rollups of facility {facility_id} disagree: "
                           f"readings {raw}, rollups {rolled}")


def _best(fn, repeat: int = 5) -> float:
    fn()  # warm caches and plans
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _probes(url: str, now_ms: int) -> dict[str, float]:
    import pandas as pd

    from energy_dash import data
    from energy_dash.domain import times
    from energy_dash.services import live as views

    tz = "Europe/Berlin"
    today = times.local_today(now_ms, tz)
    day_start, _ = times.day_bounds(today, tz)
    year_ago = pd.Timestamp(now_ms - YEAR_MINUTES * MINUTE_MS, unit="ms", tz="UTC")
    raw_day = pd.Timestamp(now_ms - 100 * 86_400_000, unit="ms", tz="UTC").floor("D")

    def tick():
        views.live_signature(1, now=now_ms, database_url=url)
        views.latest_state(1, now=now_ms, database_url=url)
        views.today_totals(1, now=now_ms, database_url=url)
        views.power_series(1, day_start, now_ms, "5min", now=now_ms,
                           database_url=url)

    def year_hourly():
        frame = data.read_readings(1, year_ago, pd.Timestamp(now_ms, unit="ms",
                                   tz="UTC"), resample="1h", database_url=url)
        assert len(frame) > 8000, len(frame)

    def one_raw_day():
        frame = data.read_readings(1, raw_day, raw_day + pd.Timedelta(days=1),
                                   database_url=url)
        assert len(frame) == 1440, len(frame)

    return {"tick": _best(tick), "year_hourly": _best(year_hourly),
            "raw_day": _best(one_raw_day)}


def probe_stored(url: str) -> dict[str, float]:
    """Measure again on the readings a growth run left (``--probe-only``)."""
    from sqlalchemy import text

    from energy_dash.db import get_engine

    with get_engine(url).connect() as conn:
        last = conn.execute(text(
            "SELECT max(ts_ms) FROM readings WHERE facility_id = 1"
        )).scalar()
        stored = conn.execute(text("SELECT count(*) FROM readings")).scalar()
    if last is None:
        raise SystemExit("bench_scale --probe-only: no growth data in this database")
    probes = _probes(url, last + MINUTE_MS)
    print(f"{stored / 1e6:5.1f} M readings (stored): dashboard tick "
          f"{probes['tick'] * 1000:6.1f} ms, hourly view of a year "
          f"{probes['year_hourly'] * 1000:6.1f} ms, one raw day "
          f"{probes['raw_day'] * 1000:6.1f} ms (load average "
          f"{os.getloadavg()[0]:.1f})", flush=True)
    return probes


def bench_growth(url: str, sizes_m: list[float]) -> dict[float, dict[str, float]]:
    from sqlalchemy import insert, text

    from energy_dash.db import get_engine
    from energy_dash.db.models import Facility
    from energy_dash.db.partitions import ensure_partitions

    fresh_schema(url)
    engine = get_engine(url)
    now_ms = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    start_ms = now_ms - YEAR_MINUTES * MINUTE_MS
    with engine.begin() as conn:
        for n in range(100):
            conn.execute(insert(Facility).values(
                name=f"Site {n + 1}", timezone="Europe/Berlin",
                expected_interval_s=60,
            ))
        ensure_partitions(conn, since_ms=start_ms)
    started = time.perf_counter()
    _fill(engine, 1, 1, YEAR_MINUTES, "meter", start_ms, YEAR_MINUTES * MINUTE_MS)
    print(f"facility 1: a year of minute readings in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    stored = YEAR_MINUTES
    out = {}
    for stage, size in enumerate(sizes_m):
        target = int(size * 1_000_000)
        if target > stored:
            started = time.perf_counter()
            _fill(engine, 2, 99, target - stored, f"fill{stage}", start_ms + stage,
                  YEAR_MINUTES * MINUTE_MS)
            filled = time.perf_counter() - started
            with engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as conn:
                conn.execute(text("VACUUM ANALYZE readings"))
                conn.execute(text("VACUUM ANALYZE reading_rollups"))
                stored = conn.execute(text("SELECT count(*) FROM readings")).scalar()
                size_text = conn.execute(text(
                    "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) "
                    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'readings'::regclass"
                )).scalar()
                _check_rollups(conn, 1)
                _check_rollups(conn, 2)
            print(f"filled to {stored:,} readings ({size_text} with indexes) in "
                  f"{filled:.0f} s, vacuum and checks "
                  f"{time.perf_counter() - started - filled:.0f} s", flush=True)
        probes = _probes(url, now_ms)
        out[size] = probes
        print(f"{stored / 1e6:5.1f} M readings: dashboard tick "
              f"{probes['tick'] * 1000:6.1f} ms, hourly view of a year "
              f"{probes['year_hourly'] * 1000:6.1f} ms, one raw day "
              f"{probes['raw_day'] * 1000:6.1f} ms (load average "
              f"{os.getloadavg()[0]:.1f})", flush=True)
    first = out[sizes_m[0]]
    for key in ("tick", "year_hourly", "raw_day"):
        growth = out[sizes_m[-1]][key] / first[key]
        print(f"growth {sizes_m[0]} M -> {sizes_m[-1]} M, {key}: {growth:.2f}x "
              f"({'flat' if growth <= 2 else 'NOT FLAT'}: target <= 2x)")
    return out


# -------------------------------------------------------------------- ingest
def bench_ingest(url: str, workdir: Path, seconds: float) -> dict[int, tuple]:
    from energy_dash.db import dispose_engines, session_scope
    from energy_dash.db.models import Facility
    from energy_dash.storage.devices import create_api_key

    fresh_schema(url)
    with session_scope(url) as session:
        session.add(Facility(name="Bench", timezone="Europe/Berlin",
                             expected_interval_s=60))
        session.flush()
        key = create_api_key(session, 1, "bench")
    dispose_engines()
    out = {}
    blocks = iter(range(int(time.time()) - 300 * 86400, int(time.time()), 5 * 86400))
    for workers in (1, 4):
        port = free_port()
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "energy_dash.wsgi:server"],
            env=env_for(url, workdir), cwd=REPO,
            stdout=(workdir / f"gunicorn{workers}.log").open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_ready(port, "/healthz", proc)
            load(port, key, 1.0, 4, next(blocks))  # warm-up
            rps, statuses = load(port, key, seconds, 4, next(blocks))
            bad = {s: n for s, n in statuses.items() if not 200 <= s < 300}
            if bad:
                raise RuntimeError(f"non-2xx answers: {bad}")
            bulk = bulk_rows_per_s(port, key, next(blocks), senders=min(workers, 2))
        finally:
            stop(proc)
        out[workers] = (rps, bulk)
        print(f"PostgreSQL, gunicorn -w {workers}: single readings {rps:7.0f} req/s "
              f"(4 client processes), bulk {bulk:8.0f} rows/s "
              f"({min(workers, 2)} request(s) in flight; load average "
              f"{os.getloadavg()[0]:.1f})", flush=True)
    print(f"ingest with 4 app processes against 1: single "
          f"{out[4][0] / out[1][0]:.2f}x, bulk {out[4][1] / out[1][1]:.2f}x "
          f"({os.cpu_count()} cores, shared with "
          "PostgreSQL and the load generator)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,30",
                        help="table sizes in millions of readings (default 1,10,30)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--history-days", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--skip", default="", help="refresh,growth,ingest")
    parser.add_argument("--probe-only", action="store_true",
                        help="only measure the growth probes on the readings an "
                        "earlier growth run left in the database")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    url = bench_url()
    if url is None:
        print("bench_scale: no BENCH_DATABASE_URL or TEST_DATABASE_URL "
              "(PostgreSQL): not run")
        return 0
    if "refresh" not in skip and not (shutil.which("redis-server")
                                      or Path("/usr/bin/redis-server").exists()):
        print("bench_scale: redis-server not installed: refresh not run")
        skip.add("refresh")
    load1, load5, _ = os.getloadavg()
    print(f"{os.cpu_count()} CPU(s); load average before the run {load1:.1f} (1 min) "
          f"{load5:.1f} (5 min); PostgreSQL at {url.rsplit('@', 1)[-1]}", flush=True)
    if args.probe_only:
        probe_stored(url)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        if "refresh" not in skip:
            bench_refresh(url, workdir, args.facilities, args.history_days,
                          [int(n) for n in args.workers.split(",")])
        if "growth" not in skip:
            bench_growth(url, [float(s) for s in args.sizes.split(",")])
        if "ingest" not in skip:
            bench_ingest(url, workdir, args.seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
