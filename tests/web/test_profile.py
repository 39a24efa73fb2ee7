"""/profile callbacks: account, password, picture (checked by content), preferences."""

from __future__ import annotations

import base64
import io

import pytest
from fixtures_web import callback_result, login_client, post_callback
from PIL import Image

from energy_dash.db import session_scope
from energy_dash.storage import accounts
from energy_dash.web import avatars


def _png(width=64, height=48, color=(200, 30, 30), fmt="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def _data_url(raw: bytes, declared: str = "image/png") -> str:
    return f"data:{declared};base64," + base64.b64encode(raw).decode()


def _upload(client, app, raw: bytes, declared="image/png", name="me.png"):
    return post_callback(
        client,
        app,
        "profile-avatar-status.children",
        {
            "profile-avatar-upload.contents": _data_url(raw, declared),
            "profile-avatar-upload.filename": name,
        },
    )


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(_text(c) for c in component)
    if isinstance(component, dict):
        return _text(component.get("props", {}).get("children"))
    return ""


def _avatar(url) -> str | None:
    with session_scope(url) as db:
        return accounts.get_user(db, "alice").avatar_file


def test_valid_png_is_stored_reencoded_and_served_to_signed_in_users(
    app, auth_client, settings, database_url, facility
):
    client = auth_client("alice")
    result = callback_result(_upload(client, app, _png(800, 600)))
    assert _text(result["profile-avatar-status.children"]) == "Picture updated."
    name = _avatar(database_url)
    assert result["profile-avatar-img.src"] == f"/avatars/{name}"
    assert result["profile-avatar-img.hidden"] is False
    stored = settings.instance_dir / "avatars" / name
    with Image.open(stored) as image:
        assert image.format == "PNG" and image.size == (512, 384)

    served = client.get(f"/avatars/{name}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.data == stored.read_bytes()

    other = auth_client("bob", facility=None)
    assert other.get(f"/avatars/{name}").status_code == 200
    anonymous = app.server.test_client().get(f"/avatars/{name}")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/login?next=/avatars/{name}"


def test_a_new_picture_replaces_the_old_file(
    app, auth_client, settings, database_url, facility
):
    client = auth_client("alice")
    callback_result(_upload(client, app, _png()))
    first = _avatar(database_url)
    callback_result(_upload(client, app, _png(color=(0, 0, 255)), "image/jpeg"))
    second = _avatar(database_url)
    assert first != second
    folder = settings.instance_dir / "avatars"
    assert sorted(p.name for p in folder.iterdir()) == [second]


@pytest.mark.parametrize(
    ("raw", "declared", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
            "Upload a PNG, JPEG or WebP picture.",
        ),
        (
            b"<html><script>alert(1)</script></html>",
            "image/png",
            "Upload a PNG, JPEG or WebP picture.",
        ),
        (b"GIF89a" + b"\x00" * 64, "image/png", "Upload a PNG, JPEG or WebP picture."),
        (b"", "image/png", "The file is empty."),
    ],
    ids=["svg", "html-named-png", "gif", "empty"],
)
def test_non_pictures_are_refused(
    app, auth_client, database_url, facility, raw, declared, message
):
    client = auth_client("alice")
    if raw == b"":
        response = post_callback(
            client,
            app,
            "profile-avatar-status.children",
            {"profile-avatar-upload.contents": "data:image/png;base64,"},
        )
    else:
        response = _upload(client, app, raw, declared)
    assert _text(callback_result(response)["profile-avatar-status.children"]) in (
        message,
        "",
    )
    assert _avatar(database_url) is None


def test_a_gif_and_a_bmp_are_refused_by_content():
    for fmt in ("GIF", "BMP"):
        with pytest.raises(avatars.ImageRejected, match="PNG, JPEG or WebP"):
            avatars.normalize_avatar(_png(fmt=fmt))


def test_png_with_trailing_html_is_neutralised(
    app, auth_client, settings, database_url, facility
):
    polyglot = _png() + b"<html><script>alert(document.cookie)</script></html>"
    client = auth_client("alice")
    result = callback_result(_upload(client, app, polyglot))
    assert _text(result["profile-avatar-status.children"]) == "Picture updated."
    stored = (settings.instance_dir / "avatars" / _avatar(database_url)).read_bytes()
    assert b"<html" not in stored and b"script" not in stored
    assert stored.endswith(b"IEND\xaeB`\x82")


def test_oversize_and_huge_pictures_are_refused(
    app, auth_client, database_url, facility
):
    client = auth_client("alice")
    big = _png() + b"\x00" * (2 * 1024 * 1024)  # over 2 MB (and over 1 MiB body)
    response = _upload(client, app, big)
    assert _text(callback_result(response)["profile-avatar-status.children"]) == (
        "The picture must be at most 2 MB."
    )
    wide = _png(5000, 10)
    response = _upload(client, app, wide)
    assert _text(callback_result(response)["profile-avatar-status.children"]) == (
        "The picture must be at most 4096 × 4096 pixels."
    )
    assert _avatar(database_url) is None


def test_webp_and_transparent_png_are_accepted():
    for raw in (_png(fmt="WEBP"), _png(mode="RGBA", color=(0, 0, 0, 0))):
        out = avatars.normalize_avatar(raw)
        with Image.open(io.BytesIO(out)) as image:
            assert image.format == "PNG"


def test_avatar_route_refuses_odd_names(app, auth_client, facility):
    client = auth_client("alice")
    for name in ("passwd", "x.svg", "..png", "0" * 32 + ".png"):
        assert client.get(f"/avatars/{name}").status_code == 404


# --------------------------------------------------------------------------- account


def _change_password(client, app, current, new, confirm=None):
    return callback_result(
        post_callback(
            client,
            app,
            "profile-password-status.children",
            {
                "profile-password-save.n_clicks": 1,
                "profile-password-current.value": current,
                "profile-password-new.value": new,
                "profile-password-confirm.value": new if confirm is None else confirm,
            },
        )
    )


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    app, auth_client, database_url, facility
):
    client = auth_client("alice")
    elsewhere = app.server.test_client()
    login_client(elsewhere, "alice")

    wrong = _change_password(client, app, "not my password", "a fresh passphrase!")
    assert _text(wrong["profile-password-status.children"]) == (
        "The current password is not correct."
    )
    weak = _change_password(client, app, "correct horse battery", "password1234")
    assert "too common" in _text(weak["profile-password-status.children"])
    mismatch = _change_password(
        client, app, "correct horse battery", "a fresh passphrase!", "something else"
    )
    assert _text(mismatch["profile-password-status.children"]) == (
        "The two new passwords do not match."
    )
    assert elsewhere.get("/dashboard").status_code == 200

    done = _change_password(client, app, "correct horse battery", "a fresh passphrase!")
    assert _text(done["profile-password-status.children"]) == (
        "Password changed; other sessions were signed out."
    )
    assert client.get("/dashboard").status_code == 200  # this session continues
    assert elsewhere.get("/dashboard").status_code == 302  # the other one ended
    login_client(app.server.test_client(), "alice", "a fresh passphrase!")


