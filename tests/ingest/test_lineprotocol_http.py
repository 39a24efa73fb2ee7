"""The InfluxDB-compatible endpoints through the app: IoTaWatt's recorded request
sequence, Telegraf's v2 write, gzip, and InfluxDB's answers."""

from __future__ import annotations

import base64
import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_dash import data
from energy_dash.services.bindings import bind_influx

# What IoTaWatt's v1 uploader sends: first the LAST query (form-encoded, spaces as
# sent), then line protocol with precision=s, Basic auth with the configured user
# and password (here the device key).
QUERY = "db=iotawatt&epoch=s&q= SELECT LAST(value) FROM Mains  WHERE device='IotaWatt'"
WRITE = (
    "Mains,device=IotaWatt value=1234.56 1767225600\n"
    "Solar,device=IotaWatt value=-345.60 1767225600\n"
    "Mains,device=IotaWatt value=1200.00 1767225610\n"
    "Solar,device=IotaWatt value=-350.25 1767225610\n"
)


@pytest.fixture
def iotawatt(database_url, facility):
    for measurement, role in (("Mains", "consumption"), ("Solar", "production")):
        bind_influx(database_url, facility, measurement, tags={"device": "IotaWatt"},
                    role=role, kind="power", unit="W")


def basic(key: str) -> dict[str, str]:
    token = base64.b64encode(f"iotawatt:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_iotawatt_sequence(client, api_key, facility, database_url, iotawatt):
    form = {"Content-Type": "application/x-www-form-urlencoded", **basic(api_key)}
    response = client.post("/query", data=QUERY, headers=form)
    assert response.status_code == 200
    assert response.get_json() == {"results": [{"statement_id": 0}]}

    response = client.post("/write?precision=s&db=iotawatt", data=WRITE,
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    **basic(api_key)})
    assert response.status_code == 204, response.get_data(as_text=True)
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["device_id"].tolist() == ["IotaWatt", "IotaWatt"]
    # 1.23456 kW over the first (expected 60 s) interval, 1.2 kW over the real 10 s
    assert frame["energy_consumed"].round(7).tolist() == [0.020576, 0.0033333]
    assert frame["energy_produced"].round(7).tolist() == [0.00576, 0.0009729]

    response = client.post("/query", data=QUERY, headers=form)
    series = response.get_json()["results"][0]["series"][0]
    assert series["name"] == "Mains"
    assert series["columns"] == ["time", "last"]
    assert series["values"][0][0] == 1767225610


def test_v2_write_with_token_and_gzip(client, api_key, facility, database_url,
                                      iotawatt):
    body = gzip.compress(b"Mains,device=IotaWatt value=500 1767225600000000000\n")
    response = client.post("/api/v2/write?bucket=b&org=o&precision=ns", data=body,
                           headers={"Authorization": f"Token {api_key}",
                                    "Content-Encoding": "gzip"})
    assert response.status_code == 204
    assert len(data.read_readings(facility, database_url=database_url)) == 1


def test_bad_line_is_named_and_good_lines_are_written(client, api_key, facility,
                                                      database_url, iotawatt):
    body = ("Mains,device=IotaWatt value=500 1767225600\n"
            "Mains,device=IotaWatt value= 1767225610\n"
            "Mains,device=IotaWatt value=600 1767225620\n")
    response = client.post("/api/v2/write?precision=s", data=body,
                           headers={"Authorization": f"Token {api_key}"})
    assert response.status_code == 400
    assert response.get_json() == {
        "code": "invalid",
        "message": "partial write: unable to parse 'Mains,device=IotaWatt value= "
                   "1767225610': missing field value"}
    assert len(data.read_readings(facility, database_url=database_url)) == 2
    assert "malformed" in data.read_quality_events(
        facility, database_url=database_url)["kind"].tolist()


def test_unbound_points_are_counted_as_quality_events(client, api_key, facility,
                                                      database_url, iotawatt):
    response = client.post("/api/v2/write?precision=s",
                           data="Heatpump,device=IotaWatt value=800 1767225600\n",
                           headers={"Authorization": f"Token {api_key}"})
    assert response.status_code == 204
    events = data.read_quality_events(facility, database_url=database_url)
    assert events["kind"].tolist() == ["unbound"]
    assert "Heatpump" in events["detail"].iloc[0]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token wrong"},
                                     {"Authorization": "Basic !!!"}])
def test_401_without_a_valid_key(client, facility, headers):
    response = client.post("/api/v2/write", data="m v=1", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    response = client.post("/write?db=x", data="m v=1", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "authorization failed"}


def test_v1_u_p_parameters(client, api_key, facility, database_url, iotawatt):
    response = client.post(f"/write?db=x&u=iota&p={api_key}&precision=s",
                           data="Mains,device=IotaWatt value=1 1767225600")
    assert response.status_code == 204


def test_413_and_bad_precision(client, api_key, facility):
    headers = {"Authorization": f"Token {api_key}"}
    big = b"m v=1\n" * (3 * 1024 * 1024)  # 18 MiB
    assert client.post("/api/v2/write", data=big, headers=headers).status_code == 413
    bomb = gzip.compress(b"m v=1\n" * (3 * 1024 * 1024))
    response = client.post("/api/v2/write", data=bomb,
                           headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    response = client.post("/api/v2/write?precision=days", data="m v=1",
                           headers=headers)
    assert response.status_code == 400


def test_query_refuses_other_influxql(client, api_key, facility):
    response = client.post("/query", data={"q": "DROP DATABASE x"},
                           headers=basic(api_key))
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("error parsing query")


LP_ALPHABET = list('MainsSolr,=device IotaW\\"\n#.-+eitf0123456789u\r\t')


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(LP_ALPHABET), max_size=200)
       | st.sampled_from([WRITE, WRITE.replace("\n", "\r\n"), WRITE + "bad\n"]),
       st.sampled_from(["s", "ms", "ns", "h"]))
def test_no_body_gives_a_500(client, api_key, facility, iotawatt, body, precision):
    response = client.post(f"/api/v2/write?bucket=b&org=o&precision={precision}",
                           data=body.encode(),
                           headers={"Authorization": f"Token {api_key}"})
    assert response.status_code in (204, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["message"]


@pytest.mark.parametrize("body", [
    "energy,meter=m1 wh=50 1767225600\nenergy,meter=m1 wh=20 1767225660\n",  # uniform
    "energy,meter=m1 wh=50,note=1 1767225600\nenergy,meter=m1 wh=20 1767225660\n",
    'energy,meter=m1 wh=50,note="x" 1767225600\nenergy,meter=m1 wh=20 1767225660\n',
], ids=["columns", "line-loop", "parser"])
def test_an_energy_of_one_direction_stores_the_other_as_zero(
    client, api_key, facility, database_url, body
):
    """Only consumption is bound: the sensor API needs both interval energies,
    so every write was refused. Each of the three parse paths fills 0."""
    bind_influx(database_url, facility, "energy", tags={"meter": "m1"}, field="wh",
                role="consumption", kind="energy", unit="Wh")
    response = client.post("/api/v2/write?bucket=b&org=o&precision=s", data=body,
                           headers={"Authorization": f"Token {api_key}"})
    assert response.status_code == 204, response.get_data(as_text=True)
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].round(6).tolist() == [0.05, 0.02]
    assert frame["energy_produced"].tolist() == [0.0, 0.0]
