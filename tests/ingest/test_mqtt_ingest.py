"""MQTT end to end: a private mosquitto, the real subscriber, the real database."""

from __future__ import annotations

import json
import time

import pytest
import test_mqtt as support  # noqa: E402 - the broker helpers beside this file

from energy_dash import data
from energy_dash.domain.quality import QualityEvent
from energy_dash.services.bindings import bind_topic, topic_bindings
from ingest.mqtt import Message, TopicBinding
from ingest.mqtt_sink import DecodingSink, build_subscriber


@pytest.fixture
def broker(tmp_path):
    if not support.os.path.exists(support.MOSQUITTO):
        if support.REQUIRE_MQTT:
            pytest.fail("REQUIRE_MQTT=1 but mosquitto is not installed")
        pytest.skip("mosquitto not installed (Debian package mosquitto)")
    running = support.Broker(tmp_path)
    running.start()
    yield running
    running.stop()


def tasmota(total: float, when: str) -> bytes:
    return json.dumps({"Time": when, "ENERGY": {
        "TotalStartTime": "2025-11-01T21:33:29", "Total": total, "Yesterday": 0.1,
        "Today": 0.1, "Power": 120, "Voltage": 231, "Current": 0.52,
        "Factor": 0.98}}).encode()


def test_tasmota_plug_feeds_its_facility(broker, database_url, facility):
    bind_topic(database_url, facility, "tele/+/SENSOR", "tasmota")
    sub = build_subscriber(database_url, broker.url, client_id="t-e2e")
    sub.start()
    try:
        assert sub.connected.wait(10)
        pub = support.Publisher(broker)
        # device-local Berlin time (UTC+1 in January)
        for i, total in enumerate([2.0, 2.5, 0.0, 3.0]):
            stamp = f"2026-01-21T18:{10 + i:02d}:00"
            pub.client.publish("tele/plug1/SENSOR", tasmota(total, stamp), qos=1)
        support.wait_for(lambda: len(data.read_readings(
            facility, database_url=database_url)) == 4, what="4 readings")
        pub.close()
    finally:
        sub.stop()
    frame = data.read_readings(facility, database_url=database_url)
    assert frame.index[0].isoformat() == "2026-01-21T17:10:00+00:00"
    assert frame["device_id"].unique().tolist() == ["plug1"]
    assert frame["energy_consumed"].round(6).tolist() == [0.0, 0.5, 0.0, 0.5]
    assert frame["voltage"].tolist() == [231.0] * 4
    events = data.read_quality_events(facility, database_url=database_url)
    # the glitch to 0, and a plug whose clock (or this test's payload) is months old
    assert events["kind"].tolist()[0] == "counter_glitch"
    assert set(events["kind"]) == {"counter_glitch", "clock_skew"}
    assert "behind the server" in events[events["kind"] == "clock_skew"][
        "detail"].iloc[0]


def test_sink_logs_unbound_malformed_and_skips_stale_retained(database_url,
                                                              facility):
    stored: list = []

    def store(batches, events):
        stored.append((batches, events))

    binding = TopicBinding(1, facility, "tele/+/SENSOR", "tasmota",
                           timezone="Europe/Berlin")
    now = int(time.time() * 1000)
    sink = DecodingSink(store)
    sink([
        Message("tele/x/SENSOR", b"{}", False, False, now, ()),
        Message("tele/p/SENSOR", b"not json", False, False, now, (binding,)),
        Message("tele/p/SENSOR", json.dumps({"ENERGY": {"Total": 1.0}}).encode(),
                True, False, now, (binding,)),
        Message("tele/p/SENSOR", json.dumps({"ENERGY": {"Total": 1.5}}).encode(),
                False, False, now, (binding,)),
    ])
    [(batches, events)] = stored
    assert [r["energy_consumed_total"] for r in batches[facility]] == [1.5]
    assert [(f, e.kind) for f, e in events] == [(None, "unbound"),
                                                 (facility, "malformed")]
    assert isinstance(events[0][1], QualityEvent)


def test_bindings_are_listed_for_the_subscriber(database_url, facility):
    new_id = bind_topic(database_url, facility, "shellies/+/status/switch:0",
                        "shelly", role="production", device_id="pv-plug")
    [row] = topic_bindings(database_url)
    assert row["id"] == new_id and row["timezone"] == "Europe/Berlin"
    assert (row["format"], row["role"], row["device_id"]) == ("shelly",
                                                             "production", "pv-plug")
