"""The login gate: every page, Dash callback and session-API call needs a session.

Public: the landing page, the sign-in pages, the sensor API, health, static files.
A wall display token opens /wall and its callbacks, read-only, and nothing else.
"""

from __future__ import annotations

import dash
import pytest
from fixtures_web import callback_body, ensure_callbacks, login_client

from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.storage import accounts
from energy_dash.storage.devices import create_display_token, revoke_display_token
from energy_dash.web import auth

PUBLIC_PAGES = ["/", "/login", "/register", "/forgot-password"]
SESSION_API = [
    "/api/latest-hardware-data?facility_id=1",
    "/api/hardware-status-check?facility_id=1",
    "/api/export.csv?facility_id=1",
    "/api/predictions?facility_id=1&target=consumption",
    "/api/debug/test-hardware",
    "/api/debug/voltage-demo?condition=normal",
]


def _page_paths() -> list[str]:
    return sorted(p["path"] for p in dash.page_registry.values() if p["path"] != "/")


def _pathname_values(body, value):
    for group in ("inputs", "state"):
        for item in body[group]:
            if isinstance(item, dict) and item.get("property") == "pathname":
                item["value"] = value
    return body


def test_every_page_redirects_anonymous_visitors_to_sign_in(app, client):
    ensure_callbacks(app)
    paths = _page_paths() + ["/no-such-page", "/welcome", "/avatars/x.png"]
    assert {
        "/dashboard",
        "/historical",
        "/voltage",
        "/wall",
        "/settings",
        "/profile",
    } <= set(paths)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={path}", path


def test_public_pages_need_no_session(app, client):
    for path in PUBLIC_PAGES + [
        "/assets/app.css",
        "/assets/vendor/bootstrap.min.css",
        "/_favicon.ico",
    ]:
        assert client.get(path).status_code == 200, path
    assert client.get("/reset-password/not-a-token").status_code == 400  # not 302
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (
        200, {"status": "ok", "database": "ok"}
    )
    assert client.get("/api/openapi.json").status_code == 200
    assert (
        client.post("/api/hardware/data", json={}).status_code == 401
    )  # key, not login


def test_every_callback_refuses_anonymous_requests(app, client):
    ensure_callbacks(app)
    assert len(app.callback_map) > 20
    allowed_on_public_page = set()
    for key in app.callback_map:
        body = callback_body(app, key)
        response = client.post(
            "/_dash-update-component", json=_pathname_values(body, "/dashboard")
        )
        assert response.status_code == 401, key
        assert response.get_json() == {"error": "login required"}
        public = client.post(
            "/_dash-update-component",
            json=_pathname_values(callback_body(app, key), "/"),
        )
        if public.status_code != 401:
            allowed_on_public_page.add(key)
    # Only the page router and the shell (which acts on the signed-in user alone).
    assert allowed_on_public_page == {
        auth.ROUTING_OUTPUT,
        "..facility-select.options...facility-select.value...profile-store.data"
        "...user-menu.label..",
        "theme-saved.data",
    }


def test_anonymous_shell_callback_reveals_nothing(app, client, facility):
    body = _pathname_values(callback_body(app, "facility-select.options"), "/")
    result = client.post("/_dash-update-component", json=body).get_json()
    assert result["response"] == {
        "facility-select": {"options": []},
        "profile-store": {"data": {}},
        "user-menu": {"label": "Account"},
    }


def test_dash_plumbing_is_served_only_for_public_pages(app, client):
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 401
        referred = client.get(path, headers={"Referer": "http://localhost/"})
        assert referred.status_code == 200
        other = client.get(path, headers={"Referer": "http://localhost/settings"})
        assert other.status_code == 401


def test_session_api_answers_401_json_without_a_session(app, client):
    routes = {rule.rule for rule in app.server.url_map.iter_rules()}
    assert {path.split("?")[0] for path in SESSION_API} <= routes  # none missing
    for path in SESSION_API:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.get_json() == {"error": "login required"}


def test_signed_in_user_reaches_every_page(app, auth_client):
    client = auth_client("alice")
    for path in _page_paths():
        assert client.get(path).status_code == 200, path


def _second_facility(url) -> int:
    with session_scope(url) as db:
        other = Facility(name="Elsewhere", timezone="UTC")
        db.add(other)
        db.flush()
        return other.id


def test_member_of_one_facility_cannot_read_another(
    app, auth_client, database_url, facility
):
    other = _second_facility(database_url)
    client = auth_client("alice", "admin")
    for path in (
        "/api/latest-hardware-data",
        "/api/hardware-status-check",
        "/api/export.csv",
    ):
        response = client.get(f"{path}?facility_id={other}")
        assert response.status_code == 403, path
        assert response.get_json() == {"error": "you are not a member of this facility"}
    shell = client.post(
        "/_dash-update-component",
        json=_pathname_values(
            callback_body(
                app, "facility-select.options", {"url.search": f"?facility={other}"}
            ),
            "/dashboard",
        ),
    )
    response = shell.get_json()["response"]
    assert response["facility-select"]["options"] == [
        {"label": "Test Facility", "value": 1}
    ]
    assert response["facility-select"]["value"] == 1


