"""Device ingestion benchmark: MQTT messages/s and line-protocol points/s.

    python tests/benchmarks/bench_devices.py [--messages N] [--publishers P]
        [--publisher raw|paho] [--requests R]

Each figure is printed beside the HTTP bulk rate (``POST
/api/hardware/data/bulk``, 10 000-row JSON arrays through the same app and the
same database, measured in the same run) and kept as JSON (``report.py``).

1. MQTT: a private mosquitto, the real subscriber (shared subscription, QoS 1,
   acknowledged after commit) storing into a temporary SQLite database, and into
   ``BENCH_DATABASE_URL`` when set (its schema is dropped first). P publisher
   processes (devices) send N native-format readings (stamped with the current
   time) at QoS 1 with up to 1 000 in flight each. The figure is messages/s from
   the first publish until the last reading is committed; every publisher must
   have its PUBACKs and the database must hold exactly N readings (target
   >= 5 000/s, zero lost). ``--undated`` leaves the timestamp out, so the
   server dates each reading at receipt (and records the message's identity).
   ``--publisher raw`` (default) writes pre-encoded MQTT 5 packets on a socket,
   so the devices cost the machine little; ``paho`` uses the paho client.
2. Line protocol: ``POST /api/v2/write`` with 5 000-line bodies (IoTaWatt-style
   ``Mains``/``Solar`` power points) through the app's WSGI stack; points/s
   (target >= 100 000).

Publishers, broker, subscriber and database share the machine's cores (and
the machine is shared); the figures understate a dedicated server, and the
ratio to the bulk rate measured seconds apart is what compares across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from energy_dash.app import create_app
from energy_dash.config import Settings
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope
from energy_dash.db.models import Facility, Reading
from energy_dash.services.bindings import bind_influx, bind_topic
from energy_dash.services.meters import ingest_readings
from energy_dash.storage.devices import create_api_key
from ingest.mqtt import MqttSubscriber
from ingest.mqtt_sink import DecodingSink, topic_bindings_provider

HERE = Path(__file__).resolve().parent
MQTT_TARGET = 5_000
LINES_TARGET = 100_000
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
T0 = 1_767_225_600
INFLIGHT = 1_000


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


# A device process: connects, says "ready", waits for "go" on stdin, publishes its
# readings at QoS 1 (at most INFLIGHT unacknowledged), then prints how many
# PUBACKs it got. "raw" writes pre-encoded MQTT 5 packets; "paho" uses the client.
# It finds tests/mqtt_packets.py on PYTHONPATH.
PUBLISHER = textwrap.dedent("""\
    import json, socket, sys, time
    from mqtt_packets import varint
    kind, port, name, first, count, t0, inflight, undated = sys.argv[1:9]
    port, first, count, t0, inflight, undated = map(
        int, (port, first, count, t0, inflight, undated))

    def body(i):
        reading = {"timestamp": t0 + i / 1000, "energy_consumed": 0.01,
                   "energy_produced": 0.02, "current_load": 10.0,
                   "voltage": 230.0, "device_id": f"{name}-m{i % 10}"}
        if undated:  # dated at receipt by the server
            del reading["timestamp"]
        return json.dumps(reading)

    seqs = range(first, first + count)
    if kind == "raw":
        def packet(k, i):
            topic = f"bench/{name}-m{i % 10}/reading".encode()
            rest = (len(topic).to_bytes(2, "big") + topic
                    + (k % 65535 + 1).to_bytes(2, "big") + b"\\x00"
                    + body(i).encode())
            return b"\\x32" + varint(len(rest)) + rest
        packets = [packet(k, i) for k, i in enumerate(seqs)]
        cid = name.encode()
        rest = (b"\\x00\\x04MQTT\\x05\\x02\\x00\\x3c\\x00"
                + len(cid).to_bytes(2, "big") + cid)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"\\x10" + varint(len(rest)) + rest)
        buf = b""
        def packets_in():
            global buf
            while True:
                if len(buf) >= 2:
                    length, shift, pos = 0, 0, 1
                    while True:
                        byte = buf[pos]
                        length |= (byte & 0x7F) << shift
                        pos += 1
                        if not byte & 0x80:
                            break
                        shift += 7
                    if len(buf) >= pos + length:
                        head, buf = buf[0], buf[pos + length:]
                        yield head
                        continue
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise SystemExit("broker closed the connection")
                buf += chunk
        incoming = packets_in()
        assert next(incoming) == 0x20  # CONNACK
        print("ready", flush=True)
        sys.stdin.readline()
        sent = acked = 0
        while acked < count:
            if sent < count and sent - acked < inflight:
                upto = min(count, acked + inflight)
                sock.sendall(b"".join(packets[sent:upto]))
                sent = upto
            if next(incoming) == 0x40:  # PUBACK
                acked += 1
        sock.close()
    else:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                          client_id=name, protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(inflight)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        bodies = [(f"bench/{name}-m{i % 10}/reading", body(i)) for i in seqs]
        print("ready", flush=True)
        sys.stdin.readline()
        infos = [pub.publish(topic, payload, qos=1) for topic, payload in bodies]
        for info in infos:
            info.wait_for_publish(300)
        acked = sum(1 for info in infos if info.is_published())
        pub.disconnect()
        pub.loop_stop()
    print(f"acked {acked}", flush=True)
