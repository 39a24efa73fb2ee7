"""/settings meter bindings: admins and operators list, create and remove them;
viewers and other facilities' users get nothing, even by posting the callback."""

from __future__ import annotations

from fixtures_web import callback_result, pattern_changed, pattern_dep, post_callback

from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.services import bindings

TOPIC = {
    "settings-topic-create.n_clicks": 1,
    "settings-topic-filter.value": " tele/+/SENSOR ",
    "settings-topic-format.value": "tasmota",
    "settings-topic-role.value": "consumption",
    "settings-topic-device.value": "",
}
INFLUX = {
    "settings-influx-create.n_clicks": 1,
    "settings-influx-measurement.value": "Solar",
    "settings-influx-tags.value": "device=iotawatt, ct=3",
    "settings-influx-field.value": "value",
    "settings-influx-role.value": "production",
    "settings-influx-kind.value": "power",
    "settings-influx-unit.value": "W",
    "settings-influx-device.value": "iotawatt",
}


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(_text(c) for c in component)
    if isinstance(component, dict):
        return _text(component.get("props", {}).get("children"))
    return ""


def _bind_topic(client, app, facility, **changes):
    values = {**TOPIC, "facility-select.value": facility, **changes}
    return callback_result(post_callback(
        client, app, "settings-topic-status.children", values,
        trigger="settings-topic-create.n_clicks"))


def _bind_influx(client, app, facility, **changes):
    values = {**INFLUX, "facility-select.value": facility, **changes}
    return callback_result(post_callback(
        client, app, "settings-influx-status.children", values,
        trigger="settings-influx-create.n_clicks"))


def _load(client, app, facility):
    return callback_result(post_callback(
        client, app, "settings-bindings.style", {"facility-select.value": facility},
        trigger="facility-select.value"))


def _remove(client, app, facility, ref):
    return callback_result(post_callback(
        client, app, "settings-topic-status.children",
        {"settings-bind-remove.n_clicks": [
            pattern_dep("settings-bind-remove", ref, "n_clicks", 1)],
         "facility-select.value": facility},
        changed=[pattern_changed("settings-bind-remove", ref, "n_clicks")],
        trigger="settings-bind-remove.n_clicks"))


def _other_facility(database_url) -> int:
    with session_scope(database_url) as db:
        other = Facility(name="Secret Site", timezone="UTC")
        db.add(other)
        db.flush()
        return other.id


def _stored(database_url, facility):
    rows = bindings.facility_bindings(database_url, facility)
    return (
        [(r["topic"], r["format"], r["role"], r["device_id"]) for r in rows["topic"]],
        [(r["measurement"], r["tags"], r["field"], r["role"], r["kind"], r["unit"],
          r["device_id"]) for r in rows["influx"]],
    )


def test_operator_binds_a_topic_and_line_protocol_points_and_removes_them(
    app, auth_client, database_url, facility
):
    client = auth_client("olga", "operator")
    empty = _load(client, app, facility)
    assert empty["settings-bindings.style"] == {}
    assert _text(empty["settings-topic-table.children"]) == "No MQTT topics bound yet."

    topic = _bind_topic(client, app, facility)
    assert _text(topic["settings-topic-status.children"]) == (
        "Bound tele/+/SENSOR (Tasmota) as consumption.")
    assert topic["settings-topic-filter.value"] == ""
    assert "tele/+/SENSOR" in _text(topic["settings-topic-table.children"])

    points = _bind_influx(client, app, facility)
    assert _text(points["settings-influx-status.children"]) == (
        "Bound Solar (W power) as production.")
    assert _stored(database_url, facility) == (
        [("tele/+/SENSOR", "tasmota", "consumption", None)],
        [("Solar", {"device": "iotawatt", "ct": "3"}, "value", "production", "power",
          "W", "iotawatt")],
    )
    listed = _load(client, app, facility)
    assert _text(listed["settings-influx-table.children"]) == (
        "Measurement Tags Field Feeds Device  Solar ct=3, device=iotawatt value "
        "production power [W] iotawatt Remove")

    rows = bindings.facility_bindings(database_url, facility)
    topic_id, influx_id = rows["topic"][0]["id"], rows["influx"][0]["id"]
    removed = _remove(client, app, facility, f"topic:{topic_id}")
    assert _text(removed["settings-topic-status.children"]) == "Binding removed."
    assert _text(removed["settings-topic-table.children"]) == (
        "No MQTT topics bound yet.")
    removed = _remove(client, app, facility, f"influx:{influx_id}")
    assert _text(removed["settings-influx-status.children"]) == "Binding removed."
    assert _stored(database_url, facility) == ([], [])
    again = _remove(client, app, facility, f"influx:{influx_id}")
    assert _text(again["settings-influx-status.children"]) == (
        "That binding was already removed.")


def test_bad_bindings_are_refused_with_the_field_named(
    app, auth_client, database_url, facility
):
    client = auth_client("alice", "admin")
    hash_inside = _bind_topic(client, app, facility,
                              **{"settings-topic-filter.value": "tele/#/SENSOR"})
    assert _text(hash_inside["settings-topic-status.children"]) == (
        "Topic filter: # is only allowed as the whole last level.")
    system = _bind_topic(client, app, facility,
                         **{"settings-topic-filter.value": "$SYS/#"})
    assert _text(system["settings-topic-status.children"]) == (
        "Topic filter: must not start with $ (system topics).")
    forged_format = _bind_topic(client, app, facility,
                                **{"settings-topic-format.value": "zigbee"})
    assert _text(forged_format["settings-topic-status.children"]) == (
        "Format: must be one of native, tasmota, shelly, opendtu.")
    _bind_topic(client, app, facility)
    twice = _bind_topic(client, app, facility)
    assert _text(twice["settings-topic-status.children"]) == (
        "Topic filter: is already bound in this format.")
    bad_unit = _bind_influx(client, app, facility,
                            **{"settings-influx-unit.value": "kWh"})
    assert _text(bad_unit["settings-influx-status.children"]) == (
        "Unit: power takes W or kW.")
    bad_tag = _bind_influx(client, app, facility,
                           **{"settings-influx-tags.value": "device"})
    assert _text(bad_tag["settings-influx-status.children"]) == (
        "Tags: 'device' is not K=V.")
    no_measurement = _bind_influx(client, app, facility,
                                  **{"settings-influx-measurement.value": "  "})
    assert _text(no_measurement["settings-influx-status.children"]) == (
        "Measurement: must be 1-200 characters.")
    assert _stored(database_url, facility) == (
        [("tele/+/SENSOR", "tasmota", "consumption", None)], [])


