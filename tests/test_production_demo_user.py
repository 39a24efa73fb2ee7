"""Production has no demo user: a database seeded by `energy-dash demo` in
development, where demo / password still signs in, is refused at start-up (the
app factory, the WSGI module and `energy-dash serve`), as a weak SESSION_SECRET
is; `energy-dash set-password demo` is the fix the refusal names."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_web import csrf_from

from energy_dash.app import create_app
from energy_dash.cli import main
from energy_dash.config import ConfigError
from energy_dash.demo.seed import seed_demo

REFUSAL = (
    "The demo user 'demo' must not keep the demo's well-known password in "
    "production (energy-dash set-password demo)"
)
NEW_PASSWORD = "copper-kettle-dawn-42"
HTTPS = "https://localhost"  # production cookies are Secure
BIN_DIR = Path(sys.executable).parent
STRONG_SECRET = "s" * 48


@pytest.fixture
def demo_database(database_url):
    """What `energy-dash demo` leaves in development: the user demo / password."""
    assert seed_demo(database_url, days=0.05).user_created
    return database_url


def _sign_in(client, username: str, password: str):
    page = client.get("/login", base_url=HTTPS)
    return client.post("/login", base_url=HTTPS, data={
        "username": username, "password": password,
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    })


def _set_password(database_url: str, tmp_path, password: str = NEW_PASSWORD):
    env = {"DATABASE_URL": database_url, "ENERGY_DASH_INSTANCE": str(tmp_path),
           "ENERGY_DASH_ENV": "production", "SESSION_SECRET": STRONG_SECRET,
           "ENERGY_DASH_SCHEDULER": "0", "ENERGY_DASH_DEBUG": None}
    return CliRunner().invoke(main, ["set-password", "demo", "--password-stdin"],
                              input=password + "\n", env=env)


def _env(database_url: str, tmp_path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ENERGY_DASH_ENV": "production",
           "SESSION_SECRET": STRONG_SECRET, "ENERGY_DASH_SCHEDULER": "0",
           "ENERGY_DASH_INSTANCE": str(tmp_path), "ENERGY_DASH_MQTT_URL": ""}
    env.pop("ENERGY_DASH_DEBUG", None)
    return env


def test_production_refuses_to_start_while_demo_password_signs_in(
    settings, demo_database
):
    with pytest.raises(ConfigError) as refused:
        create_app(replace(settings, env="production"))
    assert str(refused.value) == REFUSAL


def test_after_set_password_production_starts_without_the_demo_login(
    settings, demo_database, tmp_path
):
    result = _set_password(demo_database, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Password of demo changed; their sessions are signed out.\n"

    client = create_app(replace(settings, env="production")).server.test_client()
    refused = _sign_in(client, "demo", "password")
    assert refused.status_code == 200
    assert "Invalid username or password." in refused.get_data(as_text=True)
    signed_in = _sign_in(client, "demo", NEW_PASSWORD)
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, "/dashboard")


def test_development_still_signs_in_as_demo(settings, demo_database):
    client = create_app(settings).server.test_client()
    signed_in = _sign_in(client, "demo", "password")
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, "/dashboard")


def test_production_without_any_demo_user_starts(settings, database_url):
    seed_demo(database_url, days=0.05, production=True)  # no user
    assert create_app(replace(settings, env="production")).server is not None


def test_wsgi_refuses_then_starts_after_set_password(demo_database, tmp_path):
    env = _env(demo_database, tmp_path)
    command = [sys.executable, "-c", "import energy_dash.wsgi"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        f"energy_dash.config.ConfigError: {REFUSAL}"
    )
    assert _set_password(demo_database, tmp_path).exit_code == 0
    started = subprocess.run(command, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert started.returncode == 0, started.stderr


def test_serve_in_production_refuses_in_one_line(demo_database, tmp_path):
    """Before gunicorn forks: one line and exit 1, not a worker boot failure."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [str(BIN_DIR / "energy-dash"), "serve", "--port", str(port)],
        env=_env(demo_database, tmp_path), capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"energy-dash: error: {REFUSAL}"
