"""Device payload decoders, fed with payloads as the devices' documentation shows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.formats import FORMATS, DecodeError, Decoder, decode

# Tasmota "Power Monitoring" telemetry, tele/<topic>/SENSOR (Time is device-local).
TASMOTA = (
    '{"Time":"2026-01-21T18:49:00","ENERGY":{"TotalStartTime":"2025-11-01T21:33:29",'
    '"Total":2.185,"Yesterday":0.156,"Today":0.084,"Period":1,"Power":18,'
    '"ApparentPower":32,"ReactivePower":26,"Factor":0.57,"Voltage":238,'
    '"Current":0.134}}'
)
# A three-phase Tasmota meter with SetOption129 (per-phase arrays).
TASMOTA_3P = (
    '{"Time":"2026-07-04T10:00:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00",'
    '"Total":[1.5,2.25,3.0],"Yesterday":[0.1,0.2,0.3],"Today":[0.01,0.02,0.03],'
    '"Period":[0,0,0],"Power":[120,230,340],"ApparentPower":[130,240,350],'
    '"ReactivePower":[10,20,30],"Factor":[0.9,0.95,1.0],"Frequency":[50,50,50],'
    '"Voltage":[230,231,232],"Current":[0.6,1.1,1.5]}}'
)
# Shelly Gen2 Switch status (Switch.GetStatus example), on <id>/status/switch:0.
SHELLY_SWITCH = {
    "id": 0, "source": "timer", "output": True, "timer_started_at": 1626935739.79,
    "timer_duration": 60, "apower": 8.9, "voltage": 237.5, "current": 0.037,
    "pf": 0.25, "freq": 50,
    "aenergy": {"total": 6.532, "by_minute": [45.199, 47.141, 88.397],
                "minute_ts": 1626935779},
    "temperature": {"tC": 23.5, "tF": 74.4},
}
# Shelly Pro 3EM: EM.GetStatus and EMData.GetStatus examples.
SHELLY_EM = {
    "id": 0, "a_current": 4.029, "a_voltage": 236.1, "a_act_power": 951.2,
    "a_aprt_power": 951.9, "a_pf": 1, "a_freq": 50, "b_current": 4.027,
    "b_voltage": 236.201, "b_act_power": -951.1, "b_aprt_power": 951.8, "b_pf": 1,
    "b_freq": 50, "c_current": 3.03, "c_voltage": 236.402, "c_act_power": 715.4,
    "c_aprt_power": 715.9, "c_pf": 1, "c_freq": 50, "n_current": 11.029,
    "total_current": 11.083, "total_act_power": 2484.1, "total_aprt_power": 2484.5,
    "user_calibrated_phase": [], "errors": ["phase_sequence"],
}
SHELLY_EMDATA = {
    "id": 0, "a_total_act_energy": 1234.5, "a_total_act_ret_energy": 10.25,
    "b_total_act_energy": 2345.5, "b_total_act_ret_energy": 0,
    "c_total_act_energy": 3456.5, "c_total_act_ret_energy": 0,
    "total_act": 7036.5, "total_act_ret": 10.25,
}


def test_tasmota_sensor_single_phase_in_the_facility_zone():
    [reading] = decode("tasmota", "tele/plug1/SENSOR", TASMOTA, tz="Europe/Berlin")
    assert reading == {
        "device_id": "plug1",
        "timestamp": "2026-01-21T18:49:00+01:00",
        "energy_consumed_total": 2.185,
        "power_consumed": 0.018,
        "voltage": 238.0,
        "current": 0.134,
        "power_factor": 0.57,
    }


def test_tasmota_multi_phase_arrays_are_summed_and_averaged():
    [reading] = decode("tasmota", "tele/meter/SENSOR", TASMOTA_3P,
                       role="production", tz="Europe/Berlin")
    assert reading["timestamp"] == "2026-07-04T10:00:00+02:00"  # summer time
    assert reading["energy_produced_total"] == pytest.approx(6.75)
    assert reading["power_produced"] == pytest.approx(0.69)
    assert reading["voltage"] == pytest.approx(231.0)
    assert reading["current"] == pytest.approx(3.2)
    assert (reading["current1"], reading["current2"], reading["current3"]) == (
        0.6, 1.1, 1.5)
    assert reading["frequency"] == 50.0
    assert reading["power_factor"] == pytest.approx(0.95)
    assert "energy_consumed_total" not in reading


def test_tasmota_status10_answer_and_offset_time():
    body = json.dumps({"StatusSNS": {"Time": "2026-01-21T18:49:00+01:00",
                                     "ENERGY": {"Total": 5, "Power": 0}}})
    [reading] = decode("tasmota", "stat/plug1/STATUS10", body, tz="UTC")
    assert reading["timestamp"] == "2026-01-21T18:49:00+01:00"
    assert reading["energy_consumed_total"] == 5.0
    assert reading["device_id"] == "plug1"


def test_tasmota_without_energy_is_malformed():
    with pytest.raises(DecodeError, match="no ENERGY"):
        decode("tasmota", "tele/t/SENSOR", '{"Time":"2026-01-01T00:00:00"}')


def test_shelly_switch_status_wh_to_kwh():
    [reading] = decode("shelly", "shellyplus1pm-a8032ab12345/status/switch:0",
                       json.dumps(SHELLY_SWITCH))
    assert reading == {
        "device_id": "shellyplus1pm-a8032ab12345/switch:0",
        "energy_consumed_total": pytest.approx(0.006532),
        "power_consumed": pytest.approx(0.0089),
        "voltage": 237.5, "current": 0.037, "power_factor": 0.25, "frequency": 50.0,
    }
    assert "timestamp" not in reading  # time of receipt


def test_shelly_pro_3em_em_then_emdata_makes_one_reading():
    decoder = Decoder("shelly")
    assert decoder.decode("shellypro3em-abc/status/em:0", json.dumps(SHELLY_EM)) == []
    [reading] = decoder.decode("shellypro3em-abc/status/emdata:0",
                               json.dumps(SHELLY_EMDATA))
    assert reading["device_id"] == "shellypro3em-abc/em:0"
    assert reading["energy_consumed_total"] == pytest.approx(7.0365)
    assert reading["power_consumed"] == pytest.approx(2.4841)
    assert reading["current"] == pytest.approx(11.086)
    assert reading["current1"] == 4.029
    assert reading["voltage"] == pytest.approx(236.234333, abs=1e-5)


def test_shelly_em_production_role_books_returned_energy():
    decoder = Decoder("shelly", role="production", device_id="pv")
    decoder.decode("pro3em/status/em:0", json.dumps(
        {**SHELLY_EM, "total_act_power": -1500.0}))
    [reading] = decoder.decode("pro3em/status/emdata:0", json.dumps(SHELLY_EMDATA))
    assert reading["device_id"] == "pv"
    assert reading["energy_produced_total"] == pytest.approx(0.01025)
    assert reading["power_produced"] == pytest.approx(1.5)


def test_shelly_notify_status_on_events_rpc():
    decoder = Decoder("shelly")
    power_only = {"src": "shellyplus1pm-a8032ab12345", "dst": "shellyplus1pm/events",
                  "method": "NotifyStatus",
                  "params": {"ts": 1767225660.12, "switch:0": {"id": 0, "apower": 120}}}
    assert decoder.decode("shellyplus1pm-a8032ab12345/events/rpc",
                          json.dumps(power_only)) == []
    energy = {"src": "shellyplus1pm-a8032ab12345", "dst": "shellyplus1pm/events",
              "method": "NotifyStatus",
              "params": {"ts": 1767225720.5, "switch:0": {
                  "id": 0, "aenergy": {"by_minute": [2000.0, 1996.0, 1998.0],
                                       "minute_ts": 1767225720, "total": 12500.0}}}}
    [reading] = decoder.decode("shellyplus1pm-a8032ab12345/events/rpc",
                               json.dumps(energy))
    assert reading == {"device_id": "shellyplus1pm-a8032ab12345/switch:0",
                       "power_consumed": 0.12, "energy_consumed_total": 12.5,
                       "timestamp": 1767225720.5}
    event = {"src": "x", "method": "NotifyEvent", "params": {"ts": 1, "events": []}}
    assert decoder.decode("x/events/rpc", json.dumps(event)) == []


def test_opendtu_per_topic_numbers():
    decoder = Decoder("opendtu", role="production")
    assert decoder.decode("solar/114172220003/0/power", b"412.3") == []
    assert decoder.decode("solar/114172220003/0/voltage", b"231.4") == []
    assert decoder.decode("solar/114172220003/1/power", b"200.1") == []  # a DC string
    assert decoder.decode("solar/114172220003/name", b"Balkon") == []
    [reading] = decoder.decode("solar/114172220003/0/yieldtotal", b"1234.567")
    assert reading == {"device_id": "114172220003", "power_produced": 0.4123,
                       "voltage": 231.4, "energy_produced_total": 1234.567}


def test_opendtu_zero_after_restart_is_passed_on_for_the_register_rules():
    [reading] = decode("opendtu", "solar/1141/0/yieldtotal", b"0", role="production")
    assert reading["energy_produced_total"] == 0.0


def test_ahoy_names():
    decoder = Decoder("opendtu", role="production")
    decoder.decode("inverter/HM-600/ch0/P_AC", b"300")
    [reading] = decoder.decode("inverter/HM-600/ch0/YieldTotal", b"98.5")
    assert reading == {"device_id": "HM-600", "power_produced": 0.3,
                       "energy_produced_total": 98.5}


def test_opendtu_text_is_malformed():
    with pytest.raises(DecodeError):
        decode("opendtu", "solar/1/0/power", b"n/a")
    with pytest.raises(DecodeError):
        decode("opendtu", "solar/1/0/power", b"nan")


def test_native_object_and_array():
    one = {"energy_consumed": 0.5, "energy_produced": 0.1, "current_load": 10}
    [reading] = decode("native", "site/meter1", json.dumps(one))
    assert reading == {**one, "device_id": "site/meter1"}
    many = decode("native", "x", json.dumps([{**one, "device_id": "a"}, one]))
    assert [r["device_id"] for r in many] == ["a", "x"]
    with pytest.raises(DecodeError):
        decode("native", "x", b"[1, 2]")
    with pytest.raises(DecodeError):
        decode("native", "x", b"\xff\xfe")


def test_unknown_format_or_role_is_refused():
    with pytest.raises(ValueError):
        Decoder("modbus")
    with pytest.raises(ValueError):
        Decoder("native", role="storage")


@settings(max_examples=400, deadline=None)
@given(fmt=st.sampled_from(FORMATS),
       topic=st.text(max_size=60) | st.sampled_from([
           "tele/t/SENSOR", "s/status/switch:0", "s/status/em:0", "s/status/emdata:0",
           "s/events/rpc", "solar/1/0/yieldtotal", "solar/1/0/power"]),
       payload=st.binary(max_size=200) | st.recursive(
           st.none() | st.booleans() | st.floats() | st.integers()
           | st.text(max_size=8),
           lambda inner: st.lists(inner, max_size=4)
           | st.dictionaries(st.sampled_from(
               ["ENERGY", "Total", "Power", "Time", "aenergy", "total", "apower",
                "method", "params", "ts", "switch:0", "total_act", "em:0"]),
               inner, max_size=5),
           max_leaves=20).map(lambda v: json.dumps(v).encode()))
def test_no_payload_crashes_a_decoder(fmt, topic, payload):
    try:
        readings = decode(fmt, topic, payload)
    except DecodeError:
        return
    assert isinstance(readings, list)
    assert all(isinstance(r, dict) for r in readings)
