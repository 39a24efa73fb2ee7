"""The examples: the Python sensor client against a live server (buffering while it
is down, backfilling through the bulk endpoint when it returns), the integration
guide's curl commands, and the ESP8266 sketch."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import READING_FIELDS, Reading

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLIENT_PATH = EXAMPLES / "python_sensor_client.py"
GUIDE = EXAMPLES / "HARDWARE_INTEGRATION.md"
SKETCH = EXAMPLES / "esp8266_sensor_client.ino"


def _load_client():
    spec = importlib.util.spec_from_file_location("python_sensor_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


client_module = _load_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def serving(settings, port: int = 0):
    """The real app on a real port (werkzeug, threaded) while the block runs."""
    from energy_dash.app import create_app

    app = create_app(settings)
    server = make_server("127.0.0.1", port, app.server, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _reading(minute: int, **extra) -> dict:
    return {
        "timestamp": f"2025-06-01T12:{minute:02d}:00Z",
        "energy_produced": 0.1 * minute,
        "energy_consumed": 0.2,
        "current_load": 24.0,
        "voltage": 230.0 + minute,
        **extra,
    }


def _stored(url: str) -> list[tuple]:
    with session_scope(url) as session:
        return session.execute(
            select(Reading.ts_ms, Reading.device_id, Reading.energy_produced)
            .order_by(Reading.ts_ms)
        ).all()


# ------------------------------------------------------------ python client
def test_client_buffers_on_disk_while_down_and_backfills_once(
    settings, api_key, database_url, tmp_path
):
    port = free_port()
    buffer = tmp_path / "buffer.ndjson"
    waits: list[float] = []
    client = client_module.SensorClient(
        f"http://127.0.0.1:{port}", api_key, buffer_path=buffer, retries=3,
        backoff=0.5, timeout=2, sleep=waits.append,
    )
    readings = [_reading(m) for m in (1, 2, 3)]

    # Server down: every reading is retried with exponential backoff, then kept.
    for reading in readings:
        assert client.send(reading) == "buffered"
    assert waits == [0.5, 1.0] * 3
    lines = buffer.read_text().splitlines()
    assert [json.loads(line) for line in lines] == readings
    assert _stored(database_url) == []

    # Server back: the buffer goes through the bulk endpoint, then is removed.
    with serving(settings, port):
        assert client.flush() == {"accepted": 3, "duplicates": 0, "rejected": 0}
        assert not buffer.exists()
        assert client.send(_reading(4)) == "stored"

        # A crash between "sent" and "removed" re-sends them: stored once anyway.
        for reading in readings:
            client.buffer(reading)
        assert client.flush() == {"accepted": 0, "duplicates": 3, "rejected": 0}
        assert client.send(_reading(4)) == "duplicate"

    base = 1_748_779_200_000  # 2025-06-01T12:00:00Z
    assert _stored(database_url) == [
        (base + m * 60_000, "sensor-1", pytest.approx(0.1 * m)) for m in (1, 2, 3, 4)
    ]


def test_client_sends_buffered_readings_before_a_new_one(
    settings, api_key, database_url, tmp_path
):
    buffer = tmp_path / "buffer.ndjson"
    with serving(settings) as url:
        client = client_module.SensorClient(url, api_key, buffer_path=buffer)
        client.buffer(_reading(1))
        client.buffer(_reading(2))
        assert client.send(_reading(3)) == "stored"
    assert not buffer.exists()
    assert [row[0] for row in _stored(database_url)] == [
        1_748_779_200_000 + m * 60_000 for m in (1, 2, 3)
    ]


def test_client_does_not_buffer_what_retrying_cannot_fix(
    settings, api_key, database_url, tmp_path
):
    buffer = tmp_path / "buffer.ndjson"
    waits: list[float] = []
    with serving(settings) as url:
        client = client_module.SensorClient(url, api_key, buffer_path=buffer,
                                            sleep=waits.append)
        assert client.send(_reading(1, energy_produced=-1)) == "rejected"  # 422
        refused = client_module.SensorClient(url, "ed_wrong", buffer_path=buffer)
        with pytest.raises(client_module.ServerRefused, match="401"):
            refused.send(_reading(2))
    assert not buffer.exists()
    assert waits == []
    assert _stored(database_url) == []


def test_client_script_runs_from_the_environment(settings, api_key, database_url,
                                                 tmp_path):
    with serving(settings) as url:
        env = {**os.environ, "ENERGY_DASH_URL": url, "ENERGY_DASH_API_KEY": api_key}
        result = subprocess.run(
            [sys.executable, str(CLIENT_PATH), "--count", "2", "--interval", "0.2",
             "--buffer", str(tmp_path / "buf.ndjson")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(" stored") == 2
    rows = _stored(database_url)
    assert len(rows) == 2 and {r[1] for r in rows} == {"sensor-1"}

    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_DASH_")}
    usage = subprocess.run([sys.executable, str(CLIENT_PATH)], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert usage.returncode == 2
    assert "--url and --api-key are required" in usage.stderr


# ------------------------------------------------------------ the guide
def _curl_blocks() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [b for b in blocks if "curl " in b]


def test_guide_documents_every_field_and_status_code():
    text = GUIDE.read_text()
    for name in READING_FIELDS + ("facility_id", "timestamp", "device_id"):
        assert f"`{name}`" in text, name
    for status in (200, 201, 400, 401, 403, 413, 415, 422, 429, 503):
        assert f"`{status}`" in text, status
    for path in ("/api/hardware/data", "/api/hardware/data/bulk",
                 "/api/hardware/status", "/api/hardware/config", "/healthz",
                 "/api/openapi.json", "application/x-ndjson", "Retry-After"):
        assert path in text, path


def test_guide_curl_examples_work_against_a_live_server(
    settings, api_key, database_url
):
    blocks = _curl_blocks()
    assert len(blocks) == 5  # single, bulk, NDJSON, status, config
    with serving(settings) as url:
        env = {**os.environ, "ENERGY_DASH_URL": url, "ENERGY_DASH_API_KEY": api_key}
        answers = []
        for block in blocks:
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env,
                                    capture_output=True, text=True, timeout=30,
                                    check=False)
            assert result.returncode == 0, (block, result.stderr)
            answers.append(json.loads(result.stdout))
    single, bulk, ndjson, status, config = answers
    assert single["status"] == "ok"
    assert (bulk["accepted"], bulk["duplicates"], bulk["rejected"]) == (2, 0, [])
    assert (ndjson["accepted"], ndjson["rejected"]) == (2, [])
    assert status["facility_id"] == 1 and status["readings_24h"] == 1
    assert config["reporting_interval_s"] == 60
    assert config["timezone"] == "Europe/Berlin"
    assert len(_stored(database_url)) == 5
    alerts = data.read_alerts(1, database_url=database_url)
    assert list(alerts["kind"]) == ["outage"]  # the NDJSON example reports 0 V


# ------------------------------------------------------------ the ESP8266 sketch
def test_esp8266_sketch_has_the_essentials_and_no_secrets():
    code = SKETCH.read_text()
    for needle in ("#include <ESP8266WiFi.h>", "#include <ESP8266HTTPClient.h>",
                   "configTime(", '"X-API-Key"', '"Content-Type", "application/json"',
                   "/api/hardware/data", "/api/hardware/data/bulk", "void setup()",
                   "void loop()", "postWithRetry", "backoff *= 2"):
        assert needle in code, needle
    assert '"YOUR_WIFI_SSID"' in code and '"YOUR_WIFI_PASSWORD"' in code
    assert '"YOUR_DEVICE_API_KEY"' in code
    assert not re.search(r"ed_[A-Za-z0-9_-]{20,}", code)  # no real key committed
    for field in ("energy_produced", "energy_consumed", "current_load", "voltage",
                  "timestamp"):
        assert f'\\"{field}\\"' in code, field
    stripped = re.sub(r'"(\\.|[^"\\])*"', '""', code)  # ignore braces in strings
    stripped = re.sub(r"//[^\n]*|/\*.*?\*/", "", stripped, flags=re.S)
    assert stripped.count("{") == stripped.count("}")
    assert stripped.count("(") == stripped.count(")")
