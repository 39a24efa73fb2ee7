"""The sensor lane (``ingest.lane``) answers exactly as the Flask route would, on
its fast paths (a body read straight from the environ, answers built without a
werkzeug Response, remembered keys) and on the odd requests it hands to werkzeug."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest
from sqlalchemy import select

from energy_dash.db import session_scope
from energy_dash.db.models import ApiKey
from energy_dash.storage.devices import digest, revoke_api_key
from ingest.lane import LaneRequest, lane_request
from ingest.state import KEY_TTL_S

DATA = "/api/hardware/data"
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}


def _environ(key: str, body: bytes, **extra) -> dict:
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": DATA, "SCRIPT_NAME": "",
        "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_API_KEY": key, "REMOTE_ADDR": "127.0.0.1",
    }
    environ.update(extra)
    return {k: v for k, v in environ.items() if v is not None}


def _call(wsgi, environ) -> tuple[str, dict, bytes]:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(wsgi(environ, start_response))
    return seen["status"], dict(seen["headers"]), body


def _reading(ts_s: int) -> bytes:
    return json.dumps({**MINIMAL, "timestamp": ts_s}).encode()


def test_lane_and_flask_route_answer_alike(app, api_key, facility):
    """The same duplicate through the lane and through Flask's route (the lane's
    inner app): status, headers and body byte for byte."""
    lane = app.server.wsgi_app
    ts = int(time.time()) - 600
    first = _call(lane, _environ(api_key, _reading(ts)))
    assert first[0] == "201 CREATED"
    created = json.loads(first[2])
    assert created["status"] == "ok" and created["alerts"] == []
    assert first[1]["Content-Type"] == "application/json"
    assert first[1]["Content-Length"] == str(len(first[2]))
    assert first[1]["X-Content-Type-Options"] == "nosniff"
    via_lane = _call(lane, _environ(api_key, _reading(ts)))
    via_flask = _call(lane.inner, _environ(api_key, _reading(ts)))
    assert via_lane[0] == via_flask[0] == "200 OK"
    assert json.loads(via_lane[2]) == {"status": "duplicate", "id": created["id"]}
    assert via_lane[2] == via_flask[2]
    for name in ("Content-Type", "Content-Length", "X-Content-Type-Options",
                 "Cache-Control"):
        assert via_lane[1][name] == via_flask[1][name], name


def test_a_body_shorter_than_its_length_is_a_400_and_stores_nothing(
    app, api_key, facility, database_url
):
    body = _reading(int(time.time()) - 60)
    environ = _environ(api_key, body[:-5], CONTENT_LENGTH=str(len(body)))
    assert isinstance(lane_request(environ), LaneRequest)
    status, headers, answer = _call(app.server.wsgi_app, environ)
    assert status.startswith("400")
    assert headers["Content-Type"] == "application/json"
    assert "error" in json.loads(answer)
    with session_scope(database_url) as session:
        from energy_dash.db.models import Reading

        assert session.scalar(select(Reading.id)) is None


@pytest.mark.parametrize("length", ["12abc", "-1", "١٢"])
def test_odd_lengths_go_to_werkzeug_and_are_client_errors(app, api_key, facility,
                                                          length):
    environ = _environ(api_key, _reading(int(time.time()) - 60), CONTENT_LENGTH=length)
    assert not isinstance(lane_request(environ), LaneRequest)
    status, _, answer = _call(app.server.wsgi_app, environ)
    assert 400 <= int(status[:3]) < 500
    assert "error" in json.loads(answer)


def test_header_names_and_content_type_parameters_as_werkzeug_reads_them(
    app, api_key, facility
):
    environ = _environ(api_key, _reading(int(time.time()) - 60),
                       CONTENT_TYPE="Application/JSON; charset=utf-8")
    request = lane_request(environ)
    assert request.mimetype == "application/json"
    assert request.headers.get("x-api-key") == api_key
    assert request.headers.get("Content-Encoding") is None
    assert _call(app.server.wsgi_app, environ)[0] == "201 CREATED"


def test_gzip_bodies_still_work_on_the_lane(app, api_key, facility):
    import gzip

    body = gzip.compress(_reading(int(time.time()) - 60))
    environ = _environ(api_key, body, HTTP_CONTENT_ENCODING="gzip")
    assert _call(app.server.wsgi_app, environ)[0] == "201 CREATED"


def test_a_revoked_key_is_refused_within_a_second(client, api_key, facility,
                                                  database_url):
    """Keys found are remembered for KEY_TTL_S per process: revoking one (here as
    the settings page does, from another connection) reaches every worker and
    host within that second."""
    ts = int(time.time()) - 3600
    post = lambda i: client.post(DATA, json={**MINIMAL, "timestamp": ts + i},  # noqa: E731
                                 headers={"X-API-Key": api_key})
    assert post(0).status_code == 201
    with session_scope(database_url) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "sensor-1"))
        assert revoke_api_key(session, facility, key_id)
    revoked_at = time.monotonic()
    statuses = []
    i = 1
    while time.monotonic() - revoked_at < KEY_TTL_S + 0.5:
        statuses.append((time.monotonic() - revoked_at, post(i).status_code))
        i += 1
        time.sleep(0.05)
    refused = [t for t, status in statuses if status == 401]
    assert refused, statuses
    assert refused[0] <= KEY_TTL_S + 0.05
    assert all(status == 401 for t, status in statuses if t >= refused[0])
    assert KEY_TTL_S <= 1.0


def test_an_unknown_key_is_never_remembered(client, facility, database_url):
    """A secret refused once works the moment a key with it exists."""
    secret = "ed_" + "k" * 40
    body = {**MINIMAL, "timestamp": int(time.time()) - 60}
    headers = {"X-API-Key": secret}
    assert client.post(DATA, json=body, headers=headers).status_code == 401
    with session_scope(database_url) as session:
        session.add(ApiKey(facility_id=facility, name="late", key_hash=digest(secret),
                           prefix=secret[:4] + "…"))
    assert client.post(DATA, json=body, headers=headers).status_code == 201