def test_check_facility_helpers(app, make_user, database_url, facility):
    other = _second_facility(database_url)
    make_user("vera", facility=facility, facility_role="viewer")
    client = app.server.test_client()
    login_client(client, "vera")
    cookie = client.get_cookie("energy_dash_session").value
    with app.server.test_request_context(
        "/", headers={"Cookie": f"energy_dash_session={cookie}"}
    ):
        assert auth.current_user_facilities() == [
            {
                "id": facility,
                "name": "Test Facility",
                "role": "viewer",
                "timezone": "Europe/Berlin",
            }
        ]
        assert auth.check_facility(str(facility)) == facility
        assert auth.current_role(facility) == "viewer"
        for bad in (other, "x", None, True):
            with pytest.raises(PermissionError):
                auth.check_facility(bad)
        with pytest.raises(PermissionError, match="read-only"):
            auth.check_facility(facility, write=True)


def _wall_callback_keys(app) -> list[str]:
    """Server-side callbacks whose every output id starts with "wall"."""
    ensure_callbacks(app)
    keys = []
    for key, entry in app.callback_map.items():
        if "callback" not in entry:  # clientside: never posted to the server
            continue
        parts = key[2:-2].split("...") if key.startswith("..") else [key]
        if all(part.split("@")[0].startswith("wall") for part in parts):
            keys.append(key)
    return keys


def test_display_token_opens_the_wall_only_until_revoked(app, database_url, facility):
    with session_scope(database_url) as db:
        token = create_display_token(db, facility, "lobby")
    client = app.server.test_client()
    assert client.get(f"/wall?token={token}").status_code == 200
    # The display session: the wall again without the token, its plumbing and
    # its callbacks...
    assert client.get("/wall").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    wall_keys = _wall_callback_keys(app)
    assert wall_keys, "the wall registers callbacks with wall-* outputs"
    for key in wall_keys:
        body = _pathname_values(callback_body(app, key), "/wall")
        assert client.post("/_dash-update-component", json=body).status_code != 401
    # ... and nothing else.
    assert client.get("/dashboard").status_code == 302
    assert client.get("/settings").status_code == 302
    assert client.get("/api/latest-hardware-data?facility_id=1").status_code == 401
    settings_body = callback_body(
        app, "settings-name.value", {"facility-select.value": facility}
    )
    assert client.post("/_dash-update-component", json=settings_body).status_code == 401
    with app.server.test_request_context(
        "/wall",
        headers={
            "Cookie": f"energy_dash_session="
            f"{client.get_cookie('energy_dash_session').value}"
        },
    ):
        assert auth.display_facility() == facility
        assert auth.check_facility(facility) == facility
        with pytest.raises(PermissionError):
            auth.check_facility(facility, write=True)

    with session_scope(database_url) as db:
        token_id = accounts.display_tokens_info(db, facility)[0]["id"]
        assert revoke_display_token(db, facility, token_id)
    assert client.get("/wall").status_code == 302
    assert client.get(f"/wall?token={token}").status_code == 302
    for key in wall_keys:
        body = _pathname_values(callback_body(app, key), "/wall")
        assert client.post("/_dash-update-component", json=body).status_code == 401


def test_an_invalid_display_token_opens_nothing(app, client):
    response = client.get("/wall?token=edw_forged")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/wall")


def test_security_headers_on_every_response(app, client, auth_client):
    signed_in = auth_client("alice")
    responses = {
        "landing": client.get("/"),
        "login": client.get("/login"),
        "redirect": client.get("/dashboard"),
        "api 401": client.get("/api/latest-hardware-data"),
        "asset": client.get("/assets/app.css"),
        "page": signed_in.get("/dashboard"),
        "api": signed_in.get("/api/hardware-status-check?facility_id=1"),
    }
    for name, response in responses.items():
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp, name
        assert "frame-ancestors 'none'" in csp, name
        assert "'unsafe-eval'" not in csp and "script-src 'self' 'sha256-" in csp, name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", name


