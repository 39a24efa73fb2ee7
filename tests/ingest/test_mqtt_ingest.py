"""MQTT end to end: a private mosquitto, the real subscriber, the real database."""

from __future__ import annotations

import json
import threading
import time

import pytest
import test_mqtt as support  # noqa: E402 - the broker helpers beside this file

from energy_dash import data
from energy_dash.domain.quality import QualityEvent
from energy_dash.services.bindings import bind_topic, topic_bindings
from ingest.mqtt import Message, TopicBinding
from ingest.mqtt_sink import DecodingSink, build_subscriber

broker = support.broker  # the private mosquitto fixture, defined once


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

    def store(batches, events, deliveries):
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


def native(seq: int) -> bytes:
    return json.dumps({"timestamp": T0 + seq, "energy_consumed": 0.001 * seq,
                       "energy_produced": 0.0, "current_load": 5.0,
                       "device_id": f"m{seq % 7}"}).encode()


T0 = int(time.time()) - 86_400


def send(pub, first: int, count: int, *, payload=native) -> None:
    for seq in range(first, first + count):
        while True:  # the broker may be restarting: publish again once back
            support.wait_for(pub.client.is_connected, timeout=30, what="reconnect")
            info = pub.client.publish(f"meters/m{seq % 7}/reading", payload(seq),
                                      qos=1)
            if info.rc == 0:
                break
            time.sleep(0.05)
        pub.infos.append(info)
        if seq % 50 == 0:
            time.sleep(0.02)


def readings_of(database_url, facility):
    return data.read_readings(facility, database_url=database_url)


def test_broker_restart_mid_stream_stores_every_reading_once(broker, database_url,
                                                             facility):
    # Plain subscriptions (ENERGY_DASH_MQTT_SHARE=0) are saved with the session, so
    # nothing published around a broker restart is lost; redeliveries are stored
    # once (the reading's device and timestamp are its key).
    bind_topic(database_url, facility, "meters/+/reading", "native")
    sub = build_subscriber(database_url, broker.url, client_id="t-e2e-restart",
                           share_group=None)
    sub.start()
    try:
        assert sub.connected.wait(10)
        pub = support.Publisher(broker)
        send(pub, 0, 500)
        sender = threading.Thread(target=send, args=(pub, 500, 1500))
        sender.start()
        time.sleep(0.3)
        broker.stop()  # mid-stream
        time.sleep(1.0)
        broker.start()
        sender.join(120)
        send(pub, 2000, 300)
        pub.wait(120)
        support.wait_for(lambda: len(readings_of(database_url, facility)) >= 2300,
                         timeout=120, what="2 300 readings")
        time.sleep(1.0)
        pub.close()
    finally:
        sub.stop()
    frame = readings_of(database_url, facility)
    assert len(frame) == 2300
    stamps = sorted(int(t.timestamp()) - T0 for t in frame.index)
    assert stamps == list(range(2300))
    assert frame["energy_consumed"].sum() == pytest.approx(0.001 * sum(range(2300)))


def test_bad_messages_cost_only_themselves(broker, database_url, facility):
    bind_topic(database_url, facility, "meters/+/reading", "native")
    sub = build_subscriber(database_url, broker.url, client_id="t-e2e-bad",
                           share_group=None)
    sub.start()
    assert sub.connected.wait(10)
    time.sleep(0.3)
    sub.stop()  # the burst below waits in the session and arrives as one batch
    bad = {3: b"not json", 7: json.dumps({"timestamp": T0, "energy_consumed": -1,
                                          "energy_produced": 0,
                                          "current_load": 5}).encode()}
    pub = support.Publisher(broker)
    send(pub, 0, 10, payload=lambda seq: bad.get(seq) or native(seq))
    pub.wait()
    sub = build_subscriber(database_url, broker.url, client_id="t-e2e-bad",
                           share_group=None)
    sub.start()
    try:
        support.wait_for(lambda: sub.stored == 10, what="10 messages handled")
    finally:
        sub.stop()
        pub.close()
    frame = readings_of(database_url, facility)
    assert sorted(int(t.timestamp()) - T0 for t in frame.index) == [
        0, 1, 2, 4, 5, 6, 8, 9]
    events = data.read_quality_events(facility, database_url=database_url)
    malformed = events[events["kind"] == "malformed"]["detail"].tolist()
    assert len(malformed) == 2
    assert any("not JSON" in d for d in malformed)
    assert any("energy_consumed: must be >= 0" in d for d in malformed)
