"""A batch the database refuses is stored reading by reading; a subscriber killed
in the middle of that leaves no reading without its message's identity, so the
broker's redeliveries book every message exactly once.

The database refuses readings with ``energy_produced = 13`` (a trigger on
SQLite, a check constraint on PostgreSQL), so the batch holding one is stored
again reading by reading. The subscriber runs in a process of its own that
SIGKILLs itself when the n-th database transaction of the batch ends (the
refused batch is the first); the same messages then come again with DUP set,
as the broker redelivers what was never acknowledged. Every message is bound
to two facilities, so it has a reading in each.
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
from energy_dash.db import get_engine, session_scope
from energy_dash.db.models import Facility
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


def messages(facilities: list[int], device: str, received_ms: int, *,
             dup: bool) -> list[Message]:
    bindings = tuple(TopicBinding(n, facility, "meters/+/reading", "native")
                     for n, facility in enumerate(facilities, 1))
    return [Message(f"meters/{device}/reading",
                    json.dumps({**body, "current_load": 1.0,
                                "device_id": device}).encode(),
                    False, dup, received_ms + seq, bindings, 1, seq + 1, SESSION)
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

    database_url, facilities, device, kill_at = sys.argv[1:5]
    ended = 0

    @event.listens_for(Session, "after_transaction_end")
    def count(session, transaction):
        global ended
        ended += 1
        if ended == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)

    facilities = [int(f) for f in facilities.split(",")]
    case.sink(database_url)(case.messages(facilities, device, int(sys.argv[7]),
                                          dup=False))
""")


def events_of(database_url: str, facility: int) -> list[tuple[str, str]]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return sorted(zip(frame["kind"], frame["detail"], strict=True))


def identities(database_url: str) -> int:
    with get_engine(database_url).connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM mqtt_deliveries")).scalar_one()


def stored(database_url: str, facilities: list[int]) -> list[list[float]]:
    return [sorted(data.read_readings(f, database_url=database_url)
                   ["energy_consumed"].tolist()) for f in facilities]


@pytest.mark.parametrize("kill_at", [3, 6], ids=["after-two-readings",
                                                  "after-the-first-facility"])
def test_a_kill_in_the_slow_path_leaves_every_message_whole_or_absent(
    refusing_database, facility, kill_at  # noqa: F811
):
    database_url = refusing_database
    with session_scope(database_url) as session:
        other = Facility(name="Other", timezone="UTC", capacity_kw=100.0,
                         expected_interval_s=60)
        session.add(other)
        session.flush()
        facilities = [facility, other.id]
    device = f"plug{kill_at}"  # the event log's throttle is per device
    t0 = int(time.time() * 1000) - 600_000
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url,
         ",".join(map(str, facilities)), device, str(kill_at), str(HERE),
         str(HERE.parent), str(t0)],
        cwd=ROOT, timeout=120)
    assert child.returncode == -signal.SIGKILL  # killed inside the slow path
    at_kill = (stored(database_url, facilities), identities(database_url))

    redeliver = sink(database_url)
    for copy in (1, 2):  # the broker's redelivery, and a second one
        redeliver(messages(facilities, device, t0 + 60_000 * copy, dup=True))

    assert stored(database_url, facilities) == [[0.001, 0.002, 0.004, 0.005]] * 2
    for f in facilities:
        assert events_of(database_url, f) == [
            ("malformed", "energy_consumed: must be >= 0"),
            ("malformed", "reading: refused by the database"),
        ]
    wanted = [m.identity() for m in messages(facilities, device, t0, dup=True)]
    assert committed_deliveries(database_url, wanted) == set(wanted)
    assert at_kill == ([[], []], 0)  # nothing of the batch committed before it