""")


class CountingStore:
    """The subscriber's store, counting committed readings and when the last was."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.committed = 0
        self.last_commit = 0.0
        self.batches = 0
        self.done = threading.Event()
        self.expect = 0

    def __call__(self, batches, events, deliveries) -> None:
        results = ingest_readings(self.url, batches, events, deliveries=deliveries)
        self.committed += sum(r.accepted for r in results.values())
        self.batches += 1
        self.last_commit = time.perf_counter()
        if self.committed >= self.expect:
            self.done.set()


def bench_mqtt(url: str, label: str, args, folder: Path, report, peer) -> None:
    """Devices publish from their own processes; the subscriber stores here."""
    facility_id = make_facility(url)
    bind_topic(url, facility_id, "bench/+/reading", "native")
    broker, port = start_broker(folder)
    store = CountingStore(url)
    store.expect = args.messages
    sub = MqttSubscriber(f"mqtt://127.0.0.1:{port}", topic_bindings_provider(url),
                         DecodingSink(store), client_id=f"bench-{label}")
    script = folder / "publisher.py"
    script.write_text(PUBLISHER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    share = args.messages // args.publishers
    counts = [share + (1 if k < args.messages % args.publishers else 0)
              for k in range(args.publishers)]
    publishers: list[subprocess.Popen] = []
    try:
        sub.start()
        if not sub.connected.wait(10):
            raise RuntimeError("the subscriber did not connect")
        first = 0
        # Live devices: stamped with the time of sending, 1 ms apart (a clock far
        # off would make every message a data-quality event as well).
        live = int(time.time()) - 60
        for k, count in enumerate(counts):
            publishers.append(subprocess.Popen(
                [sys.executable, str(script), args.publisher, str(port),
                 f"{label}-dev{k}", str(first), str(count), str(live), str(INFLIGHT),
                 str(int(args.undated))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env))
            first += count
        for proc in publishers:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a publisher did not connect")
        started = time.perf_counter()
        for proc in publishers:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        store.done.wait(max(60.0, args.messages / 500))
        acked = 0
        for proc in publishers:
            line = proc.stdout.readline().split()
            acked += int(line[1]) if len(line) == 2 else 0
        end = store.last_commit if store.done.is_set() else time.perf_counter()
        elapsed = end - started
        time.sleep(0.5)  # anything stored twice would show up now
        count = stored(url, facility_id)
        lost = args.messages - count
        rate = min(count, args.messages) / elapsed if elapsed > 0 else 0.0
        load = os.getloadavg()
        note = (f"{args.publishers} {args.publisher} publishers, {acked:,} PUBACKs, "
                f"{count:,} of {args.messages:,} stored, {store.batches} commits, "
                f"{elapsed:.2f} s; load {load[0]:.1f}/{load[1]:.1f}")
        report.figure(f"[{label}] MQTT QoS 1, first publish to last commit", rate,
                      "msgs/s", peer=peer, peer_name="HTTP bulk rows/s",
                      target=MQTT_TARGET, note=note, lost=lost, stored=count,
                      acked=acked, batches=store.batches)
        report.figure(f"[{label}] MQTT messages lost or stored twice", abs(lost),
                      "msgs", target=0, higher_is_better=False)
    finally:
        for proc in publishers:
            try:
                proc.stdin.close()
                proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
        sub.stop()
        broker.terminate()
        broker.wait(10)


def make_app(url: str):
    settings = Settings(database_url=url, session_secret="bench-" + "x" * 40,
                        ingest_rate="0", instance_dir=Path(tempfile.mkdtemp()),
                        testing=True)
    return create_app(settings)


def bench_bulk(url: str, label: str, app, requests: int, report) -> float:
    """The peer: 10 000-row JSON arrays to ``/api/hardware/data/bulk``, rows/s."""
    facility_id = make_facility(url)
    with session_scope(url, write=True) as session:
        key = create_api_key(session, facility_id, "bulk")
    client = app.server.test_client()
    bodies = [
        json.dumps([{"timestamp": T0 + r * 10_000 + i, "energy_consumed": 0.01,
                     "energy_produced": 0.02, "current_load": 10.0,
                     "voltage": 230.0, "device_id": "gw"} for i in range(10_000)])
        for r in range(requests)
    ]
    elapsed = 0.0
    for body in bodies:
        started = time.perf_counter()
        response = client.post("/api/hardware/data/bulk", data=body, headers={
            "X-API-Key": key, "Content-Type": "application/json"})
        elapsed += time.perf_counter() - started
        if response.status_code != 200 or response.get_json()["accepted"] != 10_000:
            raise RuntimeError(f"bulk answered {response.status_code}: "
                               f"{response.get_data(as_text=True)[:200]}")
    rate = requests * 10_000 / elapsed
    load = os.getloadavg()
    report.figure(f"[{label}] HTTP bulk, 10 000-row JSON arrays", rate, "rows/s",
                  note=f"load {load[0]:.1f}/{load[1]:.1f}")
    return rate


def line_bodies(requests: int) -> list[bytes]:
    return [
        "\n".join(
            f"{'Mains' if i % 2 == 0 else 'Solar'},device=IotaWatt "
            f"value={1000 + i % 97}.25 {T0 + r * 2500 + i // 2}"
            for i in range(5000)
        ).encode()
        for r in range(requests)
    ]


def bench_lines(url: str, label: str, app, requests: int, report, peer) -> None:
    facility_id = make_facility(url)
    with session_scope(url, write=True) as session:
        key = create_api_key(session, facility_id, "iotawatt")
    for measurement, role in (("Mains", "consumption"), ("Solar", "production")):
        bind_influx(url, facility_id, measurement, tags={"device": "IotaWatt"},
                    role=role, kind="power", unit="W")
    client = app.server.test_client()
    headers = {"Authorization": f"Token {key}", "Content-Type": "text/plain"}
    points = 0
    elapsed = 0.0
    for body in line_bodies(requests):
        started = time.perf_counter()
        response = client.post("/api/v2/write?bucket=b&org=o&precision=s",
                               data=body, headers=headers)
        elapsed += time.perf_counter() - started
        if response.status_code != 204:
            raise RuntimeError(f"write answered {response.status_code}: "
                               f"{response.get_data(as_text=True)[:200]}")
        points += 5000
    rate = points / elapsed if elapsed else 0.0
    count = stored(url, facility_id)
    load = os.getloadavg()
    report.figure(f"[{label}] line protocol, 5 000-line requests", rate, "points/s",
                  peer=peer, peer_name="HTTP bulk rows/s", target=LINES_TARGET,
                  note=f"{requests} requests, {count:,} readings; "
                       f"load {load[0]:.1f}/{load[1]:.1f}",
                  readings=count)


def run(url: str, label: str, args, folder: Path, report) -> None:
    init_db(url)
    app = make_app(url)
    peer = bench_bulk(url, label, app, args.bulk_requests, report)
    if not args.skip_mqtt:
        bench_mqtt(url, label, args, folder, report, peer)
    if not args.skip_lines:
        bench_lines(url, label, app, args.requests, report, peer)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from report import Report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--publisher", choices=("raw", "paho"), default="raw")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--bulk-requests", type=int, default=4)
    parser.add_argument("--skip-mqtt", action="store_true")
    parser.add_argument("--skip-lines", action="store_true")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--undated", action="store_true",
                        help="readings without a timestamp (dated at receipt)")
    args = parser.parse_args(argv)
    if not os.path.exists(MOSQUITTO) and not args.skip_mqtt:
        print("mosquitto not installed (Debian package mosquitto): MQTT skipped")
        args.skip_mqtt = True
    report = Report("devices")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = f"sqlite:///{folder / 'bench.db'}"
            run(url, "sqlite", args, folder, report)
            dispose_engine(url)
            pg = os.environ.get("BENCH_DATABASE_URL")
            if pg and not args.sqlite_only:
                with get_engine(pg).begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
                dispose_engine(pg)
                run(pg, "postgresql", args, folder, report)
    finally:
        if report.figures:
            report.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
