"""SIGKILL the server during bulk and single ingest, restart: nothing acknowledged is
lost or doubled, and the rollups still equal the raw sums. Both engines."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from hostile_server import Server
from sqlalchemy import text

from energy_dash.db import dispose_engine, get_engine, session_scope
from energy_dash.db.models import Facility
from energy_dash.storage.devices import create_api_key

CRASHES = 2
RUN_S = 2.5
BATCH = 200


class Load:
    """Single and bulk writers that remember what the server acknowledged."""

    def __init__(self, base: str, key: str, start_s: int) -> None:
        self.base = base
        self.key = key
        self.acked: set[tuple[str, int]] = set()
        self.lock = threading.Lock()
        self.next_s = {"single-0": start_s, "single-1": start_s, "single-2": start_s,
                       "bulk-0": start_s, "bulk-1": start_s}

    def _body(self, ts: int) -> dict:
        return {"energy_produced": 0.5, "energy_consumed": 0.25,
                "current_load": 5.0, "voltage": 230.0, "timestamp": ts}

    def single(self, device: str, stop: threading.Event) -> None:
        with requests.Session() as http:
            while not stop.is_set():
                ts = self.next_s[device]
                try:
                    response = http.post(
                        self.base + "/api/hardware/data", timeout=5,
                        json={**self._body(ts), "device_id": device},
                        headers={"X-API-Key": self.key},
                    )
                except requests.RequestException:
                    return  # the server is gone; whether it stored this is open
                if response.status_code in (200, 201):
                    with self.lock:
                        self.acked.add((device, ts * 1000))
                    self.next_s[device] = ts + 1

    def bulk(self, device: str, stop: threading.Event) -> None:
        with requests.Session() as http:
            while not stop.is_set():
                first = self.next_s[device]
                rows = [{**self._body(first + i), "device_id": device}
                        for i in range(BATCH)]
                try:
                    response = http.post(
                        self.base + "/api/hardware/data/bulk", timeout=10, json=rows,
                        headers={"X-API-Key": self.key},
                    )
                except requests.RequestException:
                    return
                if response.status_code == 200:
                    try:
                        answer = response.json()
                    except ValueError:  # killed between the headers and the body:
                        return  # not an acknowledgement (urllib3 1.x reads it short)
                    assert answer["rejected"] == []
                    with self.lock:
                        self.acked.update((device, (first + i) * 1000)
                                          for i in range(BATCH))
                    self.next_s[device] = first + BATCH


def test_sigkill_during_ingest_keeps_every_acknowledged_row_once(
    database_url, tmp_path
):
    with session_scope(database_url) as db:
        facility = Facility(name="Crash", expected_interval_s=60)
        db.add(facility)
        db.flush()
        key = create_api_key(db, facility.id, "crash")
    server = Server(database_url, tmp_path, workers=2)
    # Far enough back that a fast bulk writer (200 rows a request, 1 s apart) never
    # reaches the future over all the crashes.
    start_s = int(time.time()) - 20 * 86_400
    load = None
    try:
        for _ in range(CRASHES):
            server.start()
            load = Load(server.url, key, start_s) if load is None else load
            load.base = server.url
            stop = threading.Event()
            with ThreadPoolExecutor(5) as pool:
                jobs = [pool.submit(load.single, d, stop)
                        for d in ("single-0", "single-1", "single-2")]
                jobs += [pool.submit(load.bulk, d, stop) for d in ("bulk-0", "bulk-1")]
                time.sleep(RUN_S)
                server.kill()  # master and workers, mid-request
                stop.set()
                for job in jobs:
                    job.result(30)
            for device in load.next_s:  # whatever was in flight may be stored:
                load.next_s[device] += BATCH  # never reuse those stamps
        server.start()  # a last start: the migrations and the app come up cleanly
    finally:
        server.stop()
    if database_url.startswith("sqlite"):
        dispose_engine(database_url)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(text(
            "SELECT device_id, ts_ms FROM readings WHERE facility_id = :f"
        ), {"f": facility.id}).all()
        mismatched = conn.execute(text(
            "SELECT r.bucket_ms FROM reading_rollups r LEFT JOIN ("
            " SELECT (ts_ms / 900000) * 900000 AS bucket, COUNT(*) AS n,"
            " SUM(energy_produced) AS p, SUM(energy_consumed) AS c,"
            " SUM(voltage) AS v FROM readings WHERE facility_id = :f"
            " GROUP BY (ts_ms / 900000) * 900000) raw ON raw.bucket = r.bucket_ms "
            "WHERE r.facility_id = :f AND (raw.n IS NULL OR r.samples <> raw.n"
            " OR abs(r.energy_produced_sum - raw.p) > 1e-6"
            " OR abs(r.energy_consumed_sum - raw.c) > 1e-6"
            " OR abs(r.voltage_sum - raw.v) > 1e-6)"
        ), {"f": facility.id}).all()
        buckets = conn.execute(text(
            "SELECT COUNT(DISTINCT (ts_ms / 900000)) FROM readings "
            "WHERE facility_id = :f"), {"f": facility.id}).scalar()
        rollups = conn.execute(text(
            "SELECT COUNT(*) FROM reading_rollups WHERE facility_id = :f"
        ), {"f": facility.id}).scalar()
    stored = {(d, int(t)) for d, t in rows}
    print(f"crash test: {len(load.acked)} acknowledged, {len(rows)} stored, "
          f"{CRASHES} SIGKILLs")
    assert len(load.acked) > 100
    assert load.acked <= stored  # every acknowledged row is there
    assert len(rows) == len(stored)  # and none twice
    assert mismatched == []
    assert rollups == buckets
