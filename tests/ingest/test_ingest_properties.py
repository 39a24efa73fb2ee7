"""Property tests: no body, however odd, makes the sensor API answer 5xx or non-JSON.

SQLite only (the property is about parsing and validation, not the engine); the
app, facility and key are built once per test and shared by its examples.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from energy_dash.app import create_app
from energy_dash.config import Settings
from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.domain.validation import ALTERNATIVES, NUMBER_FIELDS
from energy_dash.storage.devices import create_api_key

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"
KNOWN = [f.name for f in NUMBER_FIELDS] + ["timestamp", "device_id", "facility_id"]
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
now = int(time.time())
field_values = (
    json_values
    | st.floats()  # NaN and infinities: the encoder writes NaN / Infinity literals
    | st.integers(min_value=now - 10**7, max_value=now + 1000)
    | st.floats(min_value=-5, max_value=1100).map(str)
    | st.sampled_from(["", " ", "1e309", "-0", "0x10", "²", "٣", "1_000", "\x00",
                       "2025-01-01T00:00:00Z", "2025-01-01",
                       "9999-12-31T23:59:59+14:00",
                       "0001-01-01T00:00:00-12:00", "nan", "inf", "\ud800"])
)
REQUIRED = ("energy_produced", "energy_consumed", "current_load")
ENERGIES = REQUIRED[:2]
plausible = st.floats(min_value=0, max_value=100) | st.integers(0, 100).map(str)
mostly_valid = st.fixed_dictionaries(
    {name: plausible for name in REQUIRED},
    optional={
        **{name: field_values for name in KNOWN if name not in REQUIRED},
        "facility_id": st.just(1) | field_values,
    },
)
readings = mostly_valid | st.fixed_dictionaries(
    {}, optional={name: field_values for name in KNOWN}
) | st.dictionaries(st.sampled_from(KNOWN) | st.text(max_size=8), field_values,
                    max_size=6)


@pytest.fixture
def sensor(sqlite_url, tmp_path):
    with session_scope(sqlite_url) as session:
        session.add(Facility(name="Property", timezone="UTC"))
        session.flush()
        key = create_api_key(session, 1, "prop")
    app = create_app(
        Settings(
            database_url=sqlite_url, session_secret="p" * 48, ingest_rate="0",
            instance_dir=tmp_path, mail_outbox=str(tmp_path / "outbox"), testing=True,
        )
    )
    return app.server.test_client(), key


def _dumps(value) -> str:
    return json.dumps(value, allow_nan=True)


def _assert_client_or_success(response) -> dict:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data())
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and body["error"]
    return body


@PROPERTY
@given(value=json_values)
def test_any_json_value_is_answered_2xx_or_4xx(sensor, value):
    client, key = sensor
    response = client.post(DATA, data=_dumps(value), content_type="application/json",
                           headers={"X-API-Key": key})
    body = _assert_client_or_success(response)
    if not isinstance(value, dict):
        assert response.status_code == 400
    if response.status_code == 201:
        assert body["status"] == "ok"


@PROPERTY
@given(reading=readings)
def test_any_reading_like_object_is_answered_2xx_or_4xx(sensor, reading):
    client, key = sensor
    response = client.post(DATA, data=_dumps(reading), content_type="application/json",
                           headers={"X-API-Key": key})
    body = _assert_client_or_success(response)
    event(f"HTTP {response.status_code}")
    if response.status_code == 422:
        assert body["error"] == "validation_error"
        assert body["details"]
        assert {d["field"] for d in body["details"]} <= {*KNOWN, ""}
    elif response.status_code in (200, 201):
        # the interval energies (the load is derived when left out), or a
        # register or power instead
        assert all(name in reading for name in ENERGIES) or any(
            reading.get(name) is not None for name in ALTERNATIVES)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300)
       | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_answered_2xx_or_4xx(sensor, payload):
    client, key = sensor
    for path in (DATA, BULK):
        response = client.post(path, data=payload, content_type="application/json",
                               headers={"X-API-Key": key})
        _assert_client_or_success(response)
    response = client.post(BULK, data=payload, content_type="application/x-ndjson",
                           headers={"X-API-Key": key})
    body = _assert_client_or_success(response)
    assert response.status_code == 200
    assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(
        [line for line in payload.split(b"\n") if line.strip()]
    )


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(rows=st.lists(readings | json_values, max_size=12))
def test_any_bulk_array_accounts_for_every_row(sensor, rows):
    client, key = sensor
    response = client.post(BULK, data=_dumps(rows), content_type="application/json",
                           headers={"X-API-Key": key})
    body = _assert_client_or_success(response)
    if response.status_code == 200:
        assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(
            rows
        )
        assert [r["index"] for r in body["rejected"]] == sorted(
            r["index"] for r in body["rejected"]
        )
    else:
        assert response.status_code == 400  # NaN / Infinity literals in the array
