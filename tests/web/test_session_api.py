"""The browser session API (README "Browser session API") and the development
debug endpoints."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace

import pandas as pd
import pytest
from fixtures_web import DEFAULT_PASSWORD, csrf_from

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility


def _write(url, facility, rows):
    """rows: (UTC epoch seconds, produced kWh, consumed kWh, voltage V)."""
    frame = pd.DataFrame(
        {
            "energy_produced": [r[1] for r in rows],
            "energy_consumed": [r[2] for r in rows],
            "current_load": [40.0] * len(rows),
            "voltage": [r[3] for r in rows],
            "frequency": [50.01] * len(rows),
        },
        index=pd.to_datetime([r[0] for r in rows], unit="s", utc=True),
    )
    result = data.write_readings(frame, facility, device_id="meter", database_url=url)
    assert result["accepted"] == len(rows)


def test_latest_hardware_data_gives_local_time_and_power(
    app, auth_client, database_url, facility
):
    now = int(time.time())
    t1 = now - 30
    t0 = t1 - 60
    _write(database_url, facility, [(t0, 0.2, 0.3, 229.0), (t1, 0.5, 0.25, 231.5)])
    client = auth_client("alice", "viewer")
    body = client.get(f"/api/latest-hardware-data?facility_id={facility}").get_json()
    stamp = pd.Timestamp(t1, unit="s", tz="UTC")
    assert body["timestamp"] == stamp.isoformat().replace("+00:00", "Z")
    assert body["local_time"] == stamp.tz_convert("Europe/Berlin").isoformat()
    assert body["timezone"] == "Europe/Berlin"
    assert body["device_id"] == "meter"
    assert body["energy_produced"] == 0.5 and body["energy_consumed"] == 0.25
    assert body["voltage"] == 231.5 and body["frequency"] == 50.01
    assert body["interval_s"] == 60.0
    # 0.5 kWh in one minute is 30 kW; 0.25 kWh is 15 kW; net import −15 kW.
    assert body["power_kw"] == {"produced": 30.0, "consumed": 15.0, "net_import": -15.0}
    assert body["connected"] is True


def test_latest_hardware_data_without_readings(app, auth_client, facility):
    client = auth_client("alice")
    body = client.get("/api/latest-hardware-data").get_json()  # first facility
    assert body["facility_id"] == facility
    assert body["timestamp"] is None and body["connected"] is False
    assert body["power_kw"] == {"produced": None, "consumed": None, "net_import": None}


def test_hardware_status_check(app, auth_client, database_url, facility):
    now = int(time.time())
    _write(
        database_url,
        facility,
        [(now - 300, 0.1, 0.1, 230.0), (now - 20, 0.1, 0.1, 230.0)],
    )
    client = auth_client("alice", "viewer")
    body = client.get(f"/api/hardware-status-check?facility_id={facility}").get_json()
    assert body["connected"] is True
    assert body["expected_interval_s"] == 60
    assert body["readings_24h"] == 2
    assert body["last_seen"] == pd.Timestamp(
        now - 20, unit="s", tz="UTC"
    ).isoformat().replace("+00:00", "Z")


def test_status_is_disconnected_after_two_intervals(
    app, auth_client, database_url, facility
):
    now = int(time.time())
    _write(database_url, facility, [(now - 121, 0.1, 0.1, 230.0)])
    client = auth_client("alice")
    body = client.get(f"/api/hardware-status-check?facility_id={facility}").get_json()
    assert body["connected"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("facility_id=abc", "facility_id"),
        ("facility_id=-1", "facility_id"),
        ("facility_id=1&start=yesterday", "start"),
        ("facility_id=1&end=2024-13-01", "end"),
        ("facility_id=1&start=2024-05-02&end=2024-05-01", "end"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(
    app, auth_client, facility, query, field
):
    client = auth_client("alice")
    response = client.get(f"/api/export.csv?{query}")
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    if field == "facility_id":
        again = client.get(f"/api/latest-hardware-data?{query}")
        assert again.status_code == 400 and again.get_json()["field"] == "facility_id"


def test_export_csv_of_a_range(app, auth_client, database_url, facility):
    base = int(pd.Timestamp("2024-05-01T22:00:00Z").timestamp())  # 00:00 in Berlin
    _write(
        database_url,
        facility,
        [(base + i * 60, 0.1 * i, 0.2, 230.0 + i) for i in range(5)],
    )
    client = auth_client("alice", "viewer")
    response = client.get(
        f"/api/export.csv?facility_id={facility}&start=2024-05-02&end=2024-05-02T00:03"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert (
        'filename="energy-dash-facility-1-2024-05-02-2024-05-02.csv"'
        in (response.headers["Content-Disposition"])
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["timestamp"] for r in rows] == [
        "2024-05-02T00:00:00+02:00",
        "2024-05-02T00:01:00+02:00",
        "2024-05-02T00:02:00+02:00",
    ]
    assert [float(r["voltage_v"]) for r in rows] == [230.0, 231.0, 232.0]
    assert {r["facility_id"] for r in rows} == {"1"}


def test_long_export_is_streamed_with_one_header(
    app, auth_client, database_url, facility
):
    base = int(pd.Timestamp("2024-01-01T00:00:00Z").timestamp())
    days = [base + d * 86400 for d in range(0, 40, 3)]
    _write(database_url, facility, [(t, 0.1, 0.2, 230.0) for t in days])
    client = auth_client("alice")
    response = client.get(
        f"/api/export.csv?facility_id={facility}"
        "&start=2024-01-01T00:00Z&end=2024-02-15T00:00Z"
    )
    assert response.status_code == 200
    assert response.is_streamed
    text = response.get_data(as_text=True)
    lines = text.strip().split("\n")
    assert lines[0].startswith("timestamp,facility_id,device_id,energy_produced_kwh,")
    assert text.count("timestamp,") == 1
    assert len(lines) == 1 + len(days)


def test_other_facility_is_forbidden(app, auth_client, database_url, facility):
    with session_scope(database_url) as db:
        other = Facility(name="Other", timezone="UTC")
        db.add(other)
        db.flush()
        other_id = other.id
    client = auth_client("alice")
    response = client.get(f"/api/export.csv?facility_id={other_id}")
    assert response.status_code == 403
    assert response.get_json() == {"error": "you are not a member of this facility"}
    missing = client.get("/api/hardware-status-check?facility_id=999")
    assert missing.status_code == 403


def test_debug_test_hardware_stores_one_reading(
    app, auth_client, database_url, facility
):
    client = auth_client("alice", "operator")
    response = client.get("/api/debug/test-hardware")
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "ok" and body["facility_id"] == facility
    frame = data.read_readings(facility, database_url=database_url)
    assert len(frame) == 1
    assert frame["device_id"].iloc[0] == "debug-sensor"
    assert frame["voltage"].iloc[0] == body["reading"]["voltage"]
    assert 0 <= frame["current_load"].iloc[0] <= 100


def test_debug_voltage_demo_writes_the_profile_and_opens_alerts(
    app, auth_client, database_url, facility
):
    client = auth_client("alice")
    response = client.get("/api/debug/voltage-demo?condition=high_critical")
    assert response.status_code == 201
    body = response.get_json()
    assert body["accepted"] == 12
    # 15 % critical + 3 points over 230 V nominal.
    assert set(body["voltages"]) == {round(230 * 1.18, 2)}
    alerts = data.read_alerts(facility, database_url=database_url)
    assert list(alerts["kind"]) == ["voltage_high"]
    assert list(alerts["level"]) == ["critical"]

    normal = client.get("/api/debug/voltage-demo?condition=normal").get_json()
    assert all(abs(v - 230) / 230 < 0.01 for v in normal["voltages"])
    warning = client.get("/api/debug/voltage-demo?condition=low_warning").get_json()
    assert set(warning["voltages"]) == {round(230 * (1 - 0.125), 2)}


def test_debug_voltage_demo_refuses_unknown_conditions(app, auth_client, facility):
    client = auth_client("alice")
    response = client.get("/api/debug/voltage-demo?condition=sideways")
    assert response.status_code == 400
    assert response.get_json()["field"] == "condition"


def test_debug_endpoints_refuse_viewers(app, auth_client, facility):
    client = auth_client("vera", "viewer")
    assert client.get("/api/debug/test-hardware").status_code == 403
    assert client.get("/api/debug/voltage-demo").status_code == 403


DEBUG_PATHS = ("/api/debug/test-hardware", "/api/debug/voltage-demo?condition=normal")


def test_debug_endpoints_need_a_session_in_development(app, client, auth_client):
    signed_in = auth_client("alice")
    for path in DEBUG_PATHS:
        anonymous = client.get(path)
        assert (anonymous.status_code, anonymous.get_json()) == (
            401, {"error": "login required"}
        )
        assert signed_in.get(path).status_code == 201


def test_debug_endpoints_answer_like_unknown_paths_in_production(
    settings, make_user, facility
):
    """Not even their existence shows: 404 for everybody, whatever the method."""
    from energy_dash.app import create_app

    prod = create_app(replace(settings, env="production"))
    make_user("alice", facility=facility)
    https = "https://localhost"  # production cookies are Secure
    anonymous, signed_in = prod.server.test_client(), prod.server.test_client()
    page = signed_in.get("/login", base_url=https)
    signed = signed_in.post(
        "/login",
        base_url=https,
        data={
            "username": "alice",
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert signed.status_code == 302
    for client in (anonymous, signed_in):
        for method in ("GET", "POST"):
            unknown = client.open(
                "/api/debug/no-such-endpoint", method=method, base_url=https
            )
            assert (unknown.status_code, unknown.get_json()) == (
                404, {"error": "not found"}
            )
            for path in DEBUG_PATHS:
                response = client.open(path, method=method, base_url=https)
                assert (response.status_code, response.get_json()) == (
                    404, {"error": "not found"}
                ), (method, path)
    status = signed_in.get("/api/hardware-status-check", base_url=https)
    assert status.status_code == 200
