"""POST /api/hardware/data and the small endpoints of the sensor API (README
"Sensor API").

Everything runs over HTTP (Flask test client, or a live werkzeug server for the
concurrency test) against a real database, once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from energy_dash import data
from energy_dash.app import create_app
from energy_dash.db import session_scope
from energy_dash.db.models import ApiKey, Facility, ReadingRollup
from energy_dash.domain.validation import DEVICE_TEXT_MESSAGE
from energy_dash.storage.devices import create_api_key, digest, revoke_api_key
from ingest.state import KEY_TTL_S

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"
UNAUTHORIZED = {"error": "invalid or missing API key"}
READING = {
    "energy_produced": 75.5, "energy_consumed": 62.3, "current_load": 35.8,
    "voltage": 220.5, "current": 15.2, "current1": 5.1, "current2": 5.0,
    "current3": 5.1, "frequency": 50.0, "power_factor": 0.95, "facility_id": 1,
}
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}


def hour_ago() -> int:
    """A whole second an hour ago, so stamps are exact and never in the future."""
    return int(time.time()) - 3600


def iso(ts_s: int) -> str:
    return pd.Timestamp(ts_s, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def post(client, key, body, **headers):
    return client.post(DATA, json=body, headers={"X-API-Key": key, **headers})


def post_raw(client, key, payload, content_type="application/json"):
    return client.post(
        DATA, data=payload, content_type=content_type, headers={"X-API-Key": key}
    )


def stored(database_url, facility) -> pd.DataFrame:
    return data.read_readings(facility, database_url=database_url)


# ---------------------------------------------------------------- 201 and 200
def test_reading_is_stored_with_id_timestamp_and_no_alerts(
    client, api_key, facility, database_url
):
    ts = hour_ago()
    response = post(client, api_key, {**READING, "timestamp": ts})
    assert response.status_code == 201
    body = response.get_json()
    assert body == {
        "status": "ok", "id": body["id"], "timestamp": iso(ts), "alerts": []
    }
    assert isinstance(body["id"], int)
    frame = stored(database_url, facility)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert frame.index[0] == pd.Timestamp(ts, unit="s", tz="UTC")
    assert row["device_id"] == "sensor-1"  # default: the key's name
    for name, value in READING.items():
        if name != "facility_id":
            assert row[name] == value, name


def test_duplicate_is_stored_once_and_answers_the_same_id(
    client, api_key, facility, database_url
):
    body = {**MINIMAL, "timestamp": hour_ago(), "device_id": "meter-7"}
    first = post(client, api_key, body)
    assert first.status_code == 201
    again = post(client, api_key, {**body, "energy_produced": 9.0})
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "id": first.get_json()["id"]}
    frame = stored(database_url, facility)
    assert len(frame) == 1
    assert frame.iloc[0]["energy_produced"] == 1.0
    assert frame.iloc[0]["device_id"] == "meter-7"
    # Another device at the same instant is a different reading.
    other = post(client, api_key, {**body, "device_id": "meter-8"})
    assert other.status_code == 201


def test_timestamp_defaults_to_receipt_time(client, api_key, facility, database_url):
    before = time.time()
    response = post(client, api_key, MINIMAL)
    after = time.time()
    assert response.status_code == 201
    stamp = pd.Timestamp(response.get_json()["timestamp"])
    assert stamp.tzinfo is not None
    assert before - 0.001 <= stamp.timestamp() <= after + 0.001
    assert response.get_json()["timestamp"].endswith("Z")
    assert stored(database_url, facility).index[0] == stamp


def test_iso_timestamp_with_offset_and_numeric_strings(
    client, api_key, facility, database_url
):
    ts = hour_ago()
    local = pd.Timestamp(ts, unit="s", tz="UTC").tz_convert("Asia/Kolkata").isoformat()
    body = {
        "energy_produced": "1.25", "energy_consumed": " 2 ", "current_load": "3e1",
        "voltage": "231.5", "facility_id": "1", "timestamp": local,
    }
    response = post(client, api_key, body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["timestamp"] == iso(ts)
    row = stored(database_url, facility).iloc[0]
    assert (row["energy_produced"], row["energy_consumed"], row["current_load"]) == (
        1.25, 2.0, 30.0
    )
    assert row["voltage"] == 231.5


def test_unknown_fields_are_ignored(client, api_key, facility, database_url):
    body = {**MINIMAL, "firmware": "2.1", "nested": {"a": [1, 2, {"b": None}]},
            "rssi": -71}
    response = post(client, api_key, body)
    assert response.status_code == 201
    assert len(stored(database_url, facility)) == 1


def test_duplicate_json_keys_keep_the_last_value(client, api_key, facility,
                                                  database_url):
    payload = (
        '{"energy_produced": 1, "energy_consumed": 2, "current_load": 3,'
        ' "voltage": 900, "voltage": 231}'
    )
    response = post_raw(client, api_key, payload)
    assert response.status_code == 201
    assert stored(database_url, facility).iloc[0]["voltage"] == 231.0


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8",
     "application/vnd.energy-reading+json", "Application/JSON"],
)
def test_json_content_types_are_accepted(client, api_key, facility, content_type):
    response = post_raw(client, api_key, json.dumps(MINIMAL), content_type)
    assert response.status_code == 201


def test_voltage_zero_is_an_outage_stored_and_alerted(
    client, api_key, facility, database_url
):
    ts = hour_ago()
    response = post(client, api_key, {**MINIMAL, "voltage": 0, "timestamp": ts})
    assert response.status_code == 201
    body = response.get_json()
    assert len(body["alerts"]) == 1
    alert = body["alerts"][0]
    assert (alert["kind"], alert["level"], alert["event"], alert["value"]) == (
        "outage", "critical", "opened", 0.0
    )
    assert pd.Timestamp(alert["started_at"]) == pd.Timestamp(ts, unit="s", tz="UTC")
    assert stored(database_url, facility).iloc[0]["voltage"] == 0.0
    alerts = data.read_alerts(facility, database_url=database_url)
    assert list(alerts["kind"]) == ["outage"]
    assert pd.isna(alerts.iloc[0]["ended_at"])


def test_alert_lifecycle_through_the_api(client, api_key, facility, database_url):
    """230 V nominal, warning 10 %, critical 15 %, hysteresis 1 %: an excursion opens
    once, escalates, and closes only when the deviation is back to <= 9 % (250.7 V)."""
    t0 = hour_ago() - 600

    def send(offset_s, volts):
        response = post(
            client, api_key, {**MINIMAL, "voltage": volts, "timestamp": t0 + offset_s}
        )
        assert response.status_code == 201, response.get_json()
        return [(a["kind"], a["level"], a["event"], a["value"])
                for a in response.get_json()["alerts"]]

    assert send(0, 230) == []
    assert send(60, 254) == [("voltage_high", "warning", "opened", 254.0)]
    assert send(120, 258) == []  # same excursion, same level: not reported again
    assert send(180, 266) == [("voltage_high", "critical", "escalated", 266.0)]
    assert send(240, 251) == []  # 9.13 % > 9 %: still open (hysteresis)
    assert send(300, 250) == []  # 8.70 %: closes
    assert send(360, 254) == [("voltage_high", "warning", "opened", 254.0)]
    assert send(420, 230) == []  # closes the second excursion

    alerts = data.read_alerts(facility, database_url=database_url)
    alerts = alerts.sort_values("started_at").reset_index(drop=True)
    assert len(alerts) == 2
    first, second = alerts.iloc[0], alerts.iloc[1]
    utc = lambda s: pd.Timestamp(t0 + s, unit="s", tz="UTC")  # noqa: E731
    assert (first["kind"], first["level"], first["extreme_value"]) == (
        "voltage_high", "critical", 266.0
    )
    assert (first["started_at"], first["ended_at"]) == (utc(60), utc(300))
    assert first["duration_s"] == 240.0
    assert (second["level"], second["extreme_value"]) == ("warning", 254.0)
    assert (second["started_at"], second["ended_at"]) == (utc(360), utc(420))


# ------------------------------------------------------------------ errors
def test_missing_unknown_and_revoked_keys_answer_401(
    client, api_key, facility, database_url
):
    assert client.post(DATA, json=MINIMAL).status_code == 401
    assert client.post(DATA, json=MINIMAL).get_json() == UNAUTHORIZED
    assert post(client, "", MINIMAL).get_json() == UNAUTHORIZED
    wrong = post(client, api_key + "x", MINIMAL)
    assert (wrong.status_code, wrong.get_json()) == (401, UNAUTHORIZED)
    assert post(client, api_key, MINIMAL).status_code == 201
    with session_scope(database_url) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "sensor-1"))
        assert revoke_api_key(session, facility, key_id)
    # A found key is remembered for at most KEY_TTL_S (one second) per process, so a
    # revocation reaches every worker and host within that second.
    time.sleep(KEY_TTL_S)
    revoked = post(client, api_key, {**MINIMAL, "timestamp": hour_ago()})
    assert (revoked.status_code, revoked.get_json()) == (401, UNAUTHORIZED)
    for path in ("/api/hardware/status", "/api/hardware/config"):
        response = client.get(path, headers={"X-API-Key": api_key})
        assert (response.status_code, response.get_json()) == (401, UNAUTHORIZED)
    assert len(stored(database_url, facility)) == 1


def test_other_facility_answers_403(client, api_key, facility, database_url):
    with session_scope(database_url) as session:
        session.add(Facility(name="Other", timezone="UTC"))
    for claimed in (2, "2", 2.0, 99):
        response = post(client, api_key, {**MINIMAL, "facility_id": claimed})
        assert response.status_code == 403, claimed
        assert response.get_json() == {
            "error": "facility_id does not match the facility of this API key"
        }
    # Even when other fields are invalid too, the facility is checked first.
    assert post(client, api_key, {"facility_id": 2}).status_code == 403
    assert stored(database_url, facility).empty
    own = post(client, api_key, {**MINIMAL, "facility_id": facility})
    assert own.status_code == 201


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "body is empty; send a JSON document"),
        (b"not json", "body is not valid JSON: Expecting value (line 1 column 1)"),
        (b'{"energy_produced": 1,', "body is not valid JSON: Expecting property name "
         "enclosed in double quotes (line 1 column 23)"),
        (b'{"device_id": "\xff\xfe"}', "body is not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "body is nested too deeply"),
        (b'{"energy_produced": NaN, "energy_consumed": 1, "current_load": 1}',
         "body is not valid JSON: NaN is not valid JSON; send a number or leave the "
         "field out"),
        (b'{"voltage": -Infinity}', "body is not valid JSON: -Infinity is not valid "
         "JSON; send a number or leave the field out"),
    ],
    ids=["empty", "garbage", "truncated", "bad-utf8", "deep", "nan", "infinity"],
)
def test_bodies_that_are_not_json_answer_400(client, api_key, facility, payload,
                                              message):
    response = post_raw(client, api_key, payload)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


@pytest.mark.parametrize("body", [[MINIMAL], "reading", 42, None, True])
def test_json_that_is_not_an_object_answers_400(client, api_key, facility, body):
    response = post_raw(client, api_key, json.dumps(body))
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "body must be a JSON object (one reading); send arrays to "
        "/api/hardware/data/bulk"
    }


def test_invalid_fields_answer_422_with_field_names(client, api_key, facility,
                                                     database_url):
    body = {
        "energy_produced": -1, "energy_consumed": "lots", "voltage": 1200,
        "frequency": 10, "power_factor": 1.5, "device_id": "x" * 65,
        "timestamp": "2025-01-01T12:00:00",
    }
    response = post(client, api_key, body)
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_error",
        "details": [
            {"field": "energy_produced", "message": "must be >= 0"},
            {"field": "energy_consumed", "message": "must be a number"},
            {"field": "voltage", "message": "must be <= 1000"},
            {"field": "frequency", "message": "must be >= 40"},
            {"field": "power_factor", "message": "must be <= 1"},
            {"field": "timestamp",
             "message": "must include a UTC offset (e.g. 2025-01-01T12:00:00Z)"},
            {"field": "device_id", "message": "must be at most 64 characters"},
        ],
    }
    assert stored(database_url, facility).empty


def test_future_timestamps_beyond_five_minutes_are_rejected(
    client, api_key, facility, database_url
):
    now = time.time()
    late = post(client, api_key, {**MINIMAL, "timestamp": now + 330})
    assert late.status_code == 422
    assert late.get_json()["details"] == [
        {"field": "timestamp", "message": "is more than 5 minutes in the future"}
    ]
    soon = post(client, api_key, {**MINIMAL, "timestamp": int(now) + 240})
    assert soon.status_code == 201
    assert len(stored(database_url, facility)) == 1


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ('{"energy_produced": 1%s, "energy_consumed": 1, "current_load": 1}'
         % ("0" * 400), "energy_produced", "must be a finite number"),
        ('{"energy_produced": 1e999, "energy_consumed": 1, "current_load": 1}',
         "energy_produced", "must be a finite number"),
        ('{"energy_produced": 1, "energy_consumed": 1, "current_load": 1, '
         '"timestamp": 1%s}' % ("0" * 5000), "timestamp",
         "must be a finite number of seconds"),
        ('{"energy_produced": 1, "energy_consumed": 1, "current_load": 1, '
         '"device_id": "a\\u0000b"}', "device_id",
         DEVICE_TEXT_MESSAGE),
        ('{"energy_produced": 1, "energy_consumed": 1, "current_load": 1, '
         '"device_id": "\\ud800"}', "device_id",
         DEVICE_TEXT_MESSAGE),
    ],
    ids=["huge-int", "huge-float", "huge-timestamp", "nul", "surrogate"],
)
def test_hostile_values_are_422_not_500(client, api_key, facility, payload, field,
                                        message):
    response = post_raw(client, api_key, payload)
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_error", "details": [{"field": field, "message": message}]
    }


def test_odd_facility_id_is_a_client_error(client, api_key, facility):
    # "²".isdigit() is True but int("²") fails: must not become a 500.
    response = post(client, api_key, {**MINIMAL, "facility_id": "²"})
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_error"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/x-ndjson", ""],
)
def test_wrong_content_type_answers_415(client, api_key, facility, content_type):
    response = client.post(
        DATA, data=json.dumps(MINIMAL), headers={"X-API-Key": api_key,
                                                 "Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.get_json() == {
        "error": "unsupported Content-Type; send application/json"
    }


def test_body_over_one_mebibyte_answers_413(client, api_key, facility, database_url):
    base = json.dumps(MINIMAL)
    exactly = base[:-1] + " " * (1024 * 1024 - len(base)) + "}"
    assert len(exactly) == 1024 * 1024
    assert post_raw(client, api_key, exactly).status_code == 201
    too_big = base[:-1] + " " * (1024 * 1024 + 1 - len(base)) + "}"
    response = post_raw(client, api_key, too_big)
    assert response.status_code == 413
    assert response.get_json() == {"error": "body too large: at most 1048576 bytes"}
    assert len(stored(database_url, facility)) == 1


def test_api_errors_are_json_and_other_paths_are_left_alone(client, api_key):
    headers = {"X-API-Key": api_key}
    cases = [
        (client.get("/api/no-such-thing", headers=headers), 404, "not found"),
        (client.post("/api/no-such-thing", headers=headers), 404, "not found"),
        (client.get(DATA, headers=headers), 405, "method not allowed"),
        (client.delete("/api/hardware/status", headers=headers), 405,
         "method not allowed"),
        (client.post("/api/hardware/config", headers=headers), 405,
         "method not allowed"),
        (client.put("/api/openapi.json"), 405, "method not allowed"),
        (client.post("/healthz"), 405, "method not allowed"),
    ]
    for response, status, message in cases:
        assert response.status_code == status
        assert response.mimetype == "application/json"
        assert response.get_json() == {"error": message}
    assert "POST" in client.get(DATA, headers=headers).headers["Allow"]
    assert "GET" in client.delete("/api/hardware/status").headers["Allow"]
    # Outside /api/ Flask's own HTML error pages stay.
    missing = client.get("/assets/no-such-file.css")
    assert (missing.status_code, missing.mimetype) == (404, "text/html")
    wrong_method = client.delete("/_favicon.ico")
    assert (wrong_method.status_code, wrong_method.mimetype) == (405, "text/html")


def test_rate_limit_answers_429_with_retry_after(settings, facility, database_url):
    app = create_app(dataclasses.replace(settings, ingest_rate="3/minute"))
    client = app.server.test_client()
    with session_scope(database_url) as session:
        first = create_api_key(session, facility, "a")
        second = create_api_key(session, facility, "b")
    t = hour_ago()
    for i in range(3):
        assert post(client, first, {**MINIMAL, "timestamp": t + i}).status_code == 201
    limited = post(client, first, {**MINIMAL, "timestamp": t + 3})
    assert limited.status_code == 429
    retry = int(limited.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert limited.get_json() == {
        "error": f"too many requests for this API key; retry after {retry} s"
    }
    assert client.get("/api/hardware/status",
                      headers={"X-API-Key": first}).status_code == 429
    # Per key: another device is unaffected; nothing of the refused one was stored.
    assert post(client, second, {**MINIMAL, "timestamp": t}).status_code == 201
    assert len(stored(database_url, facility)) == 4


def test_last_used_at_is_written_at_most_once_a_minute(
    client, api_key, facility, database_url
):
    def last_used():
        with session_scope(database_url) as session:
            return session.scalar(select(ApiKey.last_used_at))

    assert last_used() is None
    assert post(client, api_key, MINIMAL).status_code == 201
    first = last_used()
    assert first is not None
    time.sleep(0.01)
    assert post(client, api_key, {**MINIMAL, "device_id": "b"}).status_code == 201
    assert last_used() == first


def test_keys_and_payloads_are_never_logged(client, api_key, facility, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "payload-marker-8f2c"
    post(client, api_key, {**MINIMAL, "device_id": marker})
    post(client, api_key + "typo", {**MINIMAL, "device_id": marker})
    post(client, api_key, {"device_id": marker})
    post_raw(client, api_key, marker)
    text = caplog.text
    assert api_key not in text
    assert api_key[:12] not in text
    assert marker not in text


# ---------------------------------------------------------- bootstrap key
def test_hardware_api_key_is_a_hashed_bootstrap_key(settings, facility, database_url):
    secret = "legacy-firmware-key-0123456789"
    app = create_app(dataclasses.replace(settings, hardware_api_key=secret))
    with session_scope(database_url) as session:
        rows = session.execute(select(ApiKey.name, ApiKey.key_hash,
                                      ApiKey.facility_id)).all()
    assert [(r.name, r.key_hash, r.facility_id) for r in rows] == [
        ("bootstrap", digest(secret), 1)
    ]
    client = app.server.test_client()
    response = post(client, secret, MINIMAL)
    assert response.status_code == 201
    assert stored(database_url, facility).iloc[0]["device_id"] == "bootstrap"
    # A second app (another worker) does not add it twice.
    create_app(dataclasses.replace(settings, hardware_api_key=secret))
    with session_scope(database_url) as session:
        assert len(session.scalars(select(ApiKey.id)).all()) == 1


def test_bootstrap_key_registers_lazily_when_facility_1_comes_later(
    settings, database_url
):
    secret = "legacy-firmware-key-abcdefghij"
    app = create_app(dataclasses.replace(settings, hardware_api_key=secret))
    client = app.server.test_client()
    assert post(client, secret, MINIMAL).status_code == 401  # no facility 1 yet
    with session_scope(database_url) as session:
        session.add(Facility(name="Late", timezone="UTC"))
    assert post(client, secret, MINIMAL).status_code == 201
    assert post(client, "some-other-key", MINIMAL).status_code == 401


# --------------------------------------------------------- status / config
def test_status_reports_connection_and_counts(client, api_key, facility):
    headers = {"X-API-Key": api_key}
    empty = client.get("/api/hardware/status", headers=headers)
    assert empty.status_code == 200
    assert empty.get_json() == {
        "facility_id": facility, "connected": False, "last_seen": None,
        "expected_interval_s": 60, "readings_24h": 0,
    }
    now = int(time.time())
    old = now - 25 * 3600
    assert post(client, api_key, {**MINIMAL, "timestamp": old}).status_code == 201
    stale = now - 180  # older than 2 x 60 s
    assert post(client, api_key, {**MINIMAL, "timestamp": stale}).status_code == 201
    assert client.get("/api/hardware/status", headers=headers).get_json() == {
        "facility_id": facility, "connected": False, "last_seen": iso(stale),
        "expected_interval_s": 60, "readings_24h": 1,
    }
    fresh = now - 30
    assert post(client, api_key, {**MINIMAL, "timestamp": fresh}).status_code == 201
    assert client.get("/api/hardware/status", headers=headers).get_json() == {
        "facility_id": facility, "connected": True, "last_seen": iso(fresh),
        "expected_interval_s": 60, "readings_24h": 2,
    }
    assert client.get("/api/hardware/status").get_json() == UNAUTHORIZED


def test_config_reports_interval_zone_and_thresholds(client, api_key, facility):
    response = client.get("/api/hardware/config", headers={"X-API-Key": api_key})
    assert response.status_code == 200
    body = response.get_json()
    server_time = pd.Timestamp(body.pop("server_time"))
    assert abs(server_time.timestamp() - time.time()) < 5
    assert body == {
        "facility_id": facility,
        "reporting_interval_s": 60,
        "timezone": "Europe/Berlin",
        "nominal_voltage": 230.0,
        "thresholds": {
            "warning_pct": 10.0, "critical_pct": 15.0, "hysteresis_pct": 1.0,
            "volts": {
                "nominal": 230.0, "warning_low": 207.0, "warning_high": 253.0,
                "critical_low": 195.5, "critical_high": 264.5, "outage_below": 11.5,
                "hysteresis": 2.3,
            },
        },
    }


# ------------------------------------------------------ openapi / health
def test_openapi_document_describes_the_api(client):
    from energy_dash.domain.validation import reading_schema

    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["schemas"]["Reading"] == reading_schema()
    assert doc["components"]["securitySchemes"] == {
        "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    assert doc["security"] == [{"ApiKeyAuth": []}]
    operations = {
        (path, method): op for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert set(operations) == {
        ("/api/hardware/data", "post"), ("/api/hardware/data/bulk", "post"),
        ("/api/hardware/status", "get"), ("/api/hardware/config", "get"),
        ("/api/openapi.json", "get"), ("/healthz", "get"),
    }
    assert set(operations["/api/hardware/data", "post"]["responses"]) == {
        "200", "201", "400", "401", "403", "413", "415", "422", "429", "503"
    }
    assert operations["/healthz", "get"]["security"] == []
    for op in operations.values():
        for response_doc in op["responses"].values():
            assert "schema" in response_doc["content"]["application/json"]


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (
        200, {"status": "ok", "database": "ok"}
    )


def test_healthz_503_when_the_database_is_unreachable(settings):
    down = dataclasses.replace(
        settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    client = create_app(down).server.test_client()
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 5
    assert (response.status_code, response.get_json()) == (
        503, {"status": "error", "database": "unreachable"}
    )
    # Ingest answers 503 with Retry-After too: nothing valid is silently lost.
    ingest = post(client, "ed_whatever", MINIMAL)
    assert ingest.status_code == 503
    assert ingest.headers["Retry-After"] == "5"
    assert ingest.get_json() == {
        "error": "database unavailable; nothing was stored, retry later"
    }


# ---------------------------------------------------------- concurrency
@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)


def _http_post(port, key, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", DATA, body=json.dumps(body),
                     headers={"X-API-Key": key, "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_concurrent_posts_store_every_reading_exactly_once(
    live_server, api_key, facility, database_url
):
    base = hour_ago() - 1000
    # Thread i sends stamps i*15 .. i*15+24: neighbours overlap by 10 readings.
    plan = [[base + i * 15 + j for j in range(25)] for i in range(8)]

    def worker(stamps):
        return [
            (ts, *_http_post(live_server, api_key,
                             {**MINIMAL, "voltage": 230.0, "timestamp": ts}))
            for ts in stamps
        ]

    with ThreadPoolExecutor(8) as pool:
        results = [r for chunk in pool.map(worker, plan) for r in chunk]

    statuses = [status for _, status, _ in results]
    assert all(s in (200, 201) for s in statuses), sorted(set(statuses))
    unique = {ts for stamps in plan for ts in stamps}
    assert len(unique) == 7 * 15 + 25
    assert statuses.count(201) == len(unique)
    assert statuses.count(200) == 8 * 25 - len(unique)
    ids: dict[int, int] = {}
    for ts, status, body in results:
        if status == 201:
            assert ts not in ids
            ids[ts] = body["id"]
    for ts, status, body in results:
        if status == 200:
            assert body == {"status": "duplicate", "id": ids[ts]}
    frame = stored(database_url, facility)
    assert len(frame) == len(unique)
    assert sorted(int(t.timestamp()) for t in frame.index) == sorted(unique)


def test_chunked_body_over_the_limit_answers_413_json(live_server, api_key, facility):
    conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=30)
    try:
        # 1.25 MiB without Content-Length: a JSON object padded with spaces.
        chunks = [b'{"energy_produced": 1, "a": "', *(b"x" * 65536 for _ in range(20)),
                  b'"}']
        conn.request("POST", DATA, body=chunks, encode_chunked=True,
                     headers={"X-API-Key": api_key, "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        assert response.status == 413, response.read()
        assert json.loads(response.read()) == {
            "error": "body too large: at most 1048576 bytes"
        }
    finally:
        conn.close()


# ------------------------------------------------------------ writer lock
def test_writer_lock_paths(tmp_path):
    from ingest.writelock import lock_path

    assert lock_path(f"sqlite:///{tmp_path}/x.db") == f"{tmp_path}/x.db.ingest-lock"
    assert lock_path("sqlite://") is None
    assert lock_path("sqlite:///:memory:") is None
    assert lock_path("postgresql+psycopg://postgres@127.0.0.1/test") is None


def test_writer_lock_excludes_other_processes_and_threads(tmp_path):
    import multiprocessing

    from ingest.writelock import WriterLock

    url = f"sqlite:///{tmp_path}/x.db"
    lock = WriterLock(url)
    with lock.hold():  # open the descriptor before forking: the child must reopen
        pass
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()

    def child():
        with lock.hold():
            held.set()
            release.wait(10)

    proc = ctx.Process(target=child)
    proc.start()
    try:
        assert held.wait(10)
        got = threading.Event()

        def take():
            with lock.hold():
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(0.3)  # blocked while the other process holds it
        release.set()
        assert got.wait(10)
        taker.join(10)
    finally:
        release.set()
        proc.join(10)
    assert proc.exitcode == 0


def test_status_and_config_answer_with_the_default_limit_on(settings, api_key):
    """With the request limit counted in the database, the first status and
    config calls of a key (which record its use) used to fail with 503 on
    SQLite: the use was written inside the read transaction the limiter's own
    write had overtaken."""
    app = create_app(dataclasses.replace(settings, ingest_rate="600/minute"))
    client = app.server.test_client()
    headers = {"X-API-Key": api_key}
    status = client.get("/api/hardware/status", headers=headers)
    assert status.status_code == 200, status.get_json()
    assert status.get_json()["readings_24h"] == 0
    config = client.get("/api/hardware/config", headers=headers)
    assert config.status_code == 200, config.get_json()
    assert config.get_json()["reporting_interval_s"] == 60
    stored_now = post(client, api_key, {**MINIMAL, "timestamp": hour_ago()})
    assert stored_now.status_code == 201


@pytest.mark.parametrize("claimed", ["9" * 4301, "9" * 19, "²", "1e3"])
def test_a_facility_id_no_facility_can_have_is_a_422_naming_it(
    client, api_key, database_url, facility, claimed
):
    """Python refuses int() of more than 4 300 digits: that string was a 500."""
    body = {**MINIMAL, "timestamp": hour_ago(), "facility_id": claimed}
    response = post(client, api_key, body)
    assert response.status_code == 422
    assert response.get_json()["details"] == [
        {"field": "facility_id", "message": "must be an integer"}
    ]
    good = {**MINIMAL, "timestamp": hour_ago() + 1}
    bulk = client.post(BULK, json=[body, good], headers={"X-API-Key": api_key})
    assert bulk.status_code == 200
    assert bulk.get_json()["accepted"] == 1
    assert bulk.get_json()["rejected"] == [
        {"index": 0, "details": [{"field": "facility_id",
                                  "message": "must be an integer"}]}
    ]
    assert len(stored(database_url, facility)) == 1


def test_the_load_left_out_is_derived_from_the_consumed_energy(
    client, api_key, database_url, facility
):
    """The consumed energy over the reading's interval, as a share of the
    capacity (100 kW): 0.5 kWh in 60 s is 30 kW, 30 %; capped at 100 %."""
    start = hour_ago()
    first = {"energy_produced": 0.1, "energy_consumed": 0.5, "timestamp": start}
    assert post(client, api_key, first).status_code == 201
    second = {**first, "energy_consumed": 0.25, "timestamp": start + 30}
    assert post(client, api_key, second).status_code == 201
    rows = [{**first, "energy_consumed": 5.0, "timestamp": start + 90}]
    bulk = client.post(BULK, json=rows, headers={"X-API-Key": api_key})
    assert (bulk.get_json()["accepted"], bulk.get_json()["rejected"]) == (1, [])
    loads = stored(database_url, facility)["current_load"].round(6).tolist()
    # the first reading has no previous one: the expected interval (60 s)
    assert loads == [30.0, 30.0, 100.0]


def test_the_bootstrap_key_keeps_no_character_and_dies_with_its_variable(
    settings, database_url, facility
):
    """HARDWARE_API_KEY is stored as its digest only (its first characters were
    kept, which for a short secret was all of it), and a value taken out of the
    environment, or replaced, stops working at the next start."""
    short = "abcd"
    app = create_app(dataclasses.replace(settings, hardware_api_key=short))
    assert post(app.server.test_client(), short, MINIMAL).status_code == 201
    with session_scope(database_url) as session:
        (prefix,) = session.execute(
            select(ApiKey.prefix).where(ApiKey.name == "bootstrap")).one()
    assert short not in prefix and prefix == "HARDWARE_KEY"
    replaced = create_app(dataclasses.replace(settings, hardware_api_key="x" * 24))
    client = replaced.server.test_client()
    assert post(client, short, MINIMAL).status_code == 401
    assert post(client, "x" * 24, MINIMAL).status_code == 201
    unset = create_app(dataclasses.replace(settings, hardware_api_key=None))
    assert post(unset.server.test_client(), "x" * 24, MINIMAL).status_code == 401
    created = create_app(settings).server.test_client()
    with session_scope(database_url) as session:
        named = create_api_key(session, facility, "bootstrap")  # a user's own name
    assert post(created, named, MINIMAL).status_code == 201
    assert post(create_app(settings).server.test_client(), named,
                MINIMAL).status_code == 201


def test_a_derived_load_follows_its_energy_when_a_register_is_rebooked(
    client, api_key, database_url, facility
):
    """A reset is only known to be one when the register stays down, so the
    readings after it are booked again; their load, derived from the energy,
    stayed at what the first booking gave (0 %). 0.05 kWh in 10 s is 18 kW,
    18 % of the facility's 100 kW."""
    start = hour_ago()
    totals = [100.0, 100.05, 100.10, 5.0, 5.05, 5.10, 5.15]
    for i, total in enumerate(totals):
        body = {"energy_produced": 0.0, "energy_consumed_total": total,
                "timestamp": start + 10 * i}
        assert post(client, api_key, body).status_code == 201
    rows = stored(database_url, facility)
    energies = rows["energy_consumed"].round(6).tolist()
    loads = rows["current_load"].round(6).tolist()
    assert energies[4:] == [0.05, 0.05, 0.05]
    assert loads[4:] == [18.0, 18.0, 18.0]
    assert loads[1:3] == [18.0, 18.0]
    with session_scope(database_url) as session:  # the rollups moved with them
        rolled = session.execute(
            select(func.sum(ReadingRollup.current_load_sum),
                   func.sum(ReadingRollup.energy_consumed_sum))
            .where(ReadingRollup.facility_id == facility)).one()
    assert round(rolled[0], 6) == round(sum(loads), 6)
    assert round(rolled[1], 6) == round(sum(energies), 6)
