"""Messages dated at receipt are stored once, however often the broker sends them.

A message without a time of its own gets the time it arrived; the broker sends
one that was committed but not acknowledged again (with DUP set) after the
subscriber dies, and it arrives at a new time, so the readings' key cannot tell
the copy apart.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import test_mqtt as support  # noqa: E402 - the broker helpers beside this file

from energy_dash import data
from energy_dash.services.bindings import bind_topic
from energy_dash.services.meters import committed_deliveries, ingest_readings
from ingest.mqtt import Message, TopicBinding
from ingest.mqtt_sink import DecodingSink

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 3000
KILL_AFTER = 1000


broker = support.broker  # the private mosquitto fixture, defined once


# The real subscriber in its own process. With a kill count it SIGKILLs itself
# right after the commit that reaches it, before the acknowledgements: the batch
# is stored and the broker still holds it as in flight.
CHILD = textwrap.dedent("""\
    import os, signal, sys, time
    from ingest.mqtt_sink import build_subscriber

    database_url, broker_url, client_id, kill_after, ready = sys.argv[1:6]
    kill_after = int(kill_after)
    sub = build_subscriber(database_url, broker_url, client_id=client_id)
    inner = sub.sink
    handled = 0

    def sink(messages):
        global handled
        inner(messages)
        handled += len(messages)
        if kill_after and handled >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    sub.sink = sink
    sub.start()
    sub.connected.wait(10)
    time.sleep(0.5)
    open(ready, "w").close()
    while True:
        time.sleep(1)
""")


def start_child(tmp_path: Path, database_url: str, broker, kill_after: int):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ready = tmp_path / "child.ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(script), database_url, broker.url, "t-redeliver",
         str(kill_after), str(ready)], cwd=ROOT)
    support.wait_for(ready.exists, timeout=30, what="the subscriber process")
    return proc


def undated(seq: int) -> bytes:
    """Native JSON without a timestamp; the energy names the message."""
    return json.dumps({"energy_consumed": (seq + 1) / 1e6, "energy_produced": 0,
                       "current_load": 1.0, "device_id": f"m{seq % 7}"}).encode()


def send(pub, count: int) -> None:
    for seq in range(count):
        info = pub.client.publish(f"meters/m{seq % 7}/reading", undated(seq), qos=1)
        assert info.rc == 0
        pub.infos.append(info)
        if seq % 100 == 0:
            time.sleep(0.02)


def stored(database_url, facility) -> int:
    return len(data.read_readings(facility, database_url=database_url))


def test_sigkill_between_commit_and_ack_stores_every_message_once(
    broker, database_url, facility, tmp_path
):
    bind_topic(database_url, facility, "meters/+/reading", "native")
    child = start_child(tmp_path, database_url, broker, KILL_AFTER)
    pub = support.Publisher(broker)
    sender = threading.Thread(target=send, args=(pub, TOTAL))
    try:
        sender.start()
        assert child.wait(60) == -signal.SIGKILL  # killed itself mid-stream
        killed_at = stored(database_url, facility)
        assert KILL_AFTER <= killed_at < TOTAL
        sender.join(60)
        pub.wait()
        child = start_child(tmp_path, database_url, broker, 0)
        support.wait_for(lambda: stored(database_url, facility) >= TOTAL,
                         timeout=90, what=f"{TOTAL} readings")
        time.sleep(1.5)  # a copy stored twice would show up now
    finally:
        child.kill()
        child.wait(10)
        pub.close()
    frame = data.read_readings(facility, database_url=database_url)
    assert len(frame) == TOTAL
    assert sorted(round(e * 1e6) for e in frame["energy_consumed"]) == list(
        range(1, TOTAL + 1))
    assert round(frame["energy_consumed"].sum(), 6) == TOTAL * (TOTAL + 1) / 2 / 1e6


def opendtu(topic: str, payload: bytes, received_ms: int, binding, *, mid: int,
            dup: bool = False) -> Message:
    return Message(topic, payload, False, dup, received_ms, (binding,), 1, mid,
                   "t-sink")


def test_a_redelivered_register_is_acknowledged_without_booking(database_url,
                                                                 facility):
    def store(batches, events, deliveries):
        ingest_readings(database_url, batches, events, deliveries=deliveries)

    binding = TopicBinding(1, facility, "solar/+/0/+", "opendtu",
                           role="production", timezone="Europe/Berlin")
    sink = DecodingSink(store, lambda ids: committed_deliveries(database_url, ids))
    t0 = int(time.time() * 1000) - 600_000
    register = "solar/1141/0/yieldtotal"
    sink([opendtu("solar/1141/0/power", b"400", t0, binding, mid=1),
          opendtu(register, b"1000.0", t0, binding, mid=2)])
    sink([opendtu(register, b"1000.5", t0 + 60_000, binding, mid=3)])
    # the last one again after a reconnect, and a copy within the same batch
    sink([opendtu(register, b"1000.5", t0 + 90_000, binding, mid=3, dup=True),
          opendtu(register, b"1000.75", t0 + 91_000, binding, mid=4),
          opendtu(register, b"1000.75", t0 + 91_500, binding, mid=4, dup=True)])
    # a copy of a message that never was committed is booked
    sink([opendtu(register, b"1001.0", t0 + 120_000, binding, mid=5, dup=True)])
    # the packet id used again for a new message (no DUP) is a new reading
    sink([opendtu(register, b"1001.5", t0 + 180_000, binding, mid=2)])
    frame = data.read_readings(facility, database_url=database_url)
    offsets = [int(t.timestamp() * 1000) - t0 for t in frame.index]
    assert offsets == [0, 60_000, 91_000, 120_000, 180_000]
    assert frame["energy_produced"].round(6).tolist() == [0.0, 0.5, 0.25, 0.25,
                                                           0.5]
