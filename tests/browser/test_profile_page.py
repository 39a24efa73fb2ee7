"""Profile in chromium: upload a picture and see it on the page and in the navbar."""

import io

from fixtures_web import browser_login, start_app
from PIL import Image


def test_upload_a_profile_picture(dash_duo, app, facility, make_user, tmp_path):
    make_user("alice", facility=facility)
    picture = tmp_path / "me.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (20, 120, 220)).save(buffer, format="JPEG")
    picture.write_bytes(buffer.getvalue())

    start_app(dash_duo, app)
    browser_login(dash_duo, "alice", next_path="/profile")
    dash_duo.wait_for_element("#profile-avatar-upload")
    upload = dash_duo.find_element("#profile-avatar-upload input[type=file]")
    upload.send_keys(str(picture))

    dash_duo.wait_for_text_to_equal("#profile-avatar-status", "Picture updated.")
    image = dash_duo.wait_for_element("#profile-avatar-img")
    assert image.is_displayed()
    assert "/avatars/" in image.get_attribute("src")
    loaded = dash_duo.driver.execute_script(
        "var i = document.getElementById('profile-avatar-img');"
        "return i.complete && i.naturalWidth;"
    )
    assert loaded == 300  # re-encoded, never enlarged
    navbar_picture = dash_duo.wait_for_element("#user-menu img.navbar-avatar")
    assert navbar_picture.get_attribute("src") == image.get_attribute("src")
    assert dash_duo.get_logs() == []
