"""A topic bound or unbound in /settings reaches a running subscriber, no restart."""

from __future__ import annotations

import json
import time

import test_mqtt as support  # the broker helpers beside this file
from fixtures_web import callback_result, pattern_changed, pattern_dep, post_callback
from test_mqtt import broker  # noqa: F401 - the private mosquitto fixture

from energy_dash import data
from energy_dash.services import bindings
from ingest.mqtt_sink import build_subscriber

TOPIC = "tele/+/SENSOR"


def _tasmota(total: float, when: str) -> bytes:
    return json.dumps({"Time": when, "ENERGY": {"Total": total, "Power": 120,
                                                "Voltage": 231}}).encode()


def _count(database_url, facility) -> int:
    return len(data.read_readings(facility, database_url=database_url))


def _publish_until(pub, payload: bytes, done, what: str) -> None:
    """QoS 1 until stored: the shared subscription starts with the next message
    after the subscriber subscribed (a repeat is the same reading, stored once)."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pub.client.publish("tele/plug7/SENSOR", payload, qos=1)
        time.sleep(0.3)


def test_binding_made_in_settings_feeds_a_running_subscriber(
    broker, app, auth_client, database_url, facility  # noqa: F811
):
    sub = build_subscriber(database_url, broker.url, client_id="t-settings-pickup")
    sub.refresh_s = 0.2
    sub.start()
    pub = support.Publisher(broker, client_id="t-settings-pub")
    try:
        assert sub.connected.wait(10)
        client = auth_client("olga", "operator")
        created = callback_result(post_callback(
            client, app, "settings-topic-status.children",
            {"settings-topic-create.n_clicks": 1, "facility-select.value": facility,
             "settings-topic-filter.value": TOPIC,
             "settings-topic-format.value": "tasmota",
             "settings-topic-role.value": "consumption"},
            trigger="settings-topic-create.n_clicks"))
        assert "Bound tele/+/SENSOR" in str(created)
        # Berlin local time on the plug (UTC+1 in January).
        _publish_until(pub, _tasmota(4.0, "2026-01-21T18:10:00"),
                       lambda: _count(database_url, facility) == 1, "first reading")
        _publish_until(pub, _tasmota(4.25, "2026-01-21T18:11:00"),
                       lambda: _count(database_url, facility) == 2, "second reading")
        frame = data.read_readings(facility, database_url=database_url)
        assert [t.isoformat() for t in frame.index] == [
            "2026-01-21T17:10:00+00:00", "2026-01-21T17:11:00+00:00"]
        assert frame["energy_consumed"].round(6).tolist() == [0.0, 0.25]
        assert frame["device_id"].tolist() == ["plug7", "plug7"]

        [row] = bindings.facility_bindings(database_url, facility)["topic"]
        ref = f"topic:{row['id']}"
        removed = callback_result(post_callback(
            client, app, "settings-topic-status.children",
            {"settings-bind-remove.n_clicks": [
                pattern_dep("settings-bind-remove", ref, "n_clicks", 1)],
             "facility-select.value": facility},
            changed=[pattern_changed("settings-bind-remove", ref, "n_clicks")],
            trigger="settings-bind-remove.n_clicks"))
        assert "Binding removed." in str(removed)
        support.wait_for(lambda: TOPIC not in sub._subscribed, what="unsubscribed")
        time.sleep(0.5)
        pub.client.publish("tele/plug7/SENSOR", _tasmota(4.5, "2026-01-21T18:12:00"),
                           qos=1).wait_for_publish(5)
        time.sleep(1.5)
        assert _count(database_url, facility) == 2
    finally:
        pub.close()
        sub.stop()
