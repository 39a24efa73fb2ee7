"""Page benchmarks: server time, pool checkouts and response size of the page
callbacks, with a year of one-minute readings stored.

    python tests/benchmarks/bench_pages.py [--rows 525600] [--repeat 20]
                                           [--pages dashboard,wall] [--ticks-only]

Builds a SQLite database (``BENCH_DATABASE_URL`` may name another, e.g. a
PostgreSQL database of its own — never a shared test database: it is
emptied) holding a year of one-minute readings for the measured facility
(525 600 rows, ending now) plus another facility's readings up to ``--rows``
in total, written with ``data.write_readings``. A signed-in Flask test client
then POSTs the callbacks exactly as the browser does (the request bodies are
built once, so the time is the server's: gate, callback, JSON).

Targets (issue: pages): every live tick (/dashboard, /voltage, /wall,
/forecast), unchanged or with a new reading, <= 20 ms of server time and at
most one pool checkout. Each tick is printed beside its peer from the same run:
the naive pandas path, i.e. the page's window read as raw rows and resampled in
pandas (what a tick costs without rollups), as a ratio; figures go to the JSON
copy through ``report.py``.
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
from sqlalchemy import event, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # report.py
sys.path.insert(0, str(HERE.parent))  # tests/: the fixtures' request helpers
# The project root before tests/: tests/callbacks, tests/ingest … are test folders,
# not the packages of the same name.
sys.path.insert(0, str(HERE.parents[1]))

from fixtures_web import callback_body, callback_result, login_client  # noqa: E402
from report import Report  # noqa: E402

from energy_dash import data  # noqa: E402
from energy_dash.config import Settings  # noqa: E402
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope  # noqa: E402
from energy_dash.db.models import Base, Facility  # noqa: E402
from energy_dash.services import forecasts  # noqa: E402
from energy_dash.services import live as views  # noqa: E402
from energy_dash.storage import accounts  # noqa: E402

YEAR = 525_600
MINUTE = 60_000
DAY_MS = 86_400_000
TICK_TARGET_MS = 20.0
CHECKOUT_TARGET = 1
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


CPU_MS: list[float] = []  # thread CPU time of each timed call, beside wall time


def timed(fn, repeat: int) -> tuple[list[float], object]:
    """Wall times [ms] of ``repeat`` calls; their CPU times go to ``CPU_MS``.

    On a loaded machine wall time is mostly waiting for a core; the thread's CPU
    time (the server runs in this thread, SQLite too) is the work itself.
    """
    times, result = [], None
    CPU_MS.clear()
    for _ in range(repeat):
        cpu = time.thread_time()
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
        CPU_MS.append((time.thread_time() - cpu) * 1000)
    return times, result


def cpu_note(times: list[float]) -> str:
    return f"{summary(times)}; CPU median {statistics.median(CPU_MS):.1f} ms"


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"median {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms, "
            f"max {max(times):6.1f} ms")


class Checkouts:
    """Pool checkouts while it is active (the engine's ``checkout`` event)."""

    def __init__(self, url: str) -> None:
        self.pool = get_engine(url).pool
        self.counts: list[int] = []

    def _hit(self, *_args) -> None:
        self.counts[-1] += 1

    def __enter__(self) -> Checkouts:
        self.counts.append(0)
        event.listen(self.pool, "checkout", self._hit)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.pool, "checkout", self._hit)


# --------------------------------------------------------------- naive peers
def naive_dashboard(url: str, now: int) -> None:
    """14 days of raw readings into pandas: 5-minute power of the last 24 h and
    daily totals, as a tick would compute them without rollups."""
    frame = data.read_readings(1, pd.Timestamp(now - 14 * DAY_MS, unit="ms"),
                               pd.Timestamp(now + MINUTE, unit="ms"),
                               tz="Europe/Berlin", database_url=url)
    energy = frame[["energy_produced", "energy_consumed"]]
    energy[energy.index >= pd.Timestamp(now - DAY_MS, unit="ms", tz="UTC")
           ].resample("5min").sum()
    energy.resample("1D").sum()
    frame.iloc[-1:]


