"""Shared fixtures: a migrated database per test (SQLite and PostgreSQL), app, client.

PostgreSQL tests run when ``TEST_DATABASE_URL`` is set; with ``REQUIRE_POSTGRES=1``
(CI) a missing or unreachable server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from scale_helpers import truncate_all as _truncate  # noqa: E402
from sqlalchemy import text

from energy_dash.config import Settings
from energy_dash.db import dispose_engine, get_engine, init_db, session_scope
from energy_dash.db.models import Facility

pytest_plugins = ["fixtures_web"]

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
ENGINES = ("sqlite", "postgresql")
TEST_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for every test (faster than migrating each)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    init_db(url)
    dispose_engine(url)
    return path


@pytest.fixture(scope="session")
def postgres_url():
    """TEST_DATABASE_URL migrated to head once per session, from an empty schema."""
    if not PG_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL tests not run")
    try:
        with get_engine(PG_URL).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # noqa: BLE001 - report any connection failure plainly
        pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is not usable: {exc}")
    init_db(PG_URL)
    return PG_URL




@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    path = tmp_path / "energy_dash.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engine(url)


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path):
    """Every test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("postgres_url")
    _truncate(url)
    yield url


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        env="development",
        session_secret=TEST_SECRET,
        scheduler=False,
        mail_outbox=str(tmp_path / "outbox"),
        ingest_rate="0",
        instance_dir=tmp_path,
        testing=True,
    )


@pytest.fixture
def app(settings):
    from energy_dash.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def facility(database_url) -> int:
    """Facility 1 in Europe/Berlin, 230 V nominal, 100 kW, 60 s reporting."""
    with session_scope(database_url) as session:
        row = Facility(
            name="Test Facility",
            timezone="Europe/Berlin",
            nominal_voltage=230.0,
            capacity_kw=100.0,
            expected_interval_s=60,
            country="DE",
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def api_key(database_url, facility) -> str:
    from energy_dash.storage.devices import create_api_key

    with session_scope(database_url) as session:
        return create_api_key(session, facility, "sensor-1")


def now_s() -> float:
    return time.time()


@pytest.fixture
def import_csv(database_url, tmp_path):
    """``import_csv(text, facility)``: ``energy-dash import-csv`` of ``text`` on
    the test database, as a user runs it (the click result)."""
    from click.testing import CliRunner

    from energy_dash.cli import main

    env = {"DATABASE_URL": database_url, "ENERGY_DASH_INSTANCE": str(tmp_path),
           "ENERGY_DASH_ENV": "development", "ENERGY_DASH_SCHEDULER": "0",
           "ENERGY_DASH_MQTT_URL": None, "SESSION_SECRET": None}

    def invoke(text: str, facility: int):
        path = tmp_path / "import.csv"
        path.write_text(text)
        return CliRunner().invoke(main, ["import-csv", str(path), "--facility",
                                         str(facility)], env=env)

    return invoke
