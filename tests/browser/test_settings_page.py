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


def test_bind_a_topic_see_it_listed_and_remove_it(
    dash_duo, app, facility, make_user, sqlite_url
):
    """The meter-bindings card in chromium, with a screenshot at phone and
    desktop width (tests/browser/screenshots/settings-bindings-*.png)."""
    from selenium.webdriver.support.ui import Select
    from ui_matrix import SCREENSHOTS, set_viewport

    from energy_dash.services import bindings

    make_user("olga", facility=facility, facility_role="operator")
    start_app(dash_duo, app)
    browser_login(dash_duo, "olga", next_path="/settings")
    dash_duo.wait_for_text_to_equal("#settings-topic-table",
                                    "No MQTT topics bound yet.")
    dash_duo.find_element("#settings-topic-filter").send_keys("shellies/pro3em/#")
    Select(dash_duo.find_element("#settings-topic-format")).select_by_value("shelly")
    Select(dash_duo.find_element("#settings-topic-role")).select_by_value(
        "production")
    dash_duo.find_element("#settings-topic-device").send_keys("pro3em")
    button = dash_duo.find_element("#settings-topic-create")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()
    dash_duo.wait_for_text_to_equal(
        "#settings-topic-status", "Bound shellies/pro3em/# (Shelly Gen2 / Pro) as "
        "production.")
    [row] = bindings.facility_bindings(sqlite_url, facility)["topic"]
    assert (row["topic"], row["format"], row["role"], row["device_id"]) == (
        "shellies/pro3em/#", "shelly", "production", "pro3em")
    listed = f"#topic-binding-{row['id']}"
    dash_duo.wait_for_contains_text(listed, "shellies/pro3em/#")
    assert "Shelly Gen2 / Pro" in dash_duo.find_element(listed).text

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    card = dash_duo.find_element("#settings-bindings")
    for name, width in (("desktop", 1280), ("phone", 390)):
        set_viewport(dash_duo.driver, width, 900)
        dash_duo.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'start', behavior: 'instant'});",
            card)
        width_px = dash_duo.driver.execute_script(
            "return document.documentElement.scrollWidth;")
        assert width_px <= width, f"{name}: the page scrolls sideways"
        card.screenshot(str(SCREENSHOTS / f"settings-bindings-{name}.png"))

    remove = dash_duo.find_element(f"{listed} button")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", remove
    )
    remove.click()
    dash_duo.wait_for_text_to_equal("#settings-topic-status", "Binding removed.")
    dash_duo.wait_for_text_to_equal("#settings-topic-table",
                                    "No MQTT topics bound yet.")
    assert bindings.facility_bindings(sqlite_url, facility)["topic"] == []
    assert dash_duo.get_logs() == []
