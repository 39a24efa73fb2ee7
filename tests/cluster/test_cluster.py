"""A small cluster as separate processes: what holds once there is more than one.

Two gunicorn app processes (each with the scheduler running), two Celery
workers, the MQTT subscriber (``energy-dash mqtt``), one PostgreSQL (a database
of its own next to TEST_DATABASE_URL's), one private redis-server as broker and
limit store and one private mosquitto. 200 facilities with three days of hourly
history (seasonal-naive fits of ~30 ms each).

- the refresh slot the schedulers start stores exactly one forecast per
  facility and target, although one worker is SIGKILLed in the middle of it;
- readings posted to both app processes, some twice, are stored once each;
- readings published on a bound MQTT topic while HTTP readings pour into both
  apps, some published twice, are stored once each;
- the sign-in lockout and the ingest limit count across both processes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from scale_helpers import free_port, seed_facilities, start_redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from energy_dash.db import dispose_engine, get_engine, init_db, session_scope
from energy_dash.db.models import Forecast, ForecastTask, Reading
from energy_dash.jobs import slot_start
from energy_dash.services.forecast_slots import slot_status

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DATABASE_URL")
FACILITIES = 200
INGEST_RATE = 30  # per key and minute
SECRET = "cluster-secret-" + "y" * 40
PASSWORD = "correct horse battery"
pytestmark = pytest.mark.postgres


def _cluster_url() -> str:
    """``<TEST_DATABASE_URL's database>_cluster`` on the same server, created empty."""
    if not PG_URL:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL not set: the cluster test needs PostgreSQL")
    base = make_url(PG_URL)
    name = f"{base.database}_cluster"
    admin = get_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    init_db(url)
    return url


class Cluster:
    def __init__(self, url: str, redis_url: str, workdir: Path) -> None:
        self.url = url
        self.redis_url = redis_url
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.apps: list[str] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "ENERGY_DASH_ENV": "development",
            "SESSION_SECRET": SECRET,
            "ENERGY_DASH_INSTANCE": str(workdir),
            "ENERGY_DASH_BROKER_URL": redis_url,
            "ENERGY_DASH_RATE_STORAGE": redis_url,
            "ENERGY_DASH_INGEST_RATE": f"{INGEST_RATE}/minute",
            "ENERGY_DASH_FIT_TIME_LIMIT": "5",
            "ENERGY_DASH_SCHEDULER": "1",
            "ENERGY_DASH_MAIL_OUTBOX": str(workdir / "outbox"),
        }

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("w")
        proc = subprocess.Popen(
            argv, env={**self.env, **env}, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_app(self, name: str) -> str:
        port = free_port()
        self.start(name, [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                          "--timeout", "60", "energy_dash.wsgi:server"])
        base = f"http://127.0.0.1:{port}"
        self.apps.append(base)
        return base

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for base in self.apps:
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{base} did not start: {self.logs()}")
                time.sleep(0.3)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-1500:]}" for p in self.workdir.glob("*.log")
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    url = _cluster_url()
    workdir = tmp_path_factory.mktemp("cluster")
    redis_proc, redis_url = start_redis(workdir)
    slot = slot_start(datetime.now(UTC), 3600)
    ids = seed_facilities(url, FACILITIES, hours=72,
                          end_ms=int(slot.timestamp() * 1000))
    keys = _keys(url, ids[:21])
    _user(url)
    cluster = Cluster(url, redis_url, workdir)
    cluster.ids, cluster.keys = ids, keys
    try:
        cluster.start_app("app_1")
        cluster.start_app("app_2")
        cluster.mqtt_port = _start_mqtt(cluster, ids[0])
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
        redis_proc.terminate()
        redis_proc.wait(10)
        dispose_engine(url)


MQTT_TOPIC = "site/{fid}/meter"