def test_viewer_neither_sees_nor_changes_bindings(
    app, auth_client, database_url, facility
):
    """Like Home Assistant's integrations and Grafana's data sources, meter
    wiring is hidden from viewers, and a posted callback changes nothing."""
    topic_id = bindings.bind_topic(database_url, facility, "shellies/+/status/em:0",
                                   "shelly")
    client = auth_client("victor", "viewer")
    loaded = _load(client, app, facility)
    assert loaded["settings-bindings.style"] == {"display": "none"}
    assert loaded["settings-topic-table.children"] is None
    assert "shellies" not in str(loaded)
    created = _bind_topic(client, app, facility)
    assert _text(created["settings-topic-status.children"]) == (
        "You have read-only access to this facility.")
    points = _bind_influx(client, app, facility)
    assert _text(points["settings-influx-status.children"]) == (
        "You have read-only access to this facility.")
    removed = _remove(client, app, facility, f"topic:{topic_id}")
    assert _text(removed["settings-topic-status.children"]) == (
        "You have read-only access to this facility.")
    assert _stored(database_url, facility) == (
        [("shellies/+/status/em:0", "shelly", "consumption", None)], [])


def test_a_forged_facility_or_binding_id_is_refused(
    app, auth_client, database_url, facility
):
    other = _other_facility(database_url)
    theirs = bindings.bind_topic(database_url, other, "opendtu/+/0/#", "opendtu")
    client = auth_client("alice", "admin")  # admin of facility 1 only

    loaded = _load(client, app, other)
    assert loaded["settings-bindings.style"] == {"display": "none"}
    assert "opendtu" not in str(loaded)
    created = _bind_topic(client, app, other)
    assert _text(created["settings-topic-status.children"]) == (
        "You are not a member of this facility.")
    points = _bind_influx(client, app, other)
    assert _text(points["settings-influx-status.children"]) == (
        "You are not a member of this facility.")
    # Their binding's id under my own facility: nothing of theirs goes.
    removed = _remove(client, app, facility, f"topic:{theirs}")
    assert _text(removed["settings-topic-status.children"]) == (
        "That binding was already removed.")
    assert "opendtu" not in str(removed)
    removed = _remove(client, app, other, f"topic:{theirs}")
    assert _text(removed["settings-topic-status.children"]) == (
        "You are not a member of this facility.")
    assert _stored(database_url, other) == (
        [("opendtu/+/0/#", "opendtu", "consumption", None)], [])
    assert _stored(database_url, facility) == ([], [])


def test_unit_choices_follow_the_kind(app, auth_client, facility):
    client = auth_client("olga", "operator")

    def units(kind, unit):
        return callback_result(post_callback(
            client, app, "settings-influx-unit.options",
            {"settings-influx-kind.value": kind, "settings-influx-unit.value": unit}))

    energy = units("energy_total", "kW")
    assert [o["value"] for o in energy["settings-influx-unit.options"]] == [
        "Wh", "kWh"]
    assert energy["settings-influx-unit.value"] == "kWh"
    power = units("power", "Wh")
    assert [o["value"] for o in power["settings-influx-unit.options"]] == ["W", "kW"]
    assert power["settings-influx-unit.value"] == "W"
    assert "settings-influx-unit.value" not in units("energy", "Wh")


def test_line_protocol_points_follow_settings_at_once(
    app, auth_client, api_key, database_url, facility
):
    """An uploader writing Mains points: unbound, then bound in /settings, then
    removed there. The endpoint's binding cache never serves the old state."""
    from energy_dash import data

    uploader = app.server.test_client()

    def write(line: str) -> int:
        return uploader.post("/api/v2/write?bucket=b&org=o&precision=s", data=line,
                             headers={"Authorization": f"Token {api_key}"}
                             ).status_code

    assert write("Mains,device=IotaWatt value=1200 1767225600") == 204
    assert data.read_readings(facility, database_url=database_url).empty
    client = auth_client("olga", "operator")
    _bind_influx(client, app, facility, **{
        "settings-influx-measurement.value": "Mains",
        "settings-influx-tags.value": "device=IotaWatt",
        "settings-influx-role.value": "consumption",
        "settings-influx-device.value": ""})
    assert write("Mains,device=IotaWatt value=1200 1767225660") == 204
    frame = data.read_readings(facility, database_url=database_url)
    assert frame.index[-1].isoformat() == "2026-01-01T00:01:00+00:00"
    # 1.2 kW over the first reading's expected 60 s
    assert frame["energy_consumed"].round(9).tolist() == [0.02]
    [row] = bindings.facility_bindings(database_url, facility)["influx"]
    _remove(client, app, facility, f"influx:{row['id']}")
    assert write("Mains,device=IotaWatt value=1200 1767225720") == 204
    assert len(data.read_readings(facility, database_url=database_url)) == 1
