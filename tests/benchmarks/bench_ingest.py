"""Sensor API benchmark: the ingest hot path against a bare Flask peer, bulk rows/s.

    python tests/benchmarks/bench_ingest.py [--seconds S] [--clients N]

1. ``POST /api/hardware/data`` requests/s of the app under gunicorn (2 sync workers,
   a temporary SQLite database, one facility, one key, rate limit off) against
   ``/work/shared/bench/bare_flask.py`` under the same server, loaded by the same
   client; prints both and the ratio (target >= 0.7).
2. Bulk ingest over HTTP: 10 000-row JSON arrays, rows/s, one request at a time
   and two at a time (one per worker; the target >= 100 000 applies to this).
   Two payloads: what gateways send (ISO 8601 timestamps with an offset,
   voltage, a device id; JSON array and NDJSON) and the benchmark's own (Unix
   seconds, every field). Peer: the same rows as plain sqlite3 ``executemany``.
   With ``BENCH_DATABASE_URL`` (a PostgreSQL database of its own: it is
   emptied) the bulk figures are measured on PostgreSQL too, with
   ``BENCH_PG_STORED`` readings of another facility already stored (default
   10 000 000, as bench_data.py); peer: psycopg ``executemany`` of the rows.
   ``data.write_readings`` is measured in bench_data.py.

The client is a few processes of raw-socket loops (one request per connection,
as gunicorn's sync workers close every connection). Client and servers share the
machine's cores, so absolute figures understate a dedicated server; the ratio is
what compares. Everything stays on loopback and is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # report, bench_data
SHARED_BENCH = (REPO / ".." / "shared" / "bench").resolve()
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
RATIO_AIM = 0.7
ROWS_TARGET = 100_000
READING = {
    "energy_produced": 75.5, "energy_consumed": 62.3, "current_load": 35.8,
    "voltage": 230.5, "current": 15.2, "current1": 5.1, "current2": 5.0,
    "current3": 5.1, "frequency": 50.0, "power_factor": 0.95, "facility_id": 1,
}


# ------------------------------------------------------------------ servers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, port: int, env: dict[str, str], chdir: Path | None,
                   log: Path) -> subprocess.Popen:
    cmd = [GUNICORN, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if chdir is not None:
        cmd += ["--chdir", str(chdir)]
    cmd.append(target)
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, path: str, proc: subprocess.Popen, timeout_s: float = 90):
    """Until ``path`` answers (any HTTP status) on both workers, or fail."""
    deadline = time.monotonic() + timeout_s
    answered = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
            answered += 1
        except urllib.error.HTTPError:
            answered += 1
        except OSError:
            time.sleep(0.2)
            continue
        if answered >= 4:
            return
    raise RuntimeError(f"server on port {port} did not start in {timeout_s} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# ------------------------------------------------------------------- client
def _request_bytes(path: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nX-API-Key: {key}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _exchange(port: int, payload: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response[9:12]) if len(response) >= 12 else 0


def _load_worker(port, key, worker, base_ts, stop_at, max_requests, queue):
    statuses: dict[int, int] = {}
    done = 0
    device = f"bench-{worker}"
    while done < max_requests and time.monotonic() < stop_at:
        body = dict(READING, device_id=device, timestamp=base_ts + done)
        payload = _request_bytes("/api/hardware/data", key, json.dumps(body).encode())
        try:
            status = _exchange(port, payload)
        except OSError:
            status = 0
        statuses[status] = statuses.get(status, 0) + 1
        done += 1
    queue.put(statuses)


def load(port: int, key: str, seconds: float, clients: int, base_ts: int,
         max_requests: int = 200_000) -> tuple[float, dict[int, int]]:
    """Requests/s over ``seconds`` with ``clients`` processes; and the statuses."""
    if max_requests // clients > 86_400:
        raise ValueError("one day of seconds per client must hold its requests")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.monotonic()
    stop_at = start + seconds
    procs = [
        ctx.Process(target=_load_worker, args=(
            port, key, i, base_ts + i * 86_400, stop_at,
            max_requests // clients, queue))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    statuses: dict[int, int] = {}
    for _ in procs:
        for status, n in queue.get(timeout=seconds + 60).items():
            statuses[status] = statuses.get(status, 0) + n
    for p in procs:
        p.join(10)
    elapsed = time.monotonic() - start
    return sum(statuses.values()) / elapsed, statuses


# -------------------------------------------------------------------- setup
def prepare_database(workdir: Path, url: str | None = None,
                     stored: int = 0) -> tuple[str, str]:
    """A migrated database with the bench facility and its key (``url``: an
    emptied PostgreSQL database, ``stored`` readings of a second facility)."""
    from energy_dash.db import dispose_engines, get_engine, init_db, session_scope
    from energy_dash.db.models import Facility
    from energy_dash.storage.devices import create_api_key

    if url is None:
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        from sqlalchemy import text

        with get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    init_db(url)
    with session_scope(url) as session:
        # Sized for what READING posts (75.5 kWh a minute is ~4.5 MW): a 100 kW
        # facility would log every reading as an unlikely value (a second write).
        session.add(Facility(name="Bench", timezone="Europe/Berlin",
                             expected_interval_s=60, capacity_kw=5000.0))
        session.add(Facility(name="History", timezone="Europe/Berlin"))
        session.flush()
        key = create_api_key(session, 1, "bench")
    if stored:
        from bench_data import store_large_table

        seconds = store_large_table(url, 2, stored)
        print(f"{stored:,} readings stored first (built in {seconds:.0f} s)")
    dispose_engines()
    return url, key


def _send_bulk(port: int, payload: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if head[9:12] != b"200":
        raise RuntimeError(f"bulk request failed: {head[:12]!r} {body[:200]!r}")
    answer = json.loads(body)
    if answer["rejected"]:
        raise RuntimeError(f"bulk rows rejected: {answer['rejected'][:3]}")
    return answer["accepted"]


def bench_rows(base_ts: int, count: int) -> list[dict]:
    """The benchmark's own payload: every field, Unix-second timestamps."""
    return [
        dict(READING, device_id="bulk", timestamp=base_ts + i, voltage=230.0 + (i % 7))
        for i in range(count)
    ]