def test_production_cookies_are_secure(settings):
    from dataclasses import replace

    from energy_dash.app import create_app

    prod = create_app(replace(settings, env="production"))
    assert prod.server.config["SESSION_COOKIE_SECURE"] is True
    assert prod.server.config["REMEMBER_COOKIE_SECURE"] is True
    page = prod.server.test_client().get("/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Demo: sign in" not in page.get_data(as_text=True)


# ------------------------------------------------- callbacks judged as Dash runs them

DASH_CALLBACK = "/_dash-update-component"
ROUTING_OUTPUTS = [
    {"id": "_pages_content", "property": "children"},
    {"id": "_pages_store", "property": "data"},
]


def _location(prop: str, value) -> dict:
    return {"id": "_pages_location", "property": prop, "value": value}


def _routing(inputs: list, **extra) -> dict:
    """The page-routing request as the renderer sends it (no ``state``: none)."""
    return {
        "output": auth.ROUTING_OUTPUT,
        "outputs": ROUTING_OUTPUTS,
        "inputs": inputs,
        "changedPropIds": ["_pages_location.pathname"],
        "parsedChangedPropsIds": ["_pages_location.pathname"],
        **extra,
    }


def _page_title(path: str) -> str:
    return next(p["title"] for p in dash.page_registry.values() if p["path"] == path)


def _component_ids(node) -> set:
    found = set()
    if isinstance(node, dict):
        if isinstance(node.get("props"), dict) and "id" in node["props"]:
            found.add(node["props"]["id"])
        for value in node.values():
            found |= _component_ids(value)
    elif isinstance(node, list):
        for item in node:
            found |= _component_ids(item)
    return found


# Dash passes inputs by position: the first is the path it renders.
ROUTING_ATTACKS = {
    "decoy-property-first": lambda page: [
        _location("pathnamex", page), _location("pathname", "/")
    ],
    "search-in-pathname-place": lambda page: [
        _location("search", page), _location("pathname", "/")
    ],
    "other-id-in-pathname-place": lambda page: [
        {"id": "elsewhere", "property": "pathname", "value": page},
        _location("pathname", "/"),
    ],
    "extra-input": lambda page: [
        _location("pathname", page), _location("search", ""), _location("pathname", "/")
    ],
    "one-input-short": lambda page: [_location("pathname", "/")],
    "protected-path": lambda page: [
        _location("pathname", page), _location("search", "")
    ],
    "path-not-a-string": lambda page: [
        _location("pathname", ["/"]), _location("search", "")
    ],
}


@pytest.mark.parametrize("page", ["/settings", "/dashboard", "/profile"])
@pytest.mark.parametrize("attack", list(ROUTING_ATTACKS))
def test_anonymous_routing_request_must_match_the_declared_inputs(
    app, client, page, attack
):
    ensure_callbacks(app)
    response = client.post(DASH_CALLBACK, json=_routing(ROUTING_ATTACKS[attack](page)))
    assert (response.status_code, response.get_json()) == (
        401, {"error": "login required"}
    )


def test_anonymous_routing_state_must_match_too(app, client):
    ensure_callbacks(app)
    inputs = [_location("pathname", "/"), _location("search", "")]
    for state in ([_location("pathname", "/settings")], None, {}):
        response = client.post(DASH_CALLBACK, json=_routing(inputs, state=state))
        assert (response.status_code, response.get_json()) == (
            401, {"error": "login required"}
        ), state


def test_anonymous_visitor_still_gets_the_landing_page(app, client):
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 200
    response = client.post(
        DASH_CALLBACK,
        json=_routing([_location("pathname", "/"), _location("search", "")]),
    )
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["_pages_store"] == {"data": {"title": _page_title("/")}}
    assert "home-cta" in _component_ids(body["_pages_content"])


def test_signed_in_routing_still_renders_protected_pages(app, auth_client):
    client = auth_client("alice")
    response = client.post(
        DASH_CALLBACK,
        json=_routing([_location("pathname", "/settings"), _location("search", "")]),
    )
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["_pages_store"] == {"data": {"title": _page_title("/settings")}}
    assert "settings-refresh" in _component_ids(body["_pages_content"])


UNKNOWN_OUTPUTS = {
    "clientside": "navbar.class_name",
    "made-up": "nope.children",
    "made-up-multi": "..nope.children...nope.style..",
    "number": 42,
    "list": ["nope.children"],
    "missing": None,
}


@pytest.mark.parametrize(
    "output", list(UNKNOWN_OUTPUTS.values()), ids=list(UNKNOWN_OUTPUTS)
)
def test_a_callback_that_is_not_on_the_server_is_400_for_a_user(
    app, client, auth_client, output
):
    ensure_callbacks(app)
    body = {
        "output": output,
        "outputs": {"id": "nope", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "changedPropIds": ["url.pathname"],
    }
    signed_in = auth_client("alice")
    response = signed_in.post(DASH_CALLBACK, json=body)
    assert (response.status_code, response.get_json()) == (
        400, {"error": "unknown callback"}
    )
    anonymous = client.post(DASH_CALLBACK, json=body)
    assert (anonymous.status_code, anonymous.get_json()) == (
        401, {"error": "login required"}
    )


@pytest.mark.parametrize("payload", [b"[]", b'"x"', b"{not json", b""])
def test_a_callback_body_that_is_no_request_is_400_for_a_user(
    app, client, auth_client, payload
):
    signed_in = auth_client("alice")
    headers = {"Content-Type": "application/json"}
    response = signed_in.post(DASH_CALLBACK, data=payload, headers=headers)
    assert (response.status_code, response.get_json()) == (
        400, {"error": "unknown callback"}
    )
    anonymous = client.post(DASH_CALLBACK, data=payload, headers=headers)
    assert (anonymous.status_code, anonymous.get_json()) == (
        401, {"error": "login required"}
    )
