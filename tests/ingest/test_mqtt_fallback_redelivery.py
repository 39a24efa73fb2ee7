"""A batch the database refuses is stored reading by reading; a subscriber killed
in the middle of that leaves no reading without its message's identity, so the
broker's redeliveries book every message exactly once.

The database refuses readings with ``energy_produced = 13`` (a trigger on
SQLite, a check constraint on PostgreSQL), so the batch holding one is stored
again reading by reading. The subscriber runs in a process of its own that
SIGKILLs itself when the n-th database transaction of the batch ends (the
refused batch is the first); the same messages then come again with DUP set,
as the broker redelivers what was never acknowledged.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from test_hostile_bounds import refusing_database  # noqa: F401 - the fixture

from energy_dash import data
from energy_dash.db import get_engine
from energy_dash.services.meters import committed_deliveries, ingest_readings
from ingest.mqtt import Message, TopicBinding
from ingest.mqtt_sink import DecodingSink

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SESSION = "t-fallback"
BODIES = [
    {"energy_consumed": 0.001, "energy_produced": 0},
    {"energy_consumed": 0.002, "energy_produced": 0},
    {"energy_consumed": 0.003, "energy_produced": 13},  # the database refuses it
    {"energy_consumed": -1, "energy_produced": 0},  # the validator refuses it
    {"energy_consumed": 0.004, "energy_produced": 0},
    {"energy_consumed": 0.005, "energy_produced": 0},
]
"""Messages without a time of their own: dated at receipt."""


def messages(facility: int, device: str, received_ms: int, *,
             dup: bool) -> list[Message]:
    binding = TopicBinding(1, facility, "meters/+/reading", "native")
    return [Message(f"meters/{device}/reading",
                    json.dumps({**body, "current_load": 1.0,
                                "device_id": device}).encode(),
                    False, dup, received_ms + seq, (binding,), 1, seq + 1, SESSION)
            for seq, body in enumerate(BODIES)]


def sink(database_url: str) -> DecodingSink:
    """The subscriber's sink as ``build_subscriber`` makes it."""

    def store(batches, events, deliveries):
        ingest_readings(database_url, batches, events, deliveries=deliveries)

    return DecodingSink(store, lambda ids: committed_deliveries(database_url, ids))


CHILD = textwrap.dedent("""\
    import os, signal, sys
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    sys.path[:0] = [sys.argv[5], sys.argv[6]]
    import test_mqtt_fallback_redelivery as case

    database_url, facility, device, kill_at = sys.argv[1:5]
    ended = 0

    @event.listens_for(Session, "after_transaction_end")
    def count(session, transaction):
        global ended
        ended += 1
        if ended == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)

    case.sink(database_url)(case.messages(int(facility), device, int(sys.argv[7]),
                                          dup=False))
""")


def events_of(database_url: str, facility: int) -> list[tuple[str, str]]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return sorted(zip(frame["kind"], frame["detail"], strict=True))


def identities(database_url: str) -> int:
    with get_engine(database_url).connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM mqtt_deliveries")).scalar_one()


@pytest.mark.parametrize("kill_at", [3, 6], ids=["after-two-readings",
                                                  "after-every-reading"])
def test_a_kill_in_the_slow_path_leaves_every_message_whole_or_absent(
    refusing_database, facility, tmp_path, kill_at  # noqa: F811
):
    database_url = refusing_database
    device = f"plug{kill_at}"  # the event log's throttle is per device
    t0 = int(time.time() * 1000) - 600_000
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url, str(facility), device,
         str(kill_at), str(HERE), str(HERE.parent), str(t0)],
        cwd=ROOT, timeout=120)
    assert child.returncode == -signal.SIGKILL  # killed inside the slow path
    at_kill = (len(data.read_readings(facility, database_url=database_url)),
               identities(database_url))

    redeliver = sink(database_url)
    for copy in (1, 2):  # the broker's redelivery, and a second one
        redeliver(messages(facility, device, t0 + 60_000 * copy, dup=True))

    frame = data.read_readings(facility, database_url=database_url)
    assert sorted(frame["energy_consumed"].tolist()) == [0.001, 0.002, 0.004, 0.005]
    assert events_of(database_url, facility) == [
        ("malformed", "energy_consumed: must be >= 0"),
        ("malformed", "reading: refused by the database"),
    ]
    wanted = [m.identity() for m in messages(facility, device, t0, dup=True)]
    assert committed_deliveries(database_url, wanted) == set(wanted)
    assert at_kill == (0, 0)  # nothing of the batch was committed before the kill
