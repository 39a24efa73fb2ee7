"""Points the sensor API's validator refuses are answered as InfluxDB answers a bad
point: 400 naming the first bad line, every good line of the body still written,
and the refusal logged as a data-quality event (on both engines)."""

from __future__ import annotations

import time

import pytest

from energy_dash import data
from energy_dash.services.bindings import bind_influx
from ingest.lineprotocol import InfluxBinding, checked_bodies

T0 = 1767225600  # 2026-01-01T00:00:00Z
NUL = ("device_id: must be printable text (no NUL, control characters or unpaired "
       "surrogates)")


@pytest.fixture
def bound(database_url, facility):
    for measurement, role in (("Mains", "consumption"), ("Solar", "production")):
        bind_influx(database_url, facility, measurement, role=role, kind="power",
                    unit="W")


def post(client, key: str, body: str, path: str = "/api/v2/write?precision=s"):
    return client.post(path, data=body.encode(),
                       headers={"Authorization": f"Token {key}"})


def stored(facility, database_url) -> list[tuple]:
    frame = data.read_readings(facility, database_url=database_url)
    return list(zip(frame.index.map(lambda t: int(t.timestamp())),
                    frame["device_id"], frame["energy_consumed"].round(9),
                    frame["energy_produced"].round(9), strict=True))


def events(facility, database_url) -> list[tuple]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return list(zip(frame["kind"], frame["device_id"], frame["detail"], strict=True))


def test_nul_in_the_device_tag_is_a_bad_line(client, api_key, facility,
                                             database_url, bound):
    body = f"Mains,device=a\x00b value=5 {T0}\nMains,device=ok value=360 {T0}\n"
    response = post(client, api_key, body)
    assert response.status_code == 400
    assert response.get_json() == {
        "code": "invalid",
        "message": f"partial write: unable to parse 'Mains,device=a\x00b value=5 "
                   f"{T0}': {NUL}"}
    # 0.36 kW over the expected 60 s
    assert stored(facility, database_url) == [(T0, "ok", 0.006, 0.0)]
    assert events(facility, database_url) == [
        ("malformed", None, f"1 bad line(s); line 1: {NUL}")]


def test_overlong_device_tag_is_refused_not_cut(client, api_key, facility,
                                                database_url, bound):
    device = "d" * 65
    response = post(client, api_key, f"Mains,device={device} value=5 {T0}\n",
                    "/write?db=x&precision=s")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": f"unable to parse 'Mains,device={device} value=5 {T0}': "
                 "device_id: must be at most 64 characters"}
    assert stored(facility, database_url) == []


def test_out_of_bounds_value_costs_only_its_own_line(client, api_key, facility,
                                                     database_url, bound):
    """Mains and Solar of one second make one reading: the refused Mains value
    does not take the good Solar value with it."""
    body = (f"Mains,device=iota value=360 {T0}\n"
            f"Mains,device=iota value=2e9 {T0 + 60}\n"
            f"Solar,device=iota value=-720 {T0 + 60}\n")
    response = post(client, api_key, body)
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        f"partial write: unable to parse 'Mains,device=iota value=2e9 {T0 + 60}': "
        "power_consumed: must be <= 1e+06")
    assert stored(facility, database_url) == [(T0, "iota", 0.006, 0.0),
                                              (T0 + 60, "iota", 0.0, 0.012)]


def test_the_first_bad_line_is_named_refused_or_unparsable(client, api_key,
                                                           facility, database_url,
                                                           bound):
    future = int(time.time()) + 3600
    body = (f"Mains,device=iota value=360 {T0}\n"
            f"Mains,device=iota value= {T0 + 60}\n"
            f"Solar,device=iota value=5 {future}\n")
    response = post(client, api_key, body)
    assert response.get_json()["message"] == (
        f"partial write: unable to parse 'Mains,device=iota value= {T0 + 60}': "
        "missing field value")
    body = (f"Solar,device=iota value=5 {future}\n"
            f"Mains,device=iota value= {T0 + 60}\n")
    response = post(client, api_key, body)
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        f"unable to parse 'Solar,device=iota value=5 {future}': "
        "timestamp: is more than 5 minutes in the future")
    assert stored(facility, database_url) == [(T0, "iota", 0.006, 0.0)]
    assert sorted(e[2] for e in events(facility, database_url)) == [
        "2 bad line(s); line 1: timestamp: is more than 5 minutes in the future",
        "2 bad line(s); line 2: missing field value"]


def test_undated_and_escaped_points_are_checked_too():
    """Points without a time (dated at receipt) and bodies with escapes take the
    validator's row path: same refusals, same good readings."""
    mains = InfluxBinding(1, 7, "Mains", (), None, "consumption", "power", "W")
    body = ("Mains,device=a\x01b value=5\n"
            "Mains,device=ok value=6\n"
            "Mains,device=with\\ space value=7e9 1767225600\n")
    bodies, unbound, parsed = checked_bodies(body, "s", [mains], now_s=T0 + 60)
    assert list(bodies) == [{"device_id": "ok", "power_consumed": 0.006}]
    assert unbound == []
    assert parsed.bad_lines == 2
    assert [str(e) for e in parsed.errors] == [
        f"unable to parse 'Mains,device=a\x01b value=5': {NUL}",
        "unable to parse 'Mains,device=with\\ space value=7e9 1767225600': "
        "power_consumed: must be <= 1e+06"]