def gateway_rows(base_ts: int, count: int, device: str = "gw-3f9a01") -> list[dict]:
    """What real gateways send: ISO 8601 with a UTC offset, voltage, a device id.

    One reading per second from ``base_ts`` on, stamped in the facility's local
    time (``+01:00``), the three required fields, voltage and nothing else.
    """
    offset = 3600
    rows = []
    for i in range(count):
        local = time.gmtime(base_ts + i + offset)
        rows.append({
            "device_id": device,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+01:00", local),
            "energy_produced": round(0.0125 + (i % 13) * 0.001, 4),
            "energy_consumed": round(0.0093 + (i % 11) * 0.001, 4),
            "current_load": round(30 + (i % 17) * 0.5, 1),
            "voltage": round(229.5 + (i % 9) * 0.25, 2),
        })
    return rows


def bulk_payload(rows: list[dict], kind: str, key: str) -> bytes:
    """One bulk request: a JSON array or NDJSON (one object per line)."""
    if kind == "ndjson":
        body = "\n".join(json.dumps(r) for r in rows).encode() + b"\n"
        ctype = "application/x-ndjson"
    else:
        body = json.dumps(rows).encode()
        ctype = "application/json"
    return _request_bytes("/api/hardware/data/bulk", key, body).replace(
        b"Content-Type: application/json", f"Content-Type: {ctype}".encode(), 1)


