"""The energy-dash command: every command's effect in the database, on both engines,
exit codes through the real console script, and `serve --demo` end to end."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import delete, inspect, select
from werkzeug.serving import WSGIRequestHandler, make_server

from energy_dash import data
from energy_dash.cli import main
from energy_dash.db import dispose_engine, get_engine, session_scope
from energy_dash.db.models import (
    ApiKey,
    Facility,
    Membership,
    Reading,
    ReadingRollup,
    User,
)
from energy_dash.services.quality import check_all
from energy_dash.storage import accounts, devices

BIN_DIR = Path(sys.executable).parent
ENERGY_DASH = str(BIN_DIR / "energy-dash")
HEADER = (
    "timestamp,facility_id,device_id,energy_produced_kwh,energy_consumed_kwh,"
    "current_load_pct,voltage_v,current_a,current1_a,current2_a,current3_a,"
    "frequency_hz,power_factor"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep test output clean
        pass


@pytest.fixture
def live_server(settings):
    """The real app on a real port (werkzeug, threaded), stopped after the test."""
    from energy_dash.app import create_app

    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app.server, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def cli_env(database_url, tmp_path) -> dict[str, str | None]:
    return {
        "DATABASE_URL": database_url,
        "ENERGY_DASH_INSTANCE": str(tmp_path),
        "ENERGY_DASH_ENV": "development",
        "ENERGY_DASH_SCHEDULER": "0",
        "ENERGY_DASH_DEBUG": None,
        "SESSION_SECRET": None,
    }


@pytest.fixture
def run(cli_env):
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), env=cli_env, input=input)

    return invoke


def _rows(url: str, facility_id: int = 1) -> list[tuple]:
    with session_scope(url) as session:
        return session.execute(
            select(Reading.ts_ms, Reading.device_id, Reading.energy_produced,
                   Reading.voltage)
            .where(Reading.facility_id == facility_id)
            .order_by(Reading.ts_ms)
        ).all()


# ----------------------------------------------------------------- init-db
def test_init_db_creates_the_schema_and_is_idempotent(tmp_path, cli_env):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**cli_env, "DATABASE_URL": url}
    for _ in range(2):
        result = CliRunner().invoke(main, ["init-db"], env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout == f"Database ready (schema at head): {url}\n"
    tables = set(inspect(get_engine(url)).get_table_names())
    assert {"facilities", "readings", "users", "api_keys", "alembic_version"} <= tables
    dispose_engine(url)


def test_init_db_on_the_migrated_test_database(run):
    assert run("init-db").exit_code == 0


# ----------------------------------------------------------- facilities, users
def test_create_facility_prints_the_new_id(run, database_url):
    result = run("create-facility", "Main Plant", "--timezone", "Europe/Paris",
                 "--nominal-voltage", "240", "--capacity-kw", "75.5")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    assert run("create-facility", "Second").stdout == "2\n"
    with session_scope(database_url) as session:
        row = session.get(Facility, 1)
        assert (row.name, row.timezone, row.nominal_voltage, row.capacity_kw) == (
            "Main Plant", "Europe/Paris", 240.0, 75.5
        )
        assert session.get(Facility, 2).timezone == "UTC"


def test_create_facility_with_coordinates(run, database_url):
    result = run("create-facility", "Roof", "--latitude", "48.137",
                 "--longitude", "11.575")
    assert result.exit_code == 0, result.output
    with session_scope(database_url) as session:
        row = session.get(Facility, int(result.stdout))
        assert (row.latitude, row.longitude) == (48.137, 11.575)
    lone = run("create-facility", "Half", "--latitude", "48.1")
    assert lone.exit_code == 1
    assert lone.stderr == (
        "energy-dash: error: invalid value for --longitude: Latitude and longitude "
        "go together: give both.\n"
    )
    far = run("create-facility", "Far", "--latitude", "95", "--longitude", "0")
    assert far.exit_code == 1
    assert far.stderr == (
        "energy-dash: error: invalid value for --latitude: Latitude (°N) must be "
        "between -90 and 90.\n"
    )


def test_create_facility_sets_the_reporting_interval(run, database_url):
    result = run("create-facility", "Meters", "--interval", "10")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    assert run("create-facility", "Default").stdout == "2\n"
    with session_scope(database_url) as session:
        assert session.get(Facility, 1).expected_interval_s == 10
        assert session.get(Facility, 2).expected_interval_s == 300


@pytest.mark.parametrize("value", ["0", "-5", "86401", "1" * 30])
def test_create_facility_refuses_an_interval_out_of_range(run, database_url, value):
    """The facility rule (1 s to one day) refuses it: one line, exit 1."""
    result = run("create-facility", "X", "--interval", value)
    assert result.exit_code == 1
    assert result.stderr == (
        "energy-dash: error: invalid value for --interval: Reporting interval (s) "
        "must be between 1 and 86400.\n"
    )
    with session_scope(database_url) as session:
        assert session.scalar(select(Facility.id)) is None


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_create_facility_interval_that_is_no_whole_number_is_a_usage_error(
    run, database_url, value
):
    result = run("create-facility", "X", "--interval", value)
    assert result.exit_code == 2
    assert f"Invalid value for '--interval': {value!r} is not a valid integer." in (
        result.stderr
    )
    with session_scope(database_url) as session:
        assert session.scalar(select(Facility.id)) is None


def test_create_facility_with_an_unknown_zone_is_one_error_line(run, database_url):
    result = run("create-facility", "X", "--timezone", "Mars/Olympus")
    assert result.exit_code == 1
    assert result.stderr == (
        "energy-dash: error: invalid value for --timezone: Mars/Olympus is not a "
        "known IANA time zone.\n"
    )
    with session_scope(database_url) as session:
        assert session.scalar(select(Facility.id)) is None


def test_create_user_reads_the_password_from_stdin_and_hashes_it(run, database_url):
    result = run("create-user", "alice", "--email", "Alice@Example.com", "--role",
                 "operator", "--password-stdin", input="violet-otter-lamp-42\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    with session_scope(database_url) as session:
        user = session.get(User, 1)
        assert (user.username, user.email, user.role) == (
            "alice", "alice@example.com", "operator"
        )
        assert "violet-otter-lamp-42" not in user.password_hash
        assert accounts.verify_password(user.password_hash, "violet-otter-lamp-42")


def test_create_user_prompts_hidden_and_confirmed(run, database_url):
    secret = "maple-river-stone-81"
    result = run("create-user", "bob", input=f"{secret}\n{secret}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"  # prompts go to stderr, the id alone to stdout
    assert "Password" in result.stderr and "Repeat for confirmation" in result.stderr
    assert secret not in result.output  # hidden input is never echoed
    with session_scope(database_url) as session:
        user = accounts.get_user(session, "bob")
        assert user.role == "viewer"
        assert accounts.verify_password(user.password_hash, secret)


def test_create_user_refuses_weak_and_duplicate(run, database_url):
    weak = run("create-user", "carol", "--password-stdin", input="short\n")
    assert weak.exit_code == 1
    assert weak.stderr == (
        "energy-dash: error: Password must be at least 12 characters long.\n"
    )
    pw = "ample-tiger-sky-77\n"
    ok = run("create-user", "carol", "--password-stdin", input=pw)
    assert ok.exit_code == 0
    again = run("create-user", "Carol", "--password-stdin", input=pw)
    assert again.exit_code == 1
    assert again.stderr == (
        "energy-dash: error: The username 'Carol' is already taken.\n"
    )
    with session_scope(database_url) as session:
        assert len(session.scalars(select(User)).all()) == 1


def test_set_password_replaces_it_and_signs_out_every_session(run, database_url):
    run("create-user", "erin", "--password-stdin", input="amber-field-crow-63\n")
    result = run("set-password", "Erin", "--password-stdin",
                 input="silver-brook-fox-28\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Password of erin changed; their sessions are signed out.\n"
    with session_scope(database_url) as session:
        user = accounts.get_user(session, "erin")
        assert accounts.verify_password(user.password_hash, "silver-brook-fox-28")
        assert not accounts.verify_password(user.password_hash, "amber-field-crow-63")
        assert user.session_version == 2

    asked = run("set-password", "erin", input="quiet-meadow-owl-17\n" * 2)
    assert asked.exit_code == 0, asked.output
    assert "quiet-meadow-owl-17" not in asked.output  # hidden, confirmed prompt
    with session_scope(database_url) as session:
        user = accounts.get_user(session, "erin")
        assert accounts.verify_password(user.password_hash, "quiet-meadow-owl-17")


def test_set_password_errors_are_one_line(run, database_url):
    run("create-user", "frank", "--password-stdin", input="amber-field-crow-63\n")
    cases = {
        ("frank", "password\n"): "Password must be at least 12 characters long.",
        ("frank", "password1234\n"): (
            "This password is too common; choose a less guessable one."
        ),
        ("frank", "\n"): "no password on standard input",
        ("nobody", "silver-brook-fox-28\n"): "There is no user named 'nobody'.",
    }
    for (username, line), message in cases.items():
        result = run("set-password", username, "--password-stdin", input=line)
        assert result.exit_code == 1, (username, line)
        assert result.stderr == f"energy-dash: error: {message}\n"
    with session_scope(database_url) as session:
        user = accounts.get_user(session, "frank")
        assert accounts.verify_password(user.password_hash, "amber-field-crow-63")


def test_grant_makes_a_member_and_changes_the_role(run, database_url, facility):
    run("create-user", "dave", "--password-stdin", input="quiet-harbor-moon-19\n")
    result = run("grant", "dave", "--facility", str(facility), "--role", "operator")
    assert result.exit_code == 0, result.output
    assert result.stdout == "dave is now operator of facility 1.\n"
    assert run("grant", "dave", "--facility", "1", "--role", "admin").exit_code == 0
    with session_scope(database_url) as session:
        roles = session.execute(select(Membership.user_id, Membership.role)).all()
        assert roles == [(1, "admin")]

    unknown = run("grant", "nobody", "--facility", "1")
    assert unknown.exit_code == 1
    assert unknown.stderr == "energy-dash: error: There is no user named 'nobody'.\n"
    missing = run("grant", "dave", "--facility", "9")
    assert missing.stderr == "energy-dash: error: There is no facility with id 9.\n"


# ------------------------------------------------------------- keys and tokens
def test_create_api_key_prints_a_key_that_authenticates(run, database_url, facility,
                                                        client):
    result = run("create-api-key", "--facility", str(facility), "--name", "meter-7")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("ed_") and len(key) > 40
    assert "not shown again" in result.stderr
    with session_scope(database_url) as session:
        row = session.scalar(select(ApiKey))
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.name == "meter-7"

    response = client.post("/api/hardware/data", headers={"X-API-Key": key}, json={
        "energy_produced": 0.5, "energy_consumed": 0.25, "current_load": 12.5,
        "voltage": 231.0,
    })
    assert response.status_code == 201, response.get_json()
    assert _rows(database_url)[0][1:] == ("meter-7", 0.5, 231.0)

    wrong = client.post("/api/hardware/data", headers={"X-API-Key": key + "x"},
                        json={"energy_produced": 1, "energy_consumed": 1,
                              "current_load": 1})
    assert wrong.status_code == 401


def test_create_api_key_for_a_missing_facility(run):
    result = run("create-api-key", "--facility", "9")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "energy-dash: error: facility 9 does not exist\n"


def test_create_display_token(run, database_url, facility):
    result = run("create-display-token", "--facility", str(facility), "--name", "lobby")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("edw_")
    with session_scope(database_url) as session:
        row = devices.find_display_token(session, token)
        assert (row.facility_id, row.name) == (1, "lobby")


# --------------------------------------------------------------------- CSV
GOOD_BAD_DUPLICATE = """timestamp,energy_produced,energy_consumed,current_load,voltage
2025-06-01T12:00:00Z,0.5,0.2,30,230.1
2025-06-01T14:01:00+02:00,0.4,0.3,31,
1748779380,0.3,0.3,32,229
2025-06-01T12:00:00Z,0.5,0.2,30,230.1
2025-06-01T12:04:00Z,-1,0.2,30,230
,0.1,0.1,10,230
2025-06-01T12:05:00,0.1,0.1,101,230
"""


def test_import_csv_counts_and_reports_rejected_lines(run, database_url, facility,
                                                      tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(GOOD_BAD_DUPLICATE)
    result = run("import-csv", str(path), "--facility", str(facility))
    assert result.exit_code == 1, result.output  # rejected rows: exit 1, others kept
    assert result.stderr.splitlines() == [  # no progress bar off a terminal
        "energy-dash: error: 3 of 7 rows rejected (3 stored)"
    ]
    assert result.stdout.splitlines() == [
        "accepted 3, duplicates 1, rejected 3",
        "line 6: energy_produced: must be >= 0",
        "line 7: timestamp: is required",
        "line 8: current_load: must be <= 100; timestamp: must include a UTC offset "
        "(e.g. 2025-01-01T12:00:00Z)",
    ]
    unknown = run("import-csv", str(path), "--facility", "999")
    assert unknown.exit_code == 1  # the bar's label came first: two lines
    assert unknown.stderr.splitlines() == [
        "energy-dash: error: facility 999 does not exist"]
    base = 1_748_779_200_000  # 2025-06-01T12:00:00Z
    assert _rows(database_url) == [
        (base, "csv-import", 0.5, 230.1),
        (base + 60_000, "csv-import", 0.4, None),
        (base + 180_000, "csv-import", 0.3, 229.0),
    ]

    again = run("import-csv", str(path), "--facility", "1")
    assert again.stdout.splitlines()[0] == "accepted 0, duplicates 4, rejected 3"
    assert len(_rows(database_url)) == 3


def test_import_csv_facility_option_overrides_the_column(
    run, database_url, facility, tmp_path
):
    path = tmp_path / "other.csv"
    path.write_text(
        "timestamp;facility_id;device_id;energy_produced;energy_consumed;current_load\n"
        "2025-06-01T12:00:00Z;1;roof;1;1;1\n"
        "2025-06-01T12:01:00Z;2;roof;1;1;1\n"
    )
    result = run("import-csv", str(path), "--facility", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["accepted 2, duplicates 0, rejected 0"]
    assert [r[1] for r in _rows(database_url)] == ["roof", "roof"]


def test_import_csv_without_facility_uses_the_column(
    run, database_url, facility, tmp_path
):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "timestamp,facility_id,device_id,energy_produced,energy_consumed,current_load\n"
        "2025-06-01T12:00:00Z,1,roof,1,1,1\n"
        "2025-06-01T12:01:00Z,2,roof,1,1,1\n"
        "2025-06-01T12:02:00Z,,roof,1,1,1\n"
    )
    result = run("import-csv", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "accepted 1, duplicates 0, rejected 2",
        "line 3: facility_id: is required and must be an existing facility (or give "
        "--facility)",
        "line 4: facility_id: is required and must be an existing facility (or give "
        "--facility)",
    ]
    assert result.stderr.splitlines()[-1] == (
        "energy-dash: error: 2 of 3 rows rejected (1 stored)"
    )
    assert len(_rows(database_url)) == 1


def test_import_csv_errors(run, facility, tmp_path):
    missing = run("import-csv", str(tmp_path / "nope.csv"), "--facility", "1")
    assert missing.exit_code == 2
    path = tmp_path / "no_ts.csv"
    path.write_text("time,energy_produced\n1,2\n")
    result = run("import-csv", str(path), "--facility", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "energy-dash: error: no_ts.csv has no 'timestamp' column "
        "(header: time, energy_produced)"
    )
    unknown = run("import-csv", str(path), "--facility", "7")
    assert unknown.stderr.splitlines()[-1] == (
        "energy-dash: error: facility 7 does not exist"
    )


def test_export_csv_round_trips_through_import(run, database_url, facility, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "energy_produced": [0.125, 0.0, 0.3333333333333333],
            "energy_consumed": [0.2, 0.25, 0.1],
            "current_load": [24.0, 30.0, 12.0],
            "voltage": [230.4, 0.0, None],
            "frequency": [50.01, None, 49.99],
        },
        index=pd.to_datetime(
            ["2025-06-01T12:00:00Z", "2025-06-01T12:01:00.250Z",
             "2025-06-01T12:02:00Z"],
            format="ISO8601",
        ),
    )
    assert data.write_readings(frame, facility, device_id="roof",
                               database_url=database_url)["accepted"] == 3

    out = tmp_path / "export.csv"
    result = run("export-csv", "--facility", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Wrote 3 readings to {out}\n"
    exported = out.read_text()
    assert exported.splitlines() == [  # the facility's local time, with offset
        HEADER,
        "2025-06-01T14:00:00+02:00,1,roof,0.125,0.2,24.0,230.4,,,,,50.01,",
        "2025-06-01T14:01:00.250000+02:00,1,roof,0.0,0.25,30.0,0.0,,,,,,",
        "2025-06-01T14:02:00+02:00,1,roof,0.3333333333333333,0.1,12.0,,,,,,49.99,",
    ]

    # Half-open [start, end) to stdout.
    window = run("export-csv", "--facility", "1", "--start", "2025-06-01T12:01:00Z",
                 "--end", "2025-06-01T12:02:00Z")
    assert window.stdout.splitlines() == [HEADER, exported.splitlines()[2]]

    # Delete everything, import the export, export again: identical.
    with session_scope(database_url) as session:
        session.execute(delete(Reading))
        session.execute(delete(ReadingRollup))
    imported = run("import-csv", str(out), "--facility", "1")
    assert imported.stdout.splitlines() == ["accepted 3, duplicates 0, rejected 0"]
    assert run("export-csv", "--facility", "1").stdout == exported


def test_export_csv_usage_and_errors(run, facility):
    bad = run("export-csv", "--facility", "1", "--start", "yesterday-ish")
    assert bad.exit_code == 2
    assert "'yesterday-ish' is not a date or ISO 8601 timestamp" in bad.stderr
    missing = run("export-csv", "--facility", "5")
    assert missing.exit_code == 1
    assert missing.stderr == "energy-dash: error: facility 5 does not exist\n"
    empty = run("export-csv", "--facility", "1")
    assert empty.stdout == HEADER + "\n"


# ---------------------------------------------------------------- forecast
def test_forecast_refreshes_and_stores_forecasts(run, database_url):
    from energy_dash.demo.seed import seed_demo

    seed_demo(database_url, days=3)
    result = run("forecast", "--facility", "1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "facility 1 consumption", "facility 1 production"
    ]
    assert all(": stored (" in line for line in lines), lines
    for target in ("consumption", "production"):
        stored = data.read_forecast(1, target, database_url=database_url)
        assert len(stored) == 24
        assert stored.attrs["model"]


def test_forecast_without_history_and_for_a_missing_facility(run, facility):
    result = run("forecast")
    assert result.exit_code == 0, result.output
    assert [line.split(" — ")[0] for line in result.stdout.splitlines()] == [
        "facility 1 consumption: not_enough_history",
        "facility 1 production: not_enough_history",
    ]
    missing = run("forecast", "--facility", "9")
    assert missing.exit_code == 1
    assert missing.stderr == "energy-dash: error: facility 9 does not exist\n"


# ---------------------------------------------------------------- simulate
def test_simulate_backfills_then_posts_live_readings(run, live_server, api_key,
                                                      database_url):
    result = run("simulate", "--url", live_server, "--api-key", api_key,
                 "--interval", "0.05", "--count", "3", "--backfill-days", "0.02")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "backfill 1/1: 200 accepted 29 duplicates 0 rejected 0"
    assert len(lines) == 5
    for line in lines[1:4]:
        assert " 201 ok id=" in line and line.endswith(" V")
    assert lines[4] == "stored 32, duplicates 0, failed 0"
    rows = _rows(database_url)
    assert len(rows) == 32
    assert {r[1] for r in rows} == {"sensor-1"}  # the key's name
    steps = {b[0] - a[0] for a, b in zip(rows[:28], rows[1:29], strict=True)}
    assert steps == {60_000}  # one-minute history


def test_simulate_with_a_wrong_key_is_one_error_line(run, live_server, facility):
    result = run("simulate", "--url", live_server, "--api-key", "ed_not-a-key",
                 "--count", "1")
    assert result.exit_code == 1
    assert result.stderr == (
        "energy-dash: error: the server refused the reading (401 invalid or missing "
        "API key); check the API key and facility\n"
    )


def test_simulate_retries_with_backoff_when_the_server_is_down(run):
    url = f"http://127.0.0.1:{free_port()}"
    result = run("simulate", "--url", url, "--api-key", "ed_x", "--count", "1",
                 "--retries", "3", "--backoff", "0.01")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    endpoint = f"POST {url}/api/hardware/data: connection refused"
    assert lines[:3] == [
        f"{endpoint}; retrying in 0.01 s",
        f"{endpoint}; retrying in 0.02 s",
        f"{endpoint}; giving up",
    ]
    assert result.stderr == "energy-dash: error: 1 reading not stored\n"


def test_background_simulator_catches_up_before_its_first_reading(
    live_server, database_url, api_key
):
    """`serve --demo` passes the demo's fill_gap as ``catch_up``: it runs once,
    after the server answers and before the first live reading, so however long
    the start-up took, the history reaches the first live reading."""
    from energy_dash.demo.simulator import start_background

    stored_at_catch_up = []
    thread, stop = start_background(
        live_server, api_key, interval_s=60,
        catch_up=lambda: stored_at_catch_up.append(len(_rows(database_url))),
    )
    try:
        _wait_for(lambda: _rows(database_url), 20, "the first simulated reading")
    finally:
        stop.set()
        thread.join(15)
    assert stored_at_catch_up == [0]
    assert len(_rows(database_url)) == 1


# ----------------------------------------------------- the real console script
def _script(args: list[str], env: dict[str, str], timeout: float = 60):
    return subprocess.run([ENERGY_DASH, *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_console_script_exit_codes_and_one_line_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'script.db'}"
    env = {**os.environ, "DATABASE_URL": url, "ENERGY_DASH_INSTANCE": str(tmp_path),
           "ENERGY_DASH_ENV": "development"}
    env.pop("ENERGY_DASH_DEBUG", None)

    ok = _script(["init-db"], env)
    assert ok.returncode == 0
    assert ok.stdout == f"Database ready (schema at head): {url}\n"

    usage = _script(["create-api-key"], env)
    assert usage.returncode == 2
    assert "Missing option '--facility'" in usage.stderr

    failed = _script(["create-api-key", "--facility", "99"], env)
    assert failed.returncode == 1
    assert failed.stderr == "energy-dash: error: facility 99 does not exist\n"

    unreachable = _script(
        ["init-db"],
        {**env, "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"},
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("energy-dash: error: database: ")
    assert unreachable.stderr.count("\n") == 1 and "Traceback" not in unreachable.stderr

    bad_env = _script(["init-db"], {**env, "ENERGY_DASH_ENV": "staging"})
    assert bad_env.returncode == 1
    assert bad_env.stderr == (
        "energy-dash: error: ENERGY_DASH_ENV must be 'development' or 'production', "
        "not 'staging'\n"
    )

    debug = _script(["create-api-key", "--facility", "99"],
                    {**env, "ENERGY_DASH_DEBUG": "1"})
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert debug.stderr.endswith("energy-dash: error: facility 99 does not exist\n")


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_serve_demo_seeds_serves_and_simulates(tmp_path):
    """What `make run` does: migrate, seed, simulate over HTTP, serve."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "DATABASE_URL": url, "ENERGY_DASH_SCHEDULER": "0",
           "ENERGY_DASH_INSTANCE": str(tmp_path / "instance"),
           "ENERGY_DASH_ENV": "development", "HOST": "127.0.0.1", "PORT": str(port)}
    env.pop("SESSION_SECRET", None)
    proc = subprocess.Popen([ENERGY_DASH, "serve", "--demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: proc.poll() is not None or _healthy(base), 90, "/healthz")
        assert proc.poll() is None, proc.communicate()[1]
        health = requests.get(base + "/healthz", timeout=5).json()
        assert health == {"status": "ok", "database": "ok"}

        def key_used():
            with session_scope(url) as session:
                key = session.scalar(select(ApiKey).where(ApiKey.name == "simulator"))
                return key.last_used_at

        # a simulated reading came through the sensor API, which notes the key's
        # use just after the reading's commit, in its own transaction
        assert _wait_for(key_used, 25, "the simulator key's last use")
        assert len(data.read_readings(1, database_url=url)) > 259_200
        # history, start-up and live readings at the facility's 10 s: the quality
        # check finds no silence (the demo seeds none on purpose)
        now_ms = int(time.time() * 1000)
        assert check_all(url, now_ms) == 0
        assert data.read_quality_events(1, database_url=url).empty
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        dispose_engine(url)
    assert "Seeded Demo Facility (id 1): 259200 readings" in out
    assert ("Simulated sensor: one reading every 10 s to facility 1 through the "
            "sensor API.") in out
    assert f"Energy Dash on {base} — sign in as demo / password" in out, err


def test_wsgi_module_serves_under_gunicorn(sqlite_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "ENERGY_DASH_SCHEDULER": "0",
           "ENERGY_DASH_INSTANCE": str(tmp_path), "ENERGY_DASH_ENV": "development"}
    proc = subprocess.Popen(
        [str(BIN_DIR / "gunicorn"), "-w", "1", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket", "energy_dash.wsgi:server"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(lambda: proc.poll() is not None or _healthy(base), 60, "gunicorn")
        assert proc.poll() is None, proc.communicate()[1]
        body = requests.get(base + "/api/openapi.json", timeout=5).json()
        assert body["openapi"].startswith("3.1")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_wsgi_refuses_production_without_a_secret(sqlite_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": sqlite_url, "ENERGY_DASH_ENV": "production",
           "ENERGY_DASH_SCHEDULER": "0", "ENERGY_DASH_INSTANCE": str(tmp_path)}
    env.pop("SESSION_SECRET", None)
    result = subprocess.run([sys.executable, "-c", "import energy_dash.wsgi"],
                            env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode != 0
    assert "SESSION_SECRET must be set" in result.stderr


def test_help_lists_every_contract_command(run):
    result = run("--help")
    assert result.exit_code == 0
    for name in ("serve", "init-db", "demo", "create-user", "grant", "create-facility",
                 "create-api-key", "create-display-token", "import-csv", "export-csv",
                 "forecast", "simulate"):
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize(("option", "value"), [
    ("--interval", "nan"), ("--interval", "inf"), ("--interval", "1e308"),
    ("--backfill-days", "nan"), ("--backfill-days", "inf"), ("--backoff", "nan"),
])
def test_simulate_refuses_numbers_that_are_not_finite(run, option, value):
    """nan and inf crashed the integer conversions (exit 1, Python's message),
    and --backfill-days nan was taken as no backfill."""
    result = run("simulate", "--url", "http://127.0.0.1:9", "--api-key", "k",
                 "--count", "1", option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr


def test_create_user_without_a_password_on_its_input_is_one_error(run, database_url):
    result = run("create-user", "erin", input="")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "energy-dash: error: no password given: type it at the prompt, or use "
        "--password-stdin")
    assert "Aborted" not in result.output


def test_production_serve_on_a_taken_port_is_one_line(tmp_path):
    """gunicorn retried the address and logged a dozen lines before exiting."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, ENERGY_DASH_ENV="production", SESSION_SECRET="q" * 48,
                   DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
                   ENERGY_DASH_SCHEDULER="0", ENERGY_DASH_INSTANCE=str(tmp_path))
        env.pop("ENERGY_DASH_MQTT_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "energy_dash.cli", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"energy-dash: error: cannot listen on 127.0.0.1:{port}: "
        "[Errno 98] Address already in use"]
    assert result.stdout == ""


def test_fit_chatter_is_filtered_but_other_runtime_warnings_are_not():
    """scipy's line-search and numpy's empty-slice warnings filled the console
    of `make run` and `energy-dash forecast` at every refresh."""
    import warnings

    from energy_dash import cli

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cli._quiet_fits()
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=1)
        warnings.warn("The line search algorithm did not converge", RuntimeWarning,
                      stacklevel=1)
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["overflow encountered in exp"]