def _start_mqtt(cluster: Cluster, fid: int) -> int:
    """A private mosquitto, a bound topic and ``energy-dash mqtt`` as its own
    process (one per host: the subscriber's client id is the host's)."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = cluster.workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    cluster.start("mosquitto", [mosquitto, "-c", str(conf)])
    bind = subprocess.run(
        [str(BIN / "energy-dash"), "bind-topic", "--facility", str(fid),
         "--topic", MQTT_TOPIC.format(fid=fid), "--format", "native"],
        env=cluster.env, capture_output=True, text=True, timeout=60,
    )
    assert bind.returncode == 0, bind.stderr
    cluster.start("mqtt", [str(BIN / "energy-dash"), "mqtt"],
                  ENERGY_DASH_MQTT_URL=f"mqtt://127.0.0.1:{port}")
    return port


def _keys(url: str, ids: list[int]) -> dict[int, str]:
    from energy_dash.storage.devices import create_api_key

    with session_scope(url) as session:
        return {fid: create_api_key(session, fid, "cluster") for fid in ids}


def _user(url: str) -> None:
    from energy_dash.storage.accounts import create_user

    with session_scope(url) as session:
        create_user(session, "dora", PASSWORD, role="viewer")


# ------------------------------------------------------------------ forecasts
def _wait_status(url: str, ready, timeout: float, slot=None) -> dict | None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = slot_status(url, slot)
        if status and ready(status):
            break
        time.sleep(0.1)
    return status


def test_refresh_slot_is_stored_once_though_a_worker_dies(cluster):
    url = cluster.url
    # one of the two schedulers won the slot's lease and queued every fit
    status = _wait_status(url, lambda s: s["total"] == 2 * FACILITIES, 30)
    assert status and status["queued"] == 2 * FACILITIES, cluster.logs()
    for name in ("worker_a", "worker_b"):
        cluster.start(name, [str(BIN / "energy-dash"), "worker", "-c", "1",
                             "--loglevel", "INFO", "--name", f"{name}@cluster"])
    status = _wait_status(url, lambda s: s["done"] >= 80, 60, status["slot"])
    cluster.kill("worker_a")  # mid-slot: it holds an unacknowledged task
    assert not status["complete"], "the slot ended before the kill"
    with session_scope(url) as session:
        in_flight = session.execute(
            select(ForecastTask.id).where(
                ForecastTask.worker == "worker_a@cluster",
                ForecastTask.status == "running",
            )
        ).scalars().all()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = slot_status(url, status["slot"])
        if status["complete"]:
            break
        time.sleep(0.5)
    assert status["complete"], f"{status}\n{cluster.logs()}"
    assert (status["done"], status["failed"]) == (2 * FACILITIES, 0)
    with session_scope(url) as session:
        per_pair = session.execute(
            select(Forecast.facility_id, Forecast.target, func.count())
            .where(Forecast.slot == status["slot"])
            .group_by(Forecast.facility_id, Forecast.target)
        ).all()
        by_worker = dict(session.execute(
            select(ForecastTask.worker, func.count()).group_by(ForecastTask.worker)
        ).all())
        redone = session.execute(
            select(ForecastTask.worker, ForecastTask.attempts)
            .where(ForecastTask.id.in_(in_flight))
        ).all()
    assert len(per_pair) == 2 * FACILITIES
    assert {n for _, _, n in per_pair} == {1}
    assert by_worker.get("worker_a@cluster", 0) >= 30  # both really worked
    assert by_worker.get("worker_b@cluster", 0) >= 30
    # a fit cut off by the kill was done again by the surviving worker
    assert all(w == "worker_b@cluster" and n == 2 for w, n in redone)


# ------------------------------------------------------------------- readings
def _post(base: str, key: str, payload: dict) -> int:
    response = requests.post(
        f"{base}/api/hardware/data", json=payload, headers={"X-API-Key": key},
        timeout=20,
    )
    return response.status_code


def test_readings_posted_to_both_apps_are_stored_once(cluster):
    now = int(time.time())
    jobs = []
    for n, key in enumerate(list(cluster.keys.values())[:20]):
        for i in range(10):
            payload = {"energy_produced": 0.1, "energy_consumed": 0.2 + i,
                       "current_load": 10, "voltage": 230.0,
                       "timestamp": now - 600 + i * 30, "device_id": "cluster"}
            jobs.append((cluster.apps[(n + i) % 2], key, payload))
    repeats = [(cluster.apps[1] if base == cluster.apps[0] else cluster.apps[0],
                key, payload) for base, key, payload in jobs[::4]]
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda job: _post(*job), jobs))
        again = list(pool.map(lambda job: _post(*job), repeats))
    assert first == [201] * 200
    assert again == [200] * 50
    ids = list(cluster.keys)[:20]
    with session_scope(cluster.url) as session:
        stored = session.execute(
            select(Reading.facility_id, func.count(), func.sum(Reading.energy_consumed))
            .where(Reading.device_id == "cluster", Reading.facility_id.in_(ids))
            .group_by(Reading.facility_id)
        ).all()
    assert sorted(stored) == [(fid, 10, pytest.approx(47.0)) for fid in sorted(ids)]


# ---------------------------------------------------------------------- limits
def _login(base: str, username: str, password: str) -> int:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(
        f"{base}/login", allow_redirects=False, timeout=10,
        data={"username": username, "password": password, "csrf_token": token},
    )
    return response.status_code


def test_sign_in_lockout_holds_across_both_apps(cluster):
    codes = [_login(cluster.apps[i % 2], "dora", "wrong password!") for i in range(10)]
    assert codes == [200] * 10
    assert [_login(base, "dora", PASSWORD) for base in cluster.apps] == [429, 429]


def test_ingest_limit_holds_across_both_apps(cluster):
    key = list(cluster.keys.values())[20]
    now = int(time.time())
    codes = [
        _post(cluster.apps[i % 2], key, {
            "energy_produced": 0.0, "energy_consumed": 0.1, "current_load": 1,
            "timestamp": now - 300 + i, "device_id": "limit",
        })
        for i in range(INGEST_RATE + 10)
    ]
    assert codes.count(201) == INGEST_RATE
    assert codes.count(429) == 10


# ------------------------------------------------------------------------ MQTT
def _mqtt_count(url: str, fid: int) -> tuple[int, float]:
    with session_scope(url) as session:
        count, total = session.execute(
            select(func.count(), func.sum(Reading.energy_consumed)).where(
                Reading.facility_id == fid, Reading.device_id == "mqtt"
            )
        ).one()
    return int(count), float(total or 0.0)


def test_mqtt_readings_published_during_http_load_are_stored_once(cluster):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    fid = cluster.ids[0]
    log = cluster.workdir / "mqtt.log"
    deadline = time.monotonic() + 60
    while "MQTT subscriptions: +1" not in log.read_text():
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.2)
    now = int(time.time())
    http = [  # the apps are busy meanwhile: other facilities post over HTTP
        (cluster.apps[i % 2], key, {
            "energy_produced": 0.0, "energy_consumed": 0.5, "current_load": 5,
            "timestamp": now - 900 + i, "device_id": "during-mqtt",
        })
        for i, key in enumerate(list(cluster.keys.values())[1:11])
    ]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t{uuid.uuid4().hex}")
    client.connect("127.0.0.1", cluster.mqtt_port)
    client.loop_start()
    with ThreadPoolExecutor(4) as pool:
        posted = pool.map(lambda job: _post(*job), http)
        for i in list(range(40)) + list(range(0, 40, 4)):  # 10 sent twice
            payload = json.dumps({"energy_produced": 0, "energy_consumed": i + 1,
                                  "current_load": 5, "timestamp": now - 200 + i,
                                  "device_id": "mqtt"})
            client.publish(MQTT_TOPIC.format(fid=fid), payload, qos=1
                           ).wait_for_publish(5)
        assert list(posted) == [201] * 10
    client.loop_stop()
    client.disconnect()
    deadline = time.monotonic() + 30
    while _mqtt_count(cluster.url, fid)[0] < 40 and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1)  # a late duplicate would land by now
    assert _mqtt_count(cluster.url, fid) == (40, float(sum(range(1, 41))))