def naive_wall(url: str, now: int) -> None:
    """The last 24 h raw, today's totals summed in pandas."""
    frame = data.read_readings(1, pd.Timestamp(now - DAY_MS, unit="ms"),
                               pd.Timestamp(now + MINUTE, unit="ms"),
                               columns=["energy_produced", "energy_consumed"],
                               tz="Europe/Berlin", database_url=url)
    frame[frame.index >= frame.index[-1].normalize()].sum()


def naive_voltage(url: str, now: int) -> None:
    """The last 6 h of every electrical field, raw."""
    data.read_readings(1, pd.Timestamp(now - 6 * 3_600_000, unit="ms"),
                       pd.Timestamp(now + MINUTE, unit="ms"),
                       columns=["voltage", "current1", "current2", "current3",
                                "frequency", "power_factor"],
                       tz="Europe/Berlin", database_url=url)


def naive_forecast(url: str, now: int) -> None:
    """Eight weeks of raw consumption resampled hourly (the weekday profile)."""
    frame = data.read_readings(1, pd.Timestamp(now - 56 * DAY_MS, unit="ms"),
                               pd.Timestamp(now, unit="ms"),
                               columns=["energy_consumed"], tz="Europe/Berlin",
                               database_url=url)
    hourly = frame["energy_consumed"].resample("1h").sum()
    hourly.groupby([hourly.index.day_of_week, hourly.index.hour]).mean()


def store_forecasts(url: str, now: int) -> None:
    """A stored run per target, so /forecast draws charts (no fit in a bench)."""
    hours = pd.date_range(pd.Timestamp(now, unit="ms", tz="UTC").floor("h")
                          - pd.Timedelta(hours=2), periods=24, freq="h")
    for target in forecasts.TARGETS:
        forecasts.save_forecast(
            1, target,
            pd.DataFrame({"yhat": 20.0, "yhat_lower": 15.0, "yhat_upper": 25.0},
                         index=hours),
            model="seasonal_naive",
            trained_at=pd.Timestamp(now, unit="ms", tz="UTC") - pd.Timedelta(hours=2),
            database_url=url,
        )


# --------------------------------------------------------------- the bench
TICKS = [
    # (page, output of its tick callback, interval, store, extra state, naive peer)
    ("dashboard", "dashboard-production.children", "dashboard-interval.n_intervals",
     "dashboard-store.data", {}, naive_dashboard),
    ("voltage", "voltage-now.children", "voltage-interval.n_intervals",
     "voltage-store.data", {}, naive_voltage),
    ("wall", "wall-production.children", "wall-interval.n_intervals",
     "wall-store.data", {"wall-config.data": {"facility": None, "refresh_s": 10}},
     naive_wall),
    ("forecast", "forecast-message.children", "forecast-interval.n_intervals",
     "forecast-store.data", {}, naive_forecast),
]