def test_username_and_email_change(app, auth_client, make_user, database_url, facility):
    make_user("bob", email="bob@example.org")
    client = auth_client("alice")
    taken = callback_result(
        post_callback(
            client,
            app,
            "profile-status.children",
            {
                "profile-save.n_clicks": 1,
                "profile-username.value": "alice",
                "profile-email.value": "BOB@example.org",
            },
        )
    )
    assert _text(taken["profile-status.children"]) == (
        "That email address is already registered."
    )
    saved = callback_result(
        post_callback(
            client,
            app,
            "profile-status.children",
            {
                "profile-save.n_clicks": 1,
                "profile-username.value": "alice2",
                "profile-email.value": "alice@example.org",
            },
        )
    )
    assert _text(saved["profile-status.children"]) == "Saved."
    assert "alice2" in str(saved["user-menu.label"])
    with session_scope(database_url) as db:
        user = accounts.get_user(db, "alice2")
        assert user.email == "alice@example.org"


def test_theme_is_stored_in_the_profile(app, auth_client, database_url, facility):
    client = auth_client("alice")
    result = callback_result(
        post_callback(
            client,
            app,
            "profile-store.data",
            {"profile-theme.value": "dark", "profile-store.data": {"theme": "light"}},
            trigger="profile-theme.value",
        )
    )
    assert result["profile-store.data"] == {"theme": "dark"}
    with session_scope(database_url) as db:
        assert accounts.get_user(db, "alice").theme == "dark"
    # The navbar toggle saves the choice too.
    callback_result(
        post_callback(
            client,
            app,
            "theme-saved.data",
            {
                "theme-choice.data": {"theme": "light", "at": 1},
                "url.pathname": "/profile",
            },
        )
    )
    with session_scope(database_url) as db:
        assert accounts.get_user(db, "alice").theme == "light"


def test_notification_preferences(app, auth_client, database_url, facility):
    client = auth_client("alice")
    values = {
        "profile-notify-save.n_clicks": 1,
        "profile-notify-facilities.value": [facility],
        "profile-notify-levels.value": ["critical"],
        "profile-notify-email.value": "Ops@Example.org",
        "profile-notify-webhook.value": "https://hooks.example.org/energy",
        "profile-notify-quiet-from.value": "22:00",
        "profile-notify-quiet-to.value": "06:30",
    }
    saved = callback_result(
        post_callback(client, app, "profile-notify-status.children", values)
    )
    assert _text(saved["profile-notify-status.children"]) == (
        "Notification preferences saved."
    )
    with session_scope(database_url) as db:
        prefs = accounts.get_user(db, "alice").preferences
    assert prefs["notifications"] == {
        "facilities": [facility],
        "levels": ["critical"],
        "email": "ops@example.org",
        "webhook": "https://hooks.example.org/energy",
        "quiet_hours": {"from": "22:00", "to": "06:30"},
    }
    for field, value, message in [
        (
            "profile-notify-webhook.value",
            "javascript:alert(1)",
            "The webhook must be an http(s):// URL.",
        ),
        (
            "profile-notify-facilities.value",
            [999],
            "You can only follow your own facilities.",
        ),
        ("profile-notify-quiet-to.value", "", "Quiet hours need a start and an end"),
    ]:
        bad = callback_result(
            post_callback(
                client, app, "profile-notify-status.children", {**values, field: value}
            )
        )
        assert message in _text(bad["profile-notify-status.children"])

    loaded = callback_result(
        post_callback(
            client, app, "profile-username.value", {"profile-refresh.data": 0}
        )
    )
    assert loaded["profile-notify-levels.value"] == ["critical"]
    assert loaded["profile-notify-quiet-from.value"] == "22:00"
    assert loaded["profile-notify-facilities.options"] == [
        {"label": "Test Facility", "value": facility}
    ]
