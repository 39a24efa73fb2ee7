"""Quick facilities with short hourly histories for the scale-out tests.

Rows go in with one executemany and the rollups are rebuilt in SQL, as the
migration that introduced them does: seeding 200 facilities takes a second.
"""

from __future__ import annotations

import random

from sqlalchemy import delete, insert, text

from energy_dash.db import get_engine
from energy_dash.db.models import (
    READING_FIELDS,
    Base,
    Facility,
    Reading,
    ReadingRollup,
)

HOUR_MS = 3_600_000


def truncate_all(url: str) -> None:
    """Empty every table of the models (ids restart): a clean PostgreSQL test."""
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def seed_facilities(url: str, count: int, *, hours: int, end_ms: int) -> list[int]:
    """``count`` UTC facilities with ``hours`` hourly readings ending at ``end_ms``.

    Consumption follows a daily shape with noise, production a midday bump, so
    the seasonal-naive baselines have something to forecast. Returns the ids.
    """
    rng = random.Random(7)
    engine = get_engine(url)
    with engine.begin() as conn:
        ids = [
            conn.execute(
                insert(Facility).values(
                    name=f"Site {n}", timezone="UTC", capacity_kw=50.0,
                    nominal_voltage=230.0, expected_interval_s=3600,
                    voltage_warning_pct=10.0, voltage_critical_pct=15.0,
                    voltage_hysteresis_pct=1.0,
                )
            ).inserted_primary_key[0]
            for n in range(count)
        ]
        start = end_ms - hours * HOUR_MS
        rows = []
        for fid in ids:
            for h in range(hours):
                ts = start + (h + 1) * HOUR_MS - 60_000  # inside hour h
                hour = (ts // HOUR_MS) % 24
                rows.append({
                    "facility_id": fid, "device_id": "meter", "ts_ms": ts,
                    "energy_consumed": 2.0 + (hour in range(7, 22)) * 3.0
                    + rng.random(),
                    "energy_produced": max(0.0, 4.0 - abs(hour - 12) * 0.7),
                    "current_load": 20.0, "voltage": 230.0,
                })
        conn.execute(insert(Reading), rows)
        rebuild_rollups(conn)
    return ids


def rebuild_rollups(conn) -> None:
    """Recompute every 15-minute rollup from the raw readings."""
    least = "min" if conn.dialect.name == "sqlite" else "least"
    names = ", ".join(f"{f}_sum, {f}_n" for f in READING_FIELDS)
    sums = ", ".join(f"COALESCE(SUM({f}), 0), COUNT({f})" for f in READING_FIELDS)
    conn.execute(delete(ReadingRollup))
    conn.execute(
        text(
            f"INSERT INTO reading_rollups (facility_id, bucket_ms, samples, "
            f"self_supplied, {names}) SELECT facility_id, (ts_ms / 900000) * 900000, "
            f"COUNT(*), COALESCE(SUM({least}(energy_produced, energy_consumed)), 0), "
            f"{sums} FROM readings GROUP BY facility_id, (ts_ms / 900000) * 900000"
        )
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REDIS_SERVER = "/usr/bin/redis-server"


def start_redis(workdir) -> tuple[object, str]:
    """A private redis-server on a free port: (process, redis:// URL)."""
    import shutil
    import subprocess
    import time

    import redis

    binary = shutil.which("redis-server") or REDIS_SERVER
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    return proc, url
