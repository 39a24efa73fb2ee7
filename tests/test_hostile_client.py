"""The example sensor client against a real server that goes away for a while.

Before, the client's retry backoff ran inside its measuring loop: during a 22 s
outage it took 7-8 readings instead of ~22, each claiming one interval of energy,
and a bulk refused as a whole was deleted from its buffer.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from test_examples import _stored, client_module, free_port, serving

from energy_dash.db import session_scope
from energy_dash.db.models import Reading

INTERVAL_S = 0.2
POWER_KW = 36.0  # 0.01 kWh per second


def test_outage_loses_no_reading_and_no_energy(settings, api_key, tmp_path):
    port = free_port()
    url = settings.database_url
    taken: list[tuple[float, float, float]] = []  # (monotonic time, kWh, s)

    def read(elapsed_s: float) -> dict:
        energy = POWER_KW * elapsed_s / 3600
        taken.append((time.monotonic(), energy, elapsed_s))
        return {"energy_produced": 0.0, "energy_consumed": energy,
                "current_load": 10.0}

    client = client_module.SensorClient(
        f"http://127.0.0.1:{port}", api_key, buffer_path=tmp_path / "buf.ndjson",
        retries=1, backoff=0.2, max_backoff=0.5, timeout=1,
    )
    stop = threading.Event()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(client_module.run(client, INTERVAL_S,
                                                       read=read, stop=stop)))
    started = time.monotonic()
    with serving(settings, port):
        runner.start()
        time.sleep(2.0)
    outage = (time.monotonic(), None)
    time.sleep(3.0)  # the server is away
    outage = (outage[0], time.monotonic())
    with serving(settings, port):
        time.sleep(2.0)
        count = len(taken)
        deadline = time.monotonic() + 15
        while len(_stored(url)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        runner.join(10)
    stored = _stored(url)
    during = [t for t, _, _ in taken if outage[0] <= t <= outage[1]]
    print(f"client: {len(taken)} readings in {time.monotonic() - started:.1f} s, "
          f"{len(during)} during the 3 s outage, {len(stored)} stored")
    assert len(during) >= 3.0 / INTERVAL_S - 2  # sampling went on
    assert len(stored) >= count  # every reading taken by then is on the server
    with session_scope(url) as session:
        consumed = session.scalar(select(func.sum(Reading.energy_consumed)))
    reported = sum(e for _, e, _ in taken[: len(stored)])
    assert consumed == pytest.approx(reported, rel=1e-9)
    # The readings cover the whole time since sampling began, outage included.
    began = taken[0][0] - taken[0][2]
    elapsed = taken[len(stored) - 1][0] - began
    # The client reads its clock a few µs before ``read`` stamps ``taken``; under
    # load that gap varies by up to a millisecond or so, never by a whole interval.
    assert consumed == pytest.approx(POWER_KW * elapsed / 3600,
                                     abs=POWER_KW * 0.005 / 3600)


def test_a_bulk_refused_as_a_whole_stays_in_the_buffer(settings, api_key, tmp_path):
    """Only rows rejected one by one are dropped; a refused request keeps all."""
    with serving(settings) as base:
        client = client_module.SensorClient(base, api_key,
                                            buffer_path=tmp_path / "buf.ndjson")
        good = {"timestamp": "2025-06-01T12:00:00Z", "energy_produced": 1,
                "energy_consumed": 1, "current_load": 1}
        bad = {**good, "timestamp": "2025-06-01T12:01:00Z", "energy_consumed": -1}
        client.buffer(good)
        client.buffer(bad)
        assert client.flush() == {"accepted": 1, "duplicates": 0, "rejected": 1}
        assert not client.buffer_path.exists()
        client.buffer(good)
        original = client.session.post

        def wrong_type(url, **kwargs):  # a proxy that mangles the request: 415
            kwargs["headers"] = {"Content-Type": "text/plain"}
            return original(url, **kwargs)

        client.session.post = wrong_type
        assert client.flush() is None
        assert client.buffered() == [good]
