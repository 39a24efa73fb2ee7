"""Fixtures for signed-in clients, Dash callback requests and browser tests.

Loaded as a pytest plugin by ``tests/conftest.py``. Everything signs in through
the real ``POST /login`` (form, CSRF token and all), never by forging a session.

HTTP tests::

    def test_x(app, client, facility, make_user, login):
        make_user("alice", facility=facility, facility_role="viewer")
        login(client, "alice")                       # asserts the 302
        client.get("/api/latest-hardware-data?facility_id=1")

    def test_y(auth_client):
        c = auth_client("bob", facility_role="operator")   # member of facility 1
        resp = post_callback(c, c.application_dash, "settings-save-status.children",
                             {"settings-name.value": "New name"})

Browser tests (tests/browser/): ``start_app(dash_duo, app)`` then
``browser_login(dash_duo, "alice")``.
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from energy_dash.db import session_scope
from energy_dash.storage import accounts

DEFAULT_PASSWORD = "correct horse battery"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


# --------------------------------------------------------------------------- users


@pytest.fixture
def make_user(database_url):
    """Factory: create a user (and optionally a membership); returns the user id.

    ``make_user(username, password="correct horse battery", role="admin",
    facility=None, facility_role="admin", email=None)``
    """

    def make(
        username: str,
        password: str = DEFAULT_PASSWORD,
        role: str = "admin",
        facility: int | None = None,
        facility_role: str = "admin",
        email: str | None = None,
    ) -> int:
        with session_scope(database_url) as db:
            user = accounts.create_user(
                db, username, password, email=email, role=role, check_strength=False
            )
            if facility is not None:
                accounts.grant(db, user.id, facility, facility_role)
            return user.id

    return make


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in a server-rendered page."""
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def login_client(
    client,
    username: str,
    password: str = DEFAULT_PASSWORD,
    *,
    next: str | None = None,  # noqa: A002 - the form's own name
    remember: bool = False,
    expect_success: bool = True,
):
    """Sign ``client`` in through GET+POST /login; returns the POST response."""
    page = client.get("/login")
    data = {
        "username": username,
        "password": password,
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    }
    if remember:
        data["remember"] = "1"
    url = "/login" + (f"?next={next}" if next is not None else "")
    response = client.post(url, data=data)
    if expect_success:
        assert response.status_code == 302, (
            f"login of {username!r} failed: {response.status_code}"
        )
    return response


@pytest.fixture
def login():
    """``login(client, username, password=DEFAULT_PASSWORD, *, next=None,
    remember=False, expect_success=True)`` → the POST /login response."""
    return login_client


@pytest.fixture
def auth_client(request, app, make_user):
    """Factory: a new test client signed in as a new user.

    ``auth_client(username="alice", facility_role="admin", facility="default",
    password=DEFAULT_PASSWORD)``: ``facility="default"`` makes the user a member
    of the ``facility`` fixture (id 1); pass an id, or None for no membership.
    The client carries ``client.application_dash`` (the Dash app) for
    ``post_callback``.
    """

    def make(
        username: str = "alice",
        facility_role: str = "admin",
        facility: int | str | None = "default",
        password: str = DEFAULT_PASSWORD,
    ):
        if facility == "default":
            facility = request.getfixturevalue("facility")
        make_user(username, password, facility=facility, facility_role=facility_role)
        client = app.server.test_client()
        login_client(client, username, password)
        client.application_dash = app
        return client

    return make


# --------------------------------------------------------------------------- callbacks


def ensure_callbacks(app) -> None:
    """Dash registers its page-routing callback on the first request: make one."""
    app.server.test_client().get("/_favicon.ico")


def find_callback(app, output: str, trigger: str | None = None) -> str:
    """The callback_map key whose outputs include ``output`` ("id.prop").

    Several callbacks may write one property (``allow_duplicate``): ``trigger``
    ("id.prop" of an input, or the ``type`` of a pattern-matching input id) picks
    the one fired by that input.
    """
    ensure_callbacks(app)
    for key, entry in app.callback_map.items():
        names = [p.split("@")[0] for p in _parts(key)]
        if output != key and output not in names:
            continue
        if trigger is None or trigger in _input_names(entry):
            return key
    raise KeyError(
        f"no callback outputs {output}" + (f" on {trigger}" if trigger else "")
    )


def _parsed_id(ident: Any) -> Any:
    if isinstance(ident, str) and ident.startswith("{"):
        return json.loads(ident)
    return ident


def _dep_name(item) -> str:
    ident = _parsed_id(item["id"])
    if isinstance(ident, dict):
        return f"{ident.get('type')}.{item['property']}"
    return f"{ident}.{item['property']}"


