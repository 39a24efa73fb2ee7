"""``POST /query``: the LAST value and time of the binding the query names, as
InfluxDB 1.x answers them (IoTaWatt resumes from the time it reads there)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy_dash.domain.registers import energy_kwh
from energy_dash.services.bindings import bind_influx
from ingest.lineprotocol import InfluxBinding

T0 = 1767225600  # 2026-01-01T00:00:00Z; the facility reports every 60 s


def basic(key: str) -> dict[str, str]:
    token = base64.b64encode(f"iotawatt:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}",
            "Content-Type": "application/x-www-form-urlencoded"}


def last(client, key: str, query: str) -> dict:
    """The answer to the raw body IoTaWatt's v1 uploader posts."""
    response = client.post("/query", data=f"db=iotawatt&epoch=s&q= {query}",
                           headers=basic(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def write(client, key: str, body: str) -> None:
    response = client.post("/write?precision=s&db=iotawatt", data=body,
                           headers=basic(key))
    assert response.status_code == 204, response.get_data(as_text=True)


def series(name: str, time: int | str, value: float) -> dict:
    return {"results": [{"statement_id": 0, "series": [
        {"name": name, "columns": ["time", "last"], "values": [[time, value]]}]}]}


@pytest.fixture
def iota1(database_url, facility):
    for measurement, role in (("Mains", "consumption"), ("Solar", "production")):
        bind_influx(database_url, facility, measurement, tags={"device": "iota1"},
                    role=role, kind="power", unit="W")


def test_last_power_is_the_value_sent_at_the_newest_time(client, api_key, iota1):
    write(client, api_key,
          f"Mains,device=iota1 value=1234.56 {T0}\n"
          f"Solar,device=iota1 value=0.07 {T0}\n"
          f"Mains,device=iota1 value=2345.67 {T0 + 10}\n"
          f"Solar,device=iota1 value=-350.25 {T0 + 10}\n")
    query = "SELECT LAST(\"value\") FROM Mains  WHERE device='iota1'"
    assert last(client, api_key, query) == series("Mains", T0 + 10, 2345.67)
    # production is stored unsigned: IoTaWatt's negative solar comes back positive
    query = "SELECT LAST(\"value\") FROM Solar  WHERE device='iota1'"
    assert last(client, api_key, query) == series("Solar", T0 + 10, 350.25)


def test_a_binding_without_a_field_answers_for_the_meters_field_name(
        client, api_key, iota1):
    write(client, api_key, f"Mains,device=iota1 watts=812.5 {T0}\n")
    query = "SELECT LAST(\"watts\") FROM Mains  WHERE device='iota1'"
    assert last(client, api_key, query) == series("Mains", T0, 812.5)


def test_last_without_epoch_is_rfc3339(client, api_key, iota1):
    write(client, api_key, f"Mains,device=iota1 value=500 {T0 + 30}\n")
    response = client.post("/query", data={
        "q": "SELECT LAST(value) FROM \"Mains\" WHERE \"device\"='iota1'"},
        headers=basic(api_key))
    assert response.get_json() == series("Mains", "2026-01-01T00:00:30Z", 500.0)


def test_last_register_is_its_own_time_and_total(client, api_key, database_url,
                                                 facility):
    """A register's newest row is its own: power of the same device sent later
    does not move it."""
    bind_influx(database_url, facility, "Total", tags={"device": "meter1"},
                role="consumption", kind="energy_total", unit="Wh")
    bind_influx(database_url, facility, "Mains", tags={"device": "meter1"},
                role="consumption", kind="power", unit="W")
    write(client, api_key,
          f"Total,device=meter1 value=1000123.4 {T0}\n"
          f"Total,device=meter1 value=1000456.7 {T0 + 60}\n"
          f"Mains,device=meter1 value=400 {T0 + 120}\n")
    query = "SELECT LAST(\"value\") FROM Total WHERE device='meter1'"
    assert last(client, api_key, query) == series("Total", T0 + 60, 1000456.7)
    query = "SELECT LAST(\"value\") FROM Mains WHERE device='meter1'"
    assert last(client, api_key, query) == series("Mains", T0 + 120, 400.0)


def test_last_interval_energy_in_wh(client, api_key, database_url, facility):
    for measurement, role in (("Import", "consumption"), ("Export", "production")):
        bind_influx(database_url, facility, measurement, field="wh",
                    device_id="grid", role=role, kind="energy", unit="Wh")
    write(client, api_key, f"Import wh=12.3 {T0}\nExport wh=0.1 {T0}\n"
                           f"Import wh=45.6 {T0 + 60}\nExport wh=7.8 {T0 + 60}\n")
    query = "SELECT LAST(\"wh\") FROM Export"
    assert last(client, api_key, query) == series("Export", T0 + 60, 7.8)
    # the binding takes field wh only
    empty = {"results": [{"statement_id": 0}]}
    assert last(client, api_key, "SELECT LAST(\"value\") FROM Export") == empty


def test_last_of_an_unbound_or_empty_binding_has_no_series(client, api_key, iota1):
    empty = {"results": [{"statement_id": 0}]}
    query = "SELECT LAST(\"value\") FROM Mains  WHERE device='iota1'"
    assert last(client, api_key, query) == empty
    write(client, api_key, f"Mains,device=iota1 value=500 {T0}\n")
    for other in ("SELECT LAST(\"value\") FROM Mains  WHERE device='iota2'",
                  "SELECT LAST(\"value\") FROM Heatpump  WHERE device='iota1'"):
        assert last(client, api_key, other) == empty, other


@given(st.decimals(min_value=0, max_value=10**9, places=2).map(lambda d: float(d)),
       st.integers(1, 7_200_000).map(lambda ms: ms / 1000),
       st.sampled_from(["W", "kW"]))
def test_a_power_comes_back_exactly_as_sent(sent, interval_s, unit):
    """Booked as the writer books it (power in kW times the interval), rebuilt
    from the energy and the interval: the very float the meter's text parsed to."""
    binding = InfluxBinding(1, 1, "Mains", (), None, "consumption", "power", unit)
    stored = energy_kwh(sent * binding.factor, interval_s)
    assert binding.sent(stored, interval_s) == sent


@given(st.decimals(min_value=0, max_value=10**9, places=3).map(lambda d: float(d)),
       st.sampled_from(["energy", "energy_total"]), st.sampled_from(["Wh", "kWh"]))
def test_an_energy_comes_back_exactly_as_sent(sent, kind, unit):
    binding = InfluxBinding(1, 1, "Total", (), None, "production", kind, unit)
    assert binding.sent(sent * binding.factor) == sent
