"""Sign-in, sign-out, registration and password reset through real HTTP."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fixtures_web import DEFAULT_PASSWORD, csrf_from, login_client

from energy_dash.db import session_scope
from energy_dash.storage import accounts

GENERIC = "Invalid username or password."


# --------------------------------------------------------------------------- accounts


def test_password_hashes_are_scrypt_and_verify():
    hashed = accounts.hash_password("correct horse battery")
    assert hashed.startswith("scrypt:")
    assert accounts.verify_password(hashed, "correct horse battery")
    assert not accounts.verify_password(hashed, "correct horse batterY")
    assert not accounts.verify_password(None, "x")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "Password must be at least 12 characters long."),
        ("password1234", "This password is too common; choose a less guessable one."),
        ("QWERTYUIOP123", "This password is too common; choose a less guessable one."),
        (
            "aaaaaaaaaaaaaa",
            "This password is too repetitive; choose a less guessable one.",
        ),
        ("correct horse battery", None),
    ],
)
def test_password_rules(password, problem):
    assert accounts.password_problem(password) == problem


def test_common_password_list_is_substantial():
    assert len(accounts.common_passwords()) >= 1000


def test_create_user_refuses_duplicates_and_weak_passwords(database_url):
    with session_scope(database_url) as db:
        accounts.create_user(db, "alice", "correct horse battery", email="a@x.org")
    with session_scope(database_url) as db:
        with pytest.raises(ValueError, match="The username 'ALICE' is already taken."):
            accounts.create_user(db, "ALICE", "another fine passphrase")
        with pytest.raises(ValueError, match="already registered"):
            accounts.create_user(db, "bob", "another fine passphrase", email="A@x.org")
        with pytest.raises(ValueError, match="at least 12"):
            accounts.create_user(db, "carol", "tiny")
        demo = accounts.create_user(db, "demo", "password", check_strength=False)
        assert accounts.verify_password(demo.password_hash, "password")


# --------------------------------------------------------------------------- login


def test_login_success_redirects_to_dashboard(app, client, make_user, facility):
    make_user("alice", facility=facility)
    response = login_client(client, "alice")
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    # Signed in, /login sends the user on.
    assert client.get("/login").headers["Location"] == "/dashboard"


def test_login_by_email_works(app, client, make_user):
    make_user("alice", email="alice@example.org")
    assert login_client(client, "Alice@Example.org").status_code == 302


def test_login_failure_rerenders_with_one_generic_message(app, client, make_user):
    make_user("alice")
    wrong = login_client(client, "alice", "wrong password!", expect_success=False)
    unknown = login_client(client, "mallory", "wrong password!", expect_success=False)
    for response in (wrong, unknown):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert html.count(GENERIC) == 1
        assert 'id="login-form"' in html
    assert client.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    ("next_path", "expected"),
    [
        ("/historical?range=7d", "/historical?range=7d"),
        ("/settings", "/settings"),
        ("//evil.com", "/dashboard"),
        ("https://evil.com", "/dashboard"),
        ("/\\evil.com", "/dashboard"),
        ("/\t/evil.com", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("http:/evil.com", "/dashboard"),
        ("/login", "/dashboard"),
    ],
)
def test_next_is_followed_only_within_the_site(
    app, make_user, facility, next_path, expected
):
    make_user("alice", facility=facility)
    client = app.server.test_client()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "next": next_path,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_the_gate_sends_back_to_the_requested_page(app, client, make_user):
    make_user("alice")
    first = client.get("/historical?range=7d")
    assert first.status_code == 302
    assert first.headers["Location"] == "/login?next=/historical%3Frange%3D7d"
    response = login_client(client, "alice", next="/historical%3Frange%3D7d")
    assert response.headers["Location"] == "/historical?range=7d"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_the_csrf_token_is_refused(app, client, make_user, token):
    make_user("alice")
    client.get("/login")
    data = {"username": "alice", "password": DEFAULT_PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_cross_site_form_post_is_refused(app, client, make_user):
    make_user("alice")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_ten_failures_for_one_account_lock_it(app, make_user):
    make_user("alice")
    for i in range(10):
        client = app.server.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        response = login_client(
            client, "alice", "wrong password!", expect_success=False
        )
        assert response.status_code == 200
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    locked = login_client(client, "alice", expect_success=False)  # even the right one
    assert locked.status_code == 429
    assert 800 < int(locked.headers["Retry-After"]) <= 901
    assert "Too many failed sign-in attempts." in locked.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_ten_failures_from_one_address_lock_it(app, make_user):
    make_user("alice")
    client = app.server.test_client()
    for i in range(10):
        login_client(client, f"user{i}", "wrong password!", expect_success=False)
    response = login_client(client, "alice", expect_success=False)
    assert response.status_code == 429
    other = app.server.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login_client(other, "alice").status_code == 302


def test_session_is_renewed_at_sign_in(app, client, make_user):
    make_user("alice")
    page = client.get("/login")
    before = csrf_from(page.get_data(as_text=True))
    login_client(client, "alice")
    # The pre-login session (and its token) is gone.
    response = client.post("/register", data={"csrf_token": before})
    assert response.status_code == 400


def test_remember_me_lasts_at_most_30_days(app, client, make_user):
    make_user("alice")
    plain = login_client(client, "alice")
    cookies = plain.headers.getlist("Set-Cookie")
    assert not any(c.startswith("energy_dash_remember=") for c in cookies)
    session_cookie = next(c for c in cookies if c.startswith("energy_dash_session="))
    assert "Expires" not in session_cookie
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie

    other = app.server.test_client()
    remembered = login_client(other, "alice", remember=True)
    remember = next(
        c
        for c in remembered.headers.getlist("Set-Cookie")
        if c.startswith("energy_dash_remember=")
    )
    assert "HttpOnly" in remember
    import datetime as dt
    from email.utils import parsedate_to_datetime

    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", remember).group(1))
    days = (expires - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert 29.9 < days <= 30.01


def test_logout_invalidates_the_old_cookie(app, make_user):
    make_user("alice")
    client = app.server.test_client()
    login_client(client, "alice", remember=True)
    saved = {
        name: client.get_cookie(name).value
        for name in ("energy_dash_session", "energy_dash_remember")
    }
    assert client.get("/dashboard").status_code == 200

    response = client.get("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/dashboard").status_code == 302

    replay = app.server.test_client()
    for name, value in saved.items():
        replay.set_cookie(name, value)
    again = replay.get("/dashboard")
    assert again.status_code == 302
    assert again.headers["Location"] == "/login?next=/dashboard"
    assert replay.get("/api/latest-hardware-data").status_code == 401


# --------------------------------------------------------------------------- register


def _register(client, **fields):
    page = client.get("/register")
    data = {
        "username": "nina",
        "email": "nina@example.org",
        "password": "a long enough secret",
        "confirm": "a long enough secret",
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    }
    data.update(fields)
    return client.post("/register", data=data)


def test_user_without_a_facility_is_offered_one_after_sign_in(app, client, make_user):
    make_user("nina")
    assert login_client(client, "nina").headers["Location"] == "/welcome"


def test_registration_signs_in_and_offers_a_first_facility(app, client, database_url):
    response = _register(client)
    assert response.status_code == 302 and response.headers["Location"] == "/welcome"
    page = client.get("/welcome").get_data(as_text=True)
    assert "You are not a member of any facility yet." in page
    assert "can add you by your username" in page

    created = client.post(
        "/welcome",
        data={
            "name": "My House",
            "timezone": "Europe/Vienna",
            "csrf_token": csrf_from(page),
        },
    )
    assert created.status_code == 302 and created.headers["Location"] == "/dashboard"
    with session_scope(database_url) as db:
        user = accounts.get_user(db, "nina")
        assert user.email == "nina@example.org"
        assert accounts.user_facilities(db, user.id)[0][1:] == (
            "My House",
            "admin",
            "Europe/Vienna",
        )
    assert client.get("/welcome").headers["Location"] == "/dashboard"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"password": "short", "confirm": "short"},
            "Password must be at least 12 characters long.",
        ),
        (
            {"password": "password1234", "confirm": "password1234"},
            "This password is too common; choose a less guessable one.",
        ),
        ({"confirm": "something else"}, "The two passwords do not match."),
        ({"username": "no spaces allowed"}, "Username must be 2–64 characters"),
        ({"email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_registration_refuses_bad_input(app, client, database_url, fields, message):
    response = _register(client, **fields)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with session_scope(database_url) as db:
        assert accounts.get_user(db, "nina") is None


def test_registration_refuses_a_taken_name(app, client, make_user):
    make_user("nina")
    response = _register(client)
    assert "The username &#39;nina&#39; is already taken." in response.get_data(
        as_text=True
    )


def test_welcome_refuses_an_unknown_time_zone(app, client):
    _register(client)
    page = client.get("/welcome").get_data(as_text=True)
    response = client.post(
        "/welcome",
        data={"name": "X", "timezone": "Nowhere/Land", "csrf_token": csrf_from(page)},
    )
    assert "Nowhere/Land is not a known IANA time zone." in response.get_data(
        as_text=True
    )


# --------------------------------------------------------------------------- reset


def _outbox(settings) -> list[Path]:
    folder = Path(settings.mail_outbox)
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def _forgot(client, email):
    page = client.get("/forgot-password")
    return client.post(
        "/forgot-password",
        data={"email": email, "csrf_token": csrf_from(page.get_data(as_text=True))},
    )


def _link(path: Path) -> str:
    body = message_from_bytes(path.read_bytes(), policy=policy.default).get_content()
    return re.search(r"http://localhost(/reset-password/\S+)", body).group(1)


def test_forgot_password_answers_the_same_for_unknown_addresses(
    app, settings, make_user
):
    make_user("alice", email="alice@example.org")
    known = _forgot(app.server.test_client(), "alice@example.org")
    unknown = _forgot(app.server.test_client(), "nobody@example.org")
    assert known.status_code == unknown.status_code == 200

    def strip(html):
        return re.sub(r'name="csrf_token" value="[^"]+"', "", html)

    assert strip(known.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))
    assert "If an account uses that address" in known.get_data(as_text=True)
    mails = _outbox(settings)
    assert len(mails) == 1
    message = message_from_bytes(mails[0].read_bytes())
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "Energy Dash: choose a new password"


def test_reset_link_works_once_and_ends_sessions(
    app, settings, make_user, database_url
):
    make_user("alice", email="alice@example.org")
    signed_in = app.server.test_client()
    login_client(signed_in, "alice")
    _forgot(app.server.test_client(), "alice@example.org")
    link = _link(_outbox(settings)[0])

    client = app.server.test_client()
    form = client.get(link)
    assert form.status_code == 200
    weak = client.post(
        link,
        data={
            "password": "short",
            "confirm": "short",
            "csrf_token": csrf_from(form.get_data(as_text=True)),
        },
    )
    assert "at least 12 characters" in weak.get_data(as_text=True)
    done = client.post(
        link,
        data={
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_from(form.get_data(as_text=True)),
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/login?reset=1"

    # Used once: the link no longer works; the old session is gone; the new
    # password signs in.
    again = client.get(link)
    assert again.status_code == 400
    assert "invalid, has already been used or has" in again.get_data(as_text=True)
    assert signed_in.get("/dashboard").status_code == 302
    assert (
        login_client(
            app.server.test_client(), "alice", "a brand new passphrase"
        ).status_code
        == 302
    )


def test_reset_link_expires_after_an_hour(app, make_user, monkeypatch, database_url):
    import time as time_module

    import itsdangerous.timed

    from energy_dash.web import signin as web

    make_user("alice", email="alice@example.org")
    with session_scope(database_url) as db:
        user = accounts.get_user(db, "alice")
        user_id, pw_hash = user.id, user.password_hash
    real = time_module.time()
    with app.server.test_request_context("/"):
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real - 3601)
        token = web.make_reset_token(user_id, pw_hash)
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real)
        fresh = web.make_reset_token(user_id, pw_hash)
    client = app.server.test_client()
    assert client.get(f"/reset-password/{token}").status_code == 400
    assert client.get(f"/reset-password/{fresh}").status_code == 200
    assert client.get(f"/reset-password/{fresh[:-2]}xx").status_code == 400


def test_reset_link_ignores_a_forged_host_when_a_base_url_is_set(
    settings, make_user
):
    from dataclasses import replace

    from energy_dash.app import create_app

    settings = replace(settings, base_url="https://energy.example.org/")
    app = create_app(settings)
    make_user("alice", email="alice@example.org")
    client = app.server.test_client()
    page = client.get("/forgot-password", headers={"Host": "evil.example"})
    client.post(
        "/forgot-password",
        data={
            "email": "alice@example.org",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
        headers={"Host": "evil.example"},
    )
    body = message_from_bytes(
        _outbox(settings)[0].read_bytes(), policy=policy.default
    ).get_content()
    assert "https://energy.example.org/reset-password/" in body
    assert "evil.example" not in body


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server on a free port (REQUIRE_REDIS=1: missing = failure)."""
    import os
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server not installed: shared lockout not tested")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def test_lockout_is_shared_by_workers_through_redis(settings, make_user, redis_url):
    """Two apps (two gunicorn workers) counting failures in the same Redis."""
    import uuid
    from dataclasses import replace

    from energy_dash.app import create_app

    shared = replace(settings, login_rate_storage=redis_url)
    workers = [create_app(shared), create_app(shared)]
    name = f"carol{uuid.uuid4().hex[:8]}"  # one Redis serves both engines' runs
    make_user(name)
    for i in range(10):
        client = workers[i % 2].server.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"
        response = login_client(client, name, "wrong password!", expect_success=False)
        assert response.status_code == 200
    for worker in workers:
        client = worker.server.test_client()
        client.environ_base["REMOTE_ADDR"] = "198.51.100.200"
        assert login_client(client, name, expect_success=False).status_code == 429