def _input_names(entry) -> list[str]:
    return [_dep_name(item) for item in entry["inputs"]]


def pattern_dep(kind: str, index: Any, prop: str, value: Any) -> dict[str, Any]:
    """One element of a pattern-matching (ALL) input: ``{"type": kind, "index"}``."""
    return {"id": {"index": index, "type": kind}, "property": prop, "value": value}


def pattern_changed(kind: str, index: Any, prop: str) -> str:
    """The changedPropIds entry Dash sends for a pattern-matching component."""
    ident = json.dumps(
        {"index": index, "type": kind}, separators=(",", ":"), sort_keys=True
    )
    return f"{ident}.{prop}"


def _parts(key: str) -> list[str]:
    if key.startswith(".."):
        return [p for p in key[2:-2].split("...") if p]
    return [key]


def _split(spec: str) -> tuple[Any, str]:
    ident, prop = spec.rsplit(".", 1)
    if ident.startswith("{"):
        ident = json.loads(ident)
    return ident, prop


def callback_body(
    app,
    output: str,
    values: dict[str, Any] | None = None,
    changed: list[str] | None = None,
    trigger: str | None = None,
) -> dict[str, Any]:
    """A well-formed ``/_dash-update-component`` body for the callback of ``output``.

    ``values`` maps "id.prop" of inputs and state to their values (others None);
    pattern-matching (wildcard) dependencies get an empty list unless given.
    """
    values = values or {}
    key = find_callback(app, output, trigger)
    entry = app.callback_map[key]

    def dep(item):
        ident = _parsed_id(item["id"])
        name = _dep_name(item)
        if isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values()):
            return values.get(name, [])
        return {"id": ident, "property": item["property"], "value": values.get(name)}

    outputs = []
    for part in _parts(key):
        ident, prop = _split(part)
        outputs.append({"id": ident, "property": prop})
    inputs = [dep(i) for i in entry["inputs"]]
    state = [dep(s) for s in entry["state"]]
    if changed is None:
        changed = [
            f"{i['id']}.{i['property']}"
            for i in entry["inputs"]
            if not str(i["id"]).startswith("{")
        ][:1]
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 or key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": changed,
    }


def post_callback(
    client,
    app,
    output: str,
    values: dict[str, Any] | None = None,
    changed: list[str] | None = None,
    trigger: str | None = None,
):
    """POST a callback request as the Dash renderer would; returns the response.

    ``values``: {"id.prop": value} for inputs and state (others None); for a
    pattern-matching (ALL) input give a list of ``pattern_dep(...)`` under
    "<type>.prop". ``changed``: the changedPropIds (default: the first input; for
    a pattern-matching click use ``pattern_changed(...)``). ``trigger``: see
    ``find_callback``.
    """
    return client.post(
        "/_dash-update-component",
        json=callback_body(app, output, values, changed, trigger),
    )


def callback_result(response) -> dict[str, Any]:
    """``{"id.prop": value}`` of a 200 callback response (no_update parts absent)."""
    assert response.status_code == 200, (response.status_code, response.get_data())
    payload = response.get_json()["response"]
    result = {}
    for ident, props in payload.items():
        for prop, value in props.items():
            result[f"{ident}.{prop}"] = value
    return result


# --------------------------------------------------------------------------- browser


def free_port() -> int:
    """An unused local TCP port (several test runs share this machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(dash_duo, app, path: str = "/") -> None:
    """Start ``app`` in dash_duo's threaded server on a free port; open ``path``."""
    dash_duo.start_server(app, port=free_port(), navigate=False)
    dash_duo.server_url = dash_duo.server.url
    if path != "/":
        dash_duo.driver.get(dash_duo.server_url + path)


def browser_login(
    dash_duo,
    username: str,
    password: str = DEFAULT_PASSWORD,
    next_path: str | None = None,
    timeout: float = 10,
) -> None:
    """Sign in through the real form in chromium; waits for the Dash page after it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = dash_duo.driver
    url = dash_duo.server_url + "/login"
    if next_path:
        url += f"?next={next_path}"
    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    wait.until(ec.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: "/login" not in d.current_url)
    wait.until(ec.presence_of_element_located((By.ID, "react-entry-point")))


__all__ = [
    "DEFAULT_PASSWORD",
    "browser_login",
    "callback_body",
    "callback_result",
    "csrf_from",
    "find_callback",
    "pattern_changed",
    "pattern_dep",
    "free_port",
    "login_client",
    "post_callback",
    "start_app",
]
