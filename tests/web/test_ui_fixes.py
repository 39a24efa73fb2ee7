"""Small things a user notices: HEAD /login, the theme cookie, wording, the guide."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fixtures_web import DEFAULT_PASSWORD, csrf_from

from callbacks.dashboard import voltage_note
from components.recommendations import days_text
from energy_dash.db import session_scope
from energy_dash.db.models import User

BANDS = {"nominal": 230.0, "warning_low": 207.0, "warning_high": 253.0,
         "critical_low": 195.5, "critical_high": 264.5, "outage_below": 50.0}


def test_head_login_answers_200_for_uptime_monitors(client):
    response = client.head("/login")
    assert response.status_code == 200
    assert response.get_data() == b""


def test_theme_cookie_is_secure_in_production(settings, make_user, database_url):
    from energy_dash.app import create_app

    prod = create_app(replace(settings, env="production"))
    make_user("alice")
    with session_scope(database_url) as db:
        db.query(User).filter_by(username="alice").one().theme = "dark"
    client = prod.server.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", data={
        "username": "alice", "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    })
    assert response.status_code == 302
    theme = [c for c in response.headers.getlist("Set-Cookie")
             if c.startswith("energy_dash_theme=")]
    assert theme and "Secure" in theme[0] and "energy_dash_theme=dark" in theme[0]


def test_theme_cookie_is_plain_in_development(client, make_user, database_url):
    make_user("bob")
    with session_scope(database_url) as db:
        db.query(User).filter_by(username="bob").one().theme = "light"
    page = client.get("/login")
    response = client.post("/login", data={
        "username": "bob", "password": DEFAULT_PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    })
    theme = [c for c in response.headers.getlist("Set-Cookie")
             if c.startswith("energy_dash_theme=")]
    assert theme and "Secure" not in theme[0]


def test_voltage_note_does_not_repeat_normal():
    assert voltage_note(230.0, BANDS) == (
        "Normal · within the band 207.0 V–253.0 V, critical below 195.5 V or "
        "above 264.5 V"
    )
    assert voltage_note(255.0, BANDS).startswith("Warning · normal band 207.0 V")


def test_recommendation_basis_counts_days_once():
    assert days_text(30) == "the last 30 days of readings"
    assert days_text(12.4) == "12 days of readings (the last 30 days were searched)"
    assert days_text(1) == "1 day of readings (the last 30 days were searched)"


def test_integration_guide_says_the_demo_reports_every_10_s():
    guide = Path(__file__).parents[2] / "examples" / "HARDWARE_INTEGRATION.md"
    text = guide.read_text(encoding="utf-8")
    assert "the demo reports every 10 s" in text and "demo uses 60 s" not in text


def _registered(client) -> str:
    page = client.get("/register").get_data(as_text=True)
    response = client.post("/register", data={
        "username": "nina", "email": "nina@example.org",
        "password": "a long enough passphrase", "confirm": "a long enough passphrase",
        "csrf_token": csrf_from(page),
    })
    assert response.status_code == 302
    return client.get("/welcome").get_data(as_text=True)


def test_welcome_asks_for_interval_capacity_and_suggests_the_browser_zone(
    client, database_url
):
    page = _registered(client)
    assert 'name="interval"' in page and 'value="300"' in page
    assert 'name="capacity"' in page and 'value="100"' in page
    assert "data-browser-timezone" in page and "/assets/forms.js" in page
    created = client.post("/welcome", data={
        "name": "Barn", "timezone": "Europe/Vienna", "interval": "10",
        "capacity": "35.5", "csrf_token": csrf_from(page),
    })
    assert created.status_code == 302
    with session_scope(database_url) as db:
        from energy_dash.db.models import Facility

        barn = db.query(Facility).filter_by(name="Barn").one()
        assert (barn.expected_interval_s, barn.capacity_kw) == (10, 35.5)


def test_welcome_says_which_field_is_wrong(client):
    page = _registered(client)
    response = client.post("/welcome", data={
        "name": "Barn", "timezone": "UTC", "interval": "", "capacity": "35",
        "csrf_token": csrf_from(page),
    })
    text = response.get_data(as_text=True)
    assert "Reporting interval (s) is required." in text
    assert 'value="35"' in text  # what was typed stays
    assert "data-browser-timezone" not in text  # the chosen zone is kept


def test_settings_new_facility_stores_interval_and_capacity(
    app, auth_client, database_url
):
    from fixtures_web import callback_result, post_callback

    from energy_dash.db.models import Facility

    client = auth_client("alice")
    out = callback_result(post_callback(
        client, app, "settings-new-facility-status.children",
        {"settings-new-facility-create.n_clicks": 1,
         "settings-new-facility-name.value": "Shed",
         "settings-new-facility-tz.value": "Europe/Paris",
         "settings-new-facility-interval.value": 15,
         "settings-new-facility-capacity.value": 7.5},
    ))
    assert "Facility Shed created" in str(out["settings-new-facility-status.children"])
    with session_scope(database_url) as db:
        shed = db.query(Facility).filter_by(name="Shed").one()
        assert (shed.timezone, shed.expected_interval_s, shed.capacity_kw) == (
            "Europe/Paris", 15, 7.5)