def bulk_rows_per_s(port: int, key: str, base_ts: int, senders: int = 1,
                    batches: int = 4, kind: str = "bench") -> float:
    """Rows/s of 10 000-row requests, ``senders`` requests in flight at once."""
    from concurrent.futures import ThreadPoolExecutor

    total = senders * batches
    payloads = []
    for b in range(total):
        first = base_ts + b * 10_000
        if kind == "bench":
            payloads.append(_request_bytes("/api/hardware/data/bulk", key, json.dumps(
                bench_rows(first, 10_000)).encode()))
        else:
            payloads.append(bulk_payload(gateway_rows(first, 10_000), kind, key))
    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        accepted = sum(pool.map(lambda p: _send_bulk(port, p), payloads))
    elapsed = time.perf_counter() - start
    if accepted != total * 10_000:
        raise RuntimeError(f"bulk accepted {accepted} of {total * 10_000}")
    return accepted / elapsed


def executemany_rows_per_s(url: str, base_ts: int, batches: int = 4) -> float:
    """The peer of bulk ingest: the same rows as plain DB-API executemany.

    10 000 rows per transaction into the same table (same indexes, same
    database, a device id of its own), no parsing, validation or rollups: the
    floor a bulk write of these rows costs on this database (sqlite3, or psycopg
    on PostgreSQL).
    """
    from sqlalchemy.engine import make_url

    columns = ("facility_id", "device_id", "ts_ms", "energy_produced",
               "energy_consumed", "current_load", "voltage")
    sqlite = make_url(url).get_backend_name() == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (f"INSERT INTO readings ({', '.join(columns)}) VALUES "
           f"({', '.join([mark] * len(columns))}) "
           "ON CONFLICT (facility_id, device_id, ts_ms) DO NOTHING")
    if sqlite:
        import sqlite3

        conn = sqlite3.connect(make_url(url).database, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    else:
        import psycopg

        conn = psycopg.connect(make_url(url).set(drivername="postgresql")
                               .render_as_string(hide_password=False))
    batches_rows = [
        [(1, "peer", (base_ts + b * 10_000 + i) * 1000, 0.0125, 0.0093, 30.0,
          229.5 + (i % 9) * 0.25) for i in range(10_000)]
        for b in range(batches)
    ]
    start = time.perf_counter()
    for rows in batches_rows:
        if sqlite:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        else:
            conn.cursor().executemany(sql, rows)
            conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return batches * 10_000 / elapsed


def warm_up(port: int, key: str, base_ts: int, workers: int = 2) -> None:
    """Bulk requests on every worker first: a worker's first request builds Dash's
    server-side state (seconds here), which must not count as ingest time.
    Requests sent one at a time may all reach the same sync worker, so they go
    several at a time: a busy worker leaves the next connection to another."""
    from concurrent.futures import ThreadPoolExecutor

    payloads = [
        bulk_payload(gateway_rows(base_ts + i * 2000, 2000, device=f"warm-{i}"),
                     "json", key)
        for i in range(workers * 4)
    ]
    with ThreadPoolExecutor(workers * 2) as pool:
        list(pool.map(lambda p: _send_bulk(port, p), payloads))


def bulk_figures(report, port: int, key: str, url: str, blocks, label: str,
                 note: str) -> dict[str, float]:
    """The three bulk payloads over HTTP, each beside its executemany peer."""
    figures = {}
    warm_up(port, key, next(blocks))
    peer = executemany_rows_per_s(url, next(blocks))
    driver = "sqlite3" if url.startswith("sqlite") else "psycopg"
    for kind, what in (("json", "JSON array"), ("ndjson", "NDJSON"),
                       ("bench", "JSON array, Unix seconds, all fields")):
        rate = bulk_rows_per_s(port, key, next(blocks), senders=2, kind=kind)
        report.figure(
            f"{label}bulk over HTTP, 10 000-row {what}, 2 at a time", rate,
            "rows/s", peer=peer, peer_name=f"{driver} executemany",
            target=ROWS_TARGET, note=note,
        )
        figures[f"{label.strip('[] ')}bulk_{kind}_rows_per_s"] = rate
    return figures


# --------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, float]:
    from report import Report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measurement time per round and server (default 5)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds per server (default 2)")
    parser.add_argument("--clients", type=int, default=4,
                        help="client processes (default 4)")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--skip-single", action="store_true")
    args = parser.parse_args(argv)

    if not (SHARED_BENCH / "bare_flask.py").exists():
        raise SystemExit(f"bare_flask.py not found in {SHARED_BENCH}")
    report = Report("ingest")
    workdir = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    procs: list[subprocess.Popen] = []
    try:
        url, key = prepare_database(workdir)
        env = dict(
            os.environ,
            DATABASE_URL=url,
            ENERGY_DASH_ENV="development",
            ENERGY_DASH_INSTANCE=str(workdir),
            ENERGY_DASH_SCHEDULER="0",
            ENERGY_DASH_INGEST_RATE="0",
            SESSION_SECRET="bench-" + "s" * 48,
            ENERGY_DASH_MAIL_OUTBOX=str(workdir / "outbox"),
        )
        env.pop("HARDWARE_API_KEY", None)
        app_port, bare_port = free_port(), free_port()
        app_proc = start_gunicorn("energy_dash.wsgi:server", app_port, env, None,
                                  workdir / "app.log")
        procs.append(app_proc)
        bare_proc = start_gunicorn("bare_flask:app", bare_port, env, SHARED_BENCH,
                                   workdir / "bare.log")
        procs.append(bare_proc)
        wait_ready(app_port, "/healthz", app_proc)
        wait_ready(bare_port, "/api/hardware/data", bare_proc)

        load1, load5, _ = os.getloadavg()
        load_note = f"load {load1:.1f}/{load5:.1f} on {os.cpu_count()} CPUs"
        print(f"gunicorn -w 2 (sync), {os.cpu_count()} CPU(s) shared with "
              f"{args.clients} client processes; SQLite in {workdir}; load average "
              f"before the run {load1:.1f} (1 min) {load5:.1f} (5 min)")
        # Every load gets its own block of days: readings are all new, none in the
        # future (each client process sends one reading per second of its own day).
        blocks = iter(range(int(time.time()) - 300 * 86400, int(time.time()),
                            (args.clients + 1) * 86400))
        figures: dict[str, float] = {}
        if not args.skip_single:
            # Warm-up: first requests build Dash's server-side state in each worker.
            load(bare_port, key, 1.0, args.clients, next(blocks))
            load(app_port, key, 1.0, args.clients, next(blocks))
            rates: dict[str, list[float]] = {"bare": [], "app": []}
            for _ in range(args.rounds):
                for name, port in (("bare", bare_port), ("app", app_port)):
                    rps, statuses = load(port, key, args.seconds, args.clients,
                                         next(blocks))
                    bad = {s: n for s, n in statuses.items() if not 200 <= s < 300}
                    if bad:
                        raise RuntimeError(f"{name}: non-2xx answers {bad}")
                    rates[name].append(rps)
            bare = sum(rates["bare"]) / len(rates["bare"])
            app = sum(rates["app"]) / len(rates["app"])
            report.figure(
                "POST /api/hardware/data, one reading per request", app, "req/s",
                peer=bare, peer_name="bare Flask", target=RATIO_AIM,
                target_of="ratio", note=load_note,
                rounds_app=rates["app"], rounds_bare=rates["bare"],
            )
            figures.update(bare_rps=bare, app_rps=app, ratio=app / bare)
        if not args.skip_bulk:
            figures.update(bulk_figures(report, app_port, key, url, blocks, "",
                                        load_note))
            pg = os.environ.get("BENCH_DATABASE_URL")
            if pg:
                stop(app_proc)
                stored = int(os.environ.get("BENCH_PG_STORED", "10000000"))
                pg, pg_key = prepare_database(workdir, pg, stored)
                pg_port = free_port()
                pg_proc = start_gunicorn("energy_dash.wsgi:server", pg_port,
                                         dict(env, DATABASE_URL=pg), None,
                                         workdir / "app-pg.log")
                procs.append(pg_proc)
                wait_ready(pg_port, "/healthz", pg_proc)
                note = (f"{stored:,} rows stored; load "
                        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
                figures.update(bulk_figures(report, pg_port, pg_key, pg, blocks,
                                            "[postgresql] ", note))
        return figures
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
        if report.figures:
            report.save()


if __name__ == "__main__":
    main()
