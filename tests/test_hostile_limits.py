"""Limits that hold across workers: the sign-in lockout and the per-key ingest limit.

Against a real ``energy-dash serve`` in production mode (gunicorn, 2 workers) with
the counters in the database (SQLite and PostgreSQL) or in a private Redis. Before,
counters lived per process and check and count were separate steps: 20-23 guesses
got through sequentially, 15-17 in a concurrent burst, and ``600/minute`` accepted
1 200.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hostile_server import Server

from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.storage import accounts
from energy_dash.storage.devices import create_api_key
from energy_dash.storage.limits import (
    DatabaseCounters,
    MemoryCounters,
    RedisCounters,
    WindowLimit,
)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INVALID = "Invalid username or password."


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
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


def burst(limit: WindowLimit, key: str, n: int = 40) -> list[int]:
    start = threading.Barrier(n)

    def one(_):
        start.wait()
        return limit.take(key)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("kind", ["database", "redis", "memory"])
def test_a_concurrent_burst_takes_exactly_the_limit(kind, database_url, request):
    if kind == "database":
        counters = DatabaseCounters(database_url)
    elif kind == "redis":
        counters = RedisCounters(request.getfixturevalue("redis_url"))
    else:
        counters = MemoryCounters()
    limit = WindowLimit(counters, 10, 900, "test")
    key = uuid.uuid4().hex
    waits = burst(limit, key)
    assert waits.count(0) == 10
    assert all(899 <= w <= 901 for w in waits if w)
    limit.give_back(key)  # a success returns its slot: one more may be taken
    assert limit.take(key) == 0
    assert limit.take(key) > 0
    assert limit.wait(key) > 0 and limit.wait("other") == 0


def test_a_window_ends_and_counts_start_again(database_url):
    limit = WindowLimit(DatabaseCounters(database_url), 2, 0.5, "short")
    assert [limit.take("k"), limit.take("k")] == [0, 0]
    assert limit.take("k") == 1
    time.sleep(0.6)
    assert limit.take("k") == 0


# ----------------------------------------------------------- the real server
def make_user(database_url: str, name: str) -> None:
    with session_scope(database_url) as db:
        accounts.create_user(db, name, PASSWORD, role="viewer", check_strength=False)


def login_form(base: str) -> tuple[str, str]:
    """(session cookie, csrf token); the cookie is Secure, so it is sent by hand."""
    page = requests.get(base + "/login", timeout=10)
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    return cookie, CSRF.search(page.text).group(1)


def try_password(base: str, form: tuple[str, str], name: str, password: str) -> str:
    cookie, token = form
    response = requests.post(
        base + "/login", headers={"Cookie": cookie}, allow_redirects=False,
        data={"username": name, "password": password, "csrf_token": token},
        timeout=60,
    )
    if response.status_code == 429:
        return "locked"
    if response.status_code == 302:
        return "signed in"
    assert response.status_code == 200 and INVALID in response.text
    return "checked"


def lockout_burst(database_url: str, tmp_path, storage: str) -> list[str]:
    """40 concurrent wrong passwords for one account through 2 workers."""
    name = "victim" + uuid.uuid4().hex[:6]
    make_user(database_url, name)
    server = Server(database_url, tmp_path, workers=2,
                    ENERGY_DASH_RATE_STORAGE=storage).start()
    try:
        forms = [login_form(server.url) for _ in range(40)]
        start = threading.Barrier(40)

        def guess(i):
            start.wait()
            return try_password(server.url, forms[i], name, f"guess {i}")

        with ThreadPoolExecutor(40) as pool:
            outcomes = list(pool.map(guess, range(40)))
        # The right password is refused for the rest of the window, too.
        outcomes.append(
            try_password(server.url, login_form(server.url), name, PASSWORD)
        )
    finally:
        server.stop()
    print(f"{storage}: burst of 40, 2 workers: {outcomes.count('checked')} checked")
    return outcomes


def test_lockout_checks_exactly_10_of_a_burst_of_40_with_2_workers(
    database_url, tmp_path
):
    outcomes = lockout_burst(database_url, tmp_path, "database")
    assert outcomes.count("checked") == 10
    assert outcomes.count("locked") == 31


def test_lockout_burst_with_the_counters_in_redis(sqlite_url, tmp_path, redis_url):
    outcomes = lockout_burst(sqlite_url, tmp_path, redis_url)
    assert outcomes.count("checked") == 10
    assert outcomes.count("locked") == 31


def test_lockout_sequential_per_account_and_per_address(database_url, tmp_path):
    names = ["seq" + uuid.uuid4().hex[:6] for _ in range(2)]
    for name in names:
        make_user(database_url, name)
    server = Server(database_url, tmp_path, workers=2).start()
    try:
        first = [try_password(server.url, login_form(server.url), names[0],
                              f"wrong {i}") for i in range(12)]
        print(f"sequential, 2 workers: {first.count('checked')} guesses checked")
        assert first == ["checked"] * 10 + ["locked"] * 2
        # The address is spent too: another account from it is refused.
        other = try_password(server.url, login_form(server.url), names[1], PASSWORD)
        assert other == "locked"
    finally:
        server.stop()


def test_a_right_password_does_not_count_as_a_failure(database_url, tmp_path):
    name = "ok" + uuid.uuid4().hex[:6]
    make_user(database_url, name)
    server = Server(database_url, tmp_path, workers=2).start()
    try:
        outcomes = [try_password(server.url, login_form(server.url), name, PASSWORD)
                    for _ in range(12)]
        assert outcomes == ["signed in"] * 12
        guesses = [try_password(server.url, login_form(server.url), name, "nope")
                   for _ in range(11)]
        assert guesses == ["checked"] * 10 + ["locked"]
    finally:
        server.stop()


def test_ingest_limit_600_per_minute_holds_across_2_workers(database_url, tmp_path):
    with session_scope(database_url) as db:
        facility = Facility(name="Rate", expected_interval_s=60)
        db.add(facility)
        db.flush()
        key = create_api_key(db, facility.id, "fast")
    server = Server(database_url, tmp_path, workers=2,
                    ENERGY_DASH_INGEST_RATE="600/minute").start()
    base_ts = int(time.time()) - 3000
    try:
        def post(i):
            body = {"energy_produced": 0.1, "energy_consumed": 0.1,
                    "current_load": 1, "timestamp": base_ts + i}
            with requests.Session() as http:
                return http.post(server.url + "/api/hardware/data", json=body,
                                 headers={"X-API-Key": key}, timeout=60).status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(post, range(700)))
        print(f"ingest 600/minute, 2 workers: {codes.count(201)} accepted of 700")
        assert codes.count(201) == 600
        assert codes.count(429) == 100
    finally:
        server.stop()


def test_per_process_counters_are_refused_with_several_workers(sqlite_url, tmp_path):
    server = Server(sqlite_url, tmp_path, workers=2,
                    ENERGY_DASH_RATE_STORAGE="memory://")
    with pytest.raises(RuntimeError, match="memory:// counts per process"):
        server.start(timeout_s=30)
