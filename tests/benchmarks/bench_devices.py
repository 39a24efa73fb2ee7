"""Device ingestion benchmark: MQTT messages/s and line-protocol points/s.

    python tests/benchmarks/bench_devices.py [--messages N] [--requests R]

1. MQTT: a private mosquitto, the real subscriber (shared subscription, QoS 1,
   acknowledged after commit) storing into a temporary SQLite database (and into
   ``BENCH_DATABASE_URL`` when set: its schema is dropped first). A QoS 1
   publisher sends N native-format readings; the figure is messages/s from the
   first publish until every reading is committed, and how many were lost
   (target >= 5 000/s, zero lost).
2. Line protocol: ``POST /api/v2/write`` with 5 000-line bodies (IoTaWatt-style
   ``Mains``/``Solar`` points) through the app's WSGI stack; points/s
   (target >= 100 000).

Client, broker and database share the machine's cores; the figures understate a
dedicated server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select, text

from energy_dash.app import create_app
from energy_dash.config import Settings
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope
from energy_dash.db.models import Facility, Reading
from energy_dash.services.bindings import bind_influx, bind_topic
from energy_dash.storage.devices import create_api_key
from ingest.mqtt_sink import build_subscriber

MQTT_TARGET = 5_000
LINES_TARGET = 100_000
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
T0 = 1_767_225_600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(textwrap.dedent(f"""\
        listener {port} 127.0.0.1
        allow_anonymous true
        persistence false
        max_queued_messages 0
        max_inflight_messages 0
    """) + ("user root\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def make_facility(url: str) -> int:
    with session_scope(url, write=True) as session:
        row = Facility(name="Bench", timezone="UTC", capacity_kw=100.0,
                       expected_interval_s=60)
        session.add(row)
        session.flush()
        return row.id


def stored(url: str, facility_id: int) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(Reading).where(
            Reading.facility_id == facility_id)).scalar_one()


PUBLISHER = textwrap.dedent("""\
    import json, sys, time
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    port, count, t0 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                      client_id="bench-publisher", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(100)  # paho slows down with thousands in flight
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = []
    for i in range(count):
        body = json.dumps({"timestamp": t0 + i, "energy_consumed": 0.01,
                           "energy_produced": 0.02, "current_load": 10.0,
                           "voltage": 230.0, "device_id": f"m{i % 10}"})
        infos.append(pub.publish(f"bench/m{i % 10}/reading", body, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    pub.disconnect()
    pub.loop_stop()
""")


def bench_mqtt(url: str, label: str, messages: int, folder: Path) -> None:
    """Devices publish from their own process; the subscriber stores here."""
    facility_id = make_facility(url)
    bind_topic(url, facility_id, "bench/+/reading", "native")
    broker, port = start_broker(folder)
    sub = build_subscriber(url, f"mqtt://127.0.0.1:{port}", client_id=f"bench-{label}")
    publisher = None
    try:
        sub.start()
        sub.connected.wait(10)
        started = time.perf_counter()
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port),
                                      str(messages), str(T0)])
        deadline = time.monotonic() + max(60, messages / 500)
        count = 0
        while time.monotonic() < deadline:
            count = stored(url, facility_id)
            if count >= messages:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        rate = count / elapsed if elapsed else 0.0
        verdict = "ok" if rate >= MQTT_TARGET and count == messages else "BELOW TARGET"
        print(f"[{label}] MQTT QoS 1 -> committed: {rate:,.0f} msgs/s "
              f"({count:,} of {messages:,} stored, {messages - count} lost, "
              f"{elapsed:.1f} s; target >= {MQTT_TARGET:,}/s) {verdict}", flush=True)
    finally:
        if publisher is not None:
            publisher.wait(60)
        sub.stop()
        broker.terminate()
        broker.wait(10)


def bench_lines(url: str, label: str, requests: int) -> None:
    facility_id = make_facility(url)
    with session_scope(url, write=True) as session:
        key = create_api_key(session, facility_id, "iotawatt")
    for measurement, role in (("Mains", "consumption"), ("Solar", "production")):
        bind_influx(url, facility_id, measurement, tags={"device": "IotaWatt"},
                    role=role, kind="power", unit="W")
    settings = Settings(database_url=url, session_secret="bench-" + "x" * 40,
                        ingest_rate="0", instance_dir=Path(tempfile.mkdtemp()),
                        testing=True)
    app = create_app(settings)
    client = app.server.test_client()
    headers = {"Authorization": f"Token {key}", "Content-Type": "text/plain"}
    points = 0
    elapsed = 0.0
    for r in range(requests):
        base = T0 + r * 2500
        body = "\n".join(
            f"{'Mains' if i % 2 == 0 else 'Solar'},device=IotaWatt "
            f"value={1000 + i % 97}.25 {base + i // 2}"
            for i in range(5000)
        ).encode()
        started = time.perf_counter()
        response = client.post("/api/v2/write?bucket=b&org=o&precision=s",
                               data=body, headers=headers)
        elapsed += time.perf_counter() - started
        if response.status_code != 204:
            print(f"[{label}] write answered {response.status_code}: "
                  f"{response.get_data(as_text=True)[:200]}")
            return
        points += 5000
    rate = points / elapsed if elapsed else 0.0
    verdict = "ok" if rate >= LINES_TARGET else "BELOW TARGET"
    print(f"[{label}] line protocol, 5 000-line requests: {rate:,.0f} points/s "
          f"({requests} requests, {stored(url, facility_id):,} readings; "
          f"target >= {LINES_TARGET:,}) {verdict}", flush=True)


def run(url: str, label: str, args, folder: Path) -> None:
    init_db(url)
    bench_mqtt(url, label, args.messages, folder)
    bench_lines(url, label, args.requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    if not os.path.exists(MOSQUITTO):
        print("mosquitto not installed: MQTT benchmark skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        run(url, "sqlite", args, folder)
        dispose_engine(url)
        pg = os.environ.get("BENCH_DATABASE_URL")
        if pg:
            with get_engine(pg).begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            run(pg, "postgresql", args, folder)


if __name__ == "__main__":
    sys.exit(main())
