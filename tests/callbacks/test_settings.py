"""/settings callbacks: roles enforced on the server, keys and tokens shown once."""

from __future__ import annotations

import pytest
from fixtures_web import callback_result, pattern_changed, pattern_dep, post_callback

from energy_dash.db import session_scope
from energy_dash.db.models import Facility
from energy_dash.storage import accounts
from energy_dash.storage.devices import find_api_key, find_display_token

DETAILS = {
    "settings-name.value": "Roof Plant",
    "settings-location.value": "Hamburg",
    "settings-timezone.value": "Europe/Berlin",
    "settings-capacity-kw.value": 250,
    "settings-panel-count.value": 640,
    "settings-nominal-voltage.value": 400,
    "settings-interval.value": 30,
    "settings-warning-pct.value": 8,
    "settings-critical-pct.value": 12,
    "settings-hysteresis-pct.value": 1.5,
    "settings-save.n_clicks": 1,
}


def _save(client, app, facility_id, **changes):
    values = {**DETAILS, "facility-select.value": facility_id, **changes}
    return post_callback(client, app, "settings-save-status.children", values)


def _facility(url, fid) -> dict:
    with session_scope(url) as db:
        return accounts.get_facility(db, fid)


def _text(component) -> str:
    """All strings inside a serialised component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(_text(c) for c in component)
    if isinstance(component, dict):
        return _text(component.get("props", {}).get("children"))
    return ""


def test_admin_saves_facility_details(app, auth_client, database_url, facility):
    client = auth_client("alice", "admin")
    result = callback_result(_save(client, app, facility))
    assert _text(result["settings-save-status.children"]) == "Saved."
    assert _facility(database_url, facility) == {
        "id": facility,
        "name": "Roof Plant",
        "location": "Hamburg",
        "country": "DE",
        "capacity_kw": 250.0,
        "panel_count": 640,
        "timezone": "Europe/Berlin",
        "nominal_voltage": 400.0,
        "expected_interval_s": 30,
        "voltage_warning_pct": 8.0,
        "voltage_critical_pct": 12.0,
        "voltage_hysteresis_pct": 1.5,
    }


def test_invalid_values_are_refused_with_the_field_named(
    app, auth_client, database_url, facility
):
    client = auth_client("alice", "operator")
    before = _facility(database_url, facility)
    bad_zone = callback_result(
        _save(client, app, facility, **{"settings-timezone.value": "Mars/Olympus"})
    )
    assert _text(bad_zone["settings-save-status.children"]) == (
        "Mars/Olympus is not a known IANA time zone."
    )
    inverted = callback_result(
        _save(client, app, facility, **{"settings-critical-pct.value": 5})
    )
    assert _text(inverted["settings-save-status.children"]) == (
        "Critical threshold must be greater than the warning threshold."
    )
    negative = callback_result(
        _save(client, app, facility, **{"settings-capacity-kw.value": -3})
    )
    assert "Capacity (kW) must be between" in _text(
        negative["settings-save-status.children"]
    )
    assert _facility(database_url, facility) == before


def test_viewer_cannot_change_settings_by_posting_the_callback(
    app, auth_client, database_url, facility
):
    client = auth_client("victor", "viewer")
    before = _facility(database_url, facility)
    result = callback_result(_save(client, app, facility))
    assert _text(result["settings-save-status.children"]) == (
        "You have read-only access to this facility."
    )
    assert _facility(database_url, facility) == before

    key = callback_result(
        post_callback(
            client,
            app,
            "settings-key-secret.children",
            {
                "settings-key-create.n_clicks": 1,
                "facility-select.value": facility,
                "settings-key-name.value": "sneaky",
            },
            trigger="settings-key-create.n_clicks",
        )
    )
    assert _text(key["settings-key-secret.children"]) == (
        "You have read-only access to this facility."
    )
    with session_scope(database_url) as db:
        assert accounts.api_keys_info(db, facility) == []


def test_viewer_sees_the_form_disabled(app, auth_client, facility):
    client = auth_client("victor", "viewer")
    result = callback_result(
        post_callback(
            client, app, "settings-name.value", {"facility-select.value": facility}
        )
    )
    assert result["settings-name.value"] == "Test Facility"
    assert result["settings-name.disabled"] is True
    assert result["settings-save.disabled"] is True
    assert result["settings-members.style"] == {"display": "none"}
    assert "read-only" in _text(result["settings-readonly-note.children"])


def test_a_member_cannot_touch_another_facility(app, auth_client, database_url):
    with session_scope(database_url) as db:
        other = Facility(name="Secret Site", timezone="UTC")
        db.add(other)
        db.flush()
        other_id = other.id
    client = auth_client("alice", "admin")  # admin of facility 1 only
    before = _facility(database_url, other_id)
    result = callback_result(_save(client, app, other_id))
    assert _text(result["settings-save-status.children"]) == (
        "You are not a member of this facility."
    )
    assert _facility(database_url, other_id) == before
    loaded = callback_result(
        post_callback(
            client, app, "settings-name.value", {"facility-select.value": other_id}
        )
    )
    assert loaded["settings-name.value"] is None
    assert "Secret Site" not in str(loaded)


def test_api_key_is_shown_once_and_can_be_revoked(
    app, auth_client, database_url, facility
):
    client = auth_client("alice", "operator")
    created = callback_result(
        post_callback(
            client,
            app,
            "settings-key-secret.children",
            {
                "settings-key-create.n_clicks": 1,
                "facility-select.value": facility,
                "settings-key-name.value": "inverter-roof",
            },
            trigger="settings-key-create.n_clicks",
        )
    )
    shown = _text(created["settings-key-secret.children"])
    secret = next(word for word in shown.split() if word.startswith("ed_"))
    with session_scope(database_url) as db:
        key = find_api_key(db, secret)
        assert key is not None and key.name == "inverter-roof"
        listed = accounts.api_keys_info(db, facility)
    assert [(k["name"], k["prefix"]) for k in listed] == [
        ("inverter-roof", secret[:10])
    ]
    table = str(created["settings-key-table.children"])
    assert secret[:10] in table and secret not in table

    # Loading the page again never shows the secret.
    reloaded = callback_result(
        post_callback(
            client,
            app,
            "settings-key-table.children",
            {"facility-select.value": facility},
            trigger="facility-select.value",
        )
    )
    assert secret not in str(reloaded)

    key_id = listed[0]["id"]
    revoked = callback_result(
        post_callback(
            client,
            app,
            "settings-key-table.children",
            {
                "settings-key-revoke.n_clicks": [
                    pattern_dep("settings-key-revoke", key_id, "n_clicks", 1)
                ],
                "facility-select.value": facility,
            },
            changed=[pattern_changed("settings-key-revoke", key_id, "n_clicks")],
            trigger="settings-key-revoke.n_clicks",
        )
    )
    assert _text(revoked["settings-key-secret.children"]) == "Key revoked."
    with session_scope(database_url) as db:
        assert find_api_key(db, secret) is None


def test_display_token_shows_the_wall_url_once(
    app, auth_client, database_url, facility
):
    client = auth_client("alice", "admin")
    created = callback_result(
        post_callback(
            client,
            app,
            "settings-token-secret.children",
            {
                "settings-token-create.n_clicks": 1,
                "facility-select.value": facility,
                "settings-token-name.value": "lobby",
            },
            trigger="settings-token-create.n_clicks",
        )
    )
    shown = _text(created["settings-token-secret.children"])
    secret = next(word for word in shown.split() if word.startswith("edw_"))
    assert f"Display URL: http://localhost/wall?token={secret}" in shown
    with session_scope(database_url) as db:
        assert find_display_token(db, secret).facility_id == facility


def test_admin_manages_members(app, auth_client, make_user, database_url, facility):
    client = auth_client("alice", "admin")
    bob = make_user("bob")

    added = callback_result(
        post_callback(
            client,
            app,
            "settings-member-status.children",
            {
                "settings-member-add.n_clicks": 1,
                "facility-select.value": facility,
                "settings-member-username.value": "bob",
                "settings-member-role.value": "operator",
            },
            trigger="settings-member-add.n_clicks",
        )
    )
    assert _text(added["settings-member-status.children"]) == "bob added as operator."
    unknown = callback_result(
        post_callback(
            client,
            app,
            "settings-member-status.children",
            {
                "settings-member-add.n_clicks": 2,
                "facility-select.value": facility,
                "settings-member-username.value": "nobody",
                "settings-member-role.value": "viewer",
            },
            trigger="settings-member-add.n_clicks",
        )
    )
    assert _text(unknown["settings-member-status.children"]) == (
        "There is no user named 'nobody'."
    )

    changed = callback_result(
        post_callback(
            client,
            app,
            "settings-member-status.children",
            {
                "settings-member-role-select.value": [
                    pattern_dep("settings-member-role-select", bob, "value", "viewer")
                ],
                "facility-select.value": facility,
            },
            changed=[pattern_changed("settings-member-role-select", bob, "value")],
            trigger="settings-member-role-select.value",
        )
    )
    assert _text(changed["settings-member-status.children"]) == "Role changed."
    with session_scope(database_url) as db:
        assert accounts.membership_role(db, bob, facility) == "viewer"

    removed = callback_result(
        post_callback(
            client,
            app,
            "settings-member-status.children",
            {
                "settings-member-remove.n_clicks": [
                    pattern_dep("settings-member-remove", bob, "n_clicks", 1)
                ],
                "facility-select.value": facility,
            },
            changed=[pattern_changed("settings-member-remove", bob, "n_clicks")],
            trigger="settings-member-remove.n_clicks",
        )
    )
    assert _text(removed["settings-member-status.children"]) == "Member removed."
    with session_scope(database_url) as db:
        assert accounts.membership_role(db, bob, facility) is None


def test_operator_cannot_manage_members(
    app, auth_client, make_user, database_url, facility
):
    client = auth_client("olga", "operator")
    make_user("bob")
    refused = callback_result(
        post_callback(
            client,
            app,
            "settings-member-status.children",
            {
                "settings-member-add.n_clicks": 1,
                "facility-select.value": facility,
                "settings-member-username.value": "bob",
                "settings-member-role.value": "admin",
            },
            trigger="settings-member-add.n_clicks",
        )
    )
    assert _text(refused["settings-member-status.children"]) == (
        "Only an admin of this facility may manage members."
    )
    with session_scope(database_url) as db:
        assert accounts.list_members(db, facility) == [
            {"user_id": 1, "username": "olga", "email": None, "role": "operator"}
        ]


def test_last_admin_cannot_be_demoted(database_url, facility, make_user):
    alice = make_user("alice", facility=facility)
    with session_scope(database_url) as db, pytest.raises(ValueError, match="at least"):
        accounts.set_member_role(db, facility, alice, "viewer")


def test_any_user_creates_a_facility_and_becomes_its_admin(
    app, auth_client, database_url
):
    client = auth_client("nina", facility=None)
    result = callback_result(
        post_callback(
            client,
            app,
            "settings-new-facility-status.children",
            {
                "settings-new-facility-create.n_clicks": 1,
                "settings-new-facility-name.value": "Barn",
                "settings-new-facility-tz.value": "America/Chicago",
            },
        )
    )
    assert _text(result["settings-new-facility-status.children"]) == (
        "Facility Barn created; you are its admin."
    )
    new_id = result["facility-refresh.data"]["select"]
    with session_scope(database_url) as db:
        assert accounts.user_facilities(db, 1) == [
            (new_id, "Barn", "admin", "America/Chicago")
        ]