def bench(url: str, total_rows: int, repeat: int, report: Report,
          pages: set[str] | None = None, ticks_only: bool = False) -> None:
    empty_database(url)
    last = seed(url, total_rows)
    store_forecasts(url, last)
    from energy_dash.app import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(Settings(
            database_url=url, session_secret="bench-" + "x" * 40, ingest_rate="0",
            instance_dir=Path(instance), mail_outbox=str(Path(instance) / "outbox"),
            testing=True,
        ))
        client = app.server.test_client()
        login_client(client, "bench")
        pool = Checkouts(url)

        def post(body):
            with pool:
                response = client.post("/_dash-update-component", json=body)
            assert response.status_code in (200, 204), response.status_code
            return response

        print(f"facility 1: {YEAR:,} readings (1 year, 1 min); "
              f"stored in total: {total_rows:,}")
        stamp = last
        for page, output, interval, store_id, extra, naive in TICKS:
            if pages and page not in pages:
                continue
            print(f"/{page}:")
            values = {FACILITY: 1, **extra}
            first_body = callback_body(app, output, values, [interval])
            times, first = timed(lambda b=first_body: post(b), 3)
            report.figure(f"{page}: first tick (whole page)",
                          statistics.median(times), "ms", size=len(first.data),
                          note=cpu_note(times), cpu_ms=statistics.median(CPU_MS))
            store = callback_result(first).get(store_id) if store_id else None
            body = callback_body(app, output, {**values, store_id: store}
                                 if store_id else values, [interval])
            naive_times, _ = timed(lambda n=naive, s=stamp: n(url, s), 5)
            naive_ms = statistics.median(naive_times)
            if store_id:
                pool.counts.clear()
                times, same = timed(lambda b=body: post(b), repeat)
                report.figure(
                    f"{page}: tick, nothing new (HTTP {same.status_code})",
                    statistics.median(times), "ms", peer=naive_ms,
                    peer_name="naive pandas path", target=TICK_TARGET_MS,
                    higher_is_better=False, note=cpu_note(times),
                    cpu_ms=statistics.median(CPU_MS),
                )
                report.figure(f"{page}: pool checkouts per unchanged tick",
                              max(pool.counts), "checkouts",
                              target=CHECKOUT_TARGET, higher_is_better=False)
            new_times, new_cpu, sizes = [], [], []
            pool.counts.clear()
            for i in range(repeat):
                stamp += 1_000  # all pages together stay under FUTURE_MS ahead
                data.write_readings(minute_frame(stamp, 1, seed=i), 1,
                                    database_url=url)
                times, response = timed(lambda b=body: post(b), 1)
                new_times += times
                new_cpu += CPU_MS
                sizes.append(len(response.data))
                if store_id and response.status_code == 200:
                    # (a forecast tick in the same hour patches only its now line)
                    store = callback_result(response).get(store_id, store)
                    body = callback_body(app, output, {**values, store_id: store},
                                         [interval])
            report.figure(
                f"{page}: tick with a new reading", statistics.median(new_times),
                "ms", peer=naive_ms, peer_name="naive pandas path",
                target=TICK_TARGET_MS, higher_is_better=False,
                note=f"{summary(new_times)}; CPU median "
                     f"{statistics.median(new_cpu):.1f} ms; max {max(sizes):,} bytes",
                cpu_ms=statistics.median(new_cpu),
            )
            report.figure(f"{page}: pool checkouts per tick with a new reading",
                          max(pool.counts), "checkouts", target=CHECKOUT_TARGET,
                          higher_is_better=False)
            if page == "wall":
                report.figure("wall: tick response (Patch append)", max(sizes),
                              "bytes", target=TICK_TARGET_BYTES,
                              higher_is_better=False)

        if ticks_only:
            return
        print("first chart callback of the other pages:")
        cases = [
            ("historical 7 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "7"}),
            ("historical 30 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "30"}),
            ("historical 90 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "90"}),
            ("historical custom 365 days", "historical-totals.children",
             {FACILITY: 1, "historical-range.value": "custom",
              "historical-start.date": str(pd.Timestamp(last, unit="ms")
                                                 - pd.Timedelta(days=364))[:10],
              "historical-end.date": str(pd.Timestamp(last, unit="ms"))[:10]}),
            ("voltage quality (this week)", "voltage-quality.children",
             {FACILITY: 1}),
            ("voltage alert log", "voltage-alert-log.children", {FACILITY: 1}),
        ]
        for name, output, values in cases:
            body = callback_body(app, output, values, None)
            times, response = timed(lambda b=body: post(b), 3)
            report.figure(name, statistics.median(times), "ms",
                          size=len(response.data), note=cpu_note(times),
                          cpu_ms=statistics.median(CPU_MS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=YEAR,
                        help="readings stored in total (>= 525 600)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pages", default="",
                        help="only these live pages' ticks, comma separated "
                             "(a quicker run: e.g. dashboard)")
    parser.add_argument("--ticks-only", action="store_true",
                        help="skip the first-chart callbacks of the other pages")
    args = parser.parse_args(argv)
    pages = {p.strip() for p in args.pages.split(",") if p.strip()} or None
    url = os.environ.get("BENCH_DATABASE_URL")
    report = Report("pages")
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{tmp}/bench_pages.db"
        try:
            bench(url, max(YEAR, args.rows), args.repeat, report, pages,
                  args.ticks_only)
        finally:
            dispose_engine(url)
    if pages or args.ticks_only:
        print("(a partial run: the JSON copy is left as it was)")
    else:
        report.save()
    missed = report.missed()
    print("OK" if not missed else f"{len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
