"""Settings in chromium: create a device key (shown once) and revoke it."""

from fixtures_web import browser_login, start_app
from selenium.webdriver.common.by import By

from energy_dash.db import session_scope
from energy_dash.storage import accounts
from energy_dash.storage.devices import find_api_key


def test_create_and_revoke_an_api_key(dash_duo, app, facility, make_user, sqlite_url):
    make_user("alice", facility=facility, facility_role="operator")
    start_app(dash_duo, app)
    browser_login(dash_duo, "alice", next_path="/settings")

    dash_duo.wait_for_text_to_equal(
        "#settings-facility-title", "Test Facility operator"
    )
    name = dash_duo.find_element("#settings-key-name")
    name.send_keys("inverter-roof")
    dash_duo.find_element("#settings-key-create").click()

    shown = dash_duo.wait_for_element("#key-secret-value")
    secret = shown.text
    assert secret.startswith("ed_") and len(secret) > 30
    with session_scope(sqlite_url) as db:
        assert find_api_key(db, secret).name == "inverter-roof"
        key_id = accounts.api_keys_info(db, facility)[0]["id"]
    dash_duo.wait_for_contains_text(f"#settings-key-revoke-row-{key_id}", "active")
    row = dash_duo.find_element(f"#settings-key-revoke-row-{key_id}")
    assert secret[:10] in row.text and secret not in row.text

    button = row.find_element(By.TAG_NAME, "button")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()
    dash_duo.wait_for_contains_text(f"#settings-key-revoke-row-{key_id}", "revoked")
    dash_duo.wait_for_text_to_equal("#settings-key-secret", "Key revoked.")
    with session_scope(sqlite_url) as db:
        assert find_api_key(db, secret) is None

    # Reloading the page never shows the secret again.
    dash_duo.driver.get(dash_duo.server_url + "/settings")
    dash_duo.wait_for_contains_text(f"#settings-key-revoke-row-{key_id}", "revoked")
    assert secret not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []
