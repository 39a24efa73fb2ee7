"""Sign in through the real form in chromium and land on the dashboard shell."""

from fixtures_web import browser_login, start_app
from selenium.webdriver.support.ui import WebDriverWait


def test_sign_in_lands_on_dashboard_with_navbar(dash_duo, app, facility, make_user):
    make_user("alice", facility=facility)
    start_app(dash_duo, app)
    dash_duo.wait_for_text_to_equal("#home-cta", "Sign in")

    browser_login(dash_duo, "alice")

    assert dash_duo.driver.current_url == dash_duo.server_url + "/dashboard"
    navbar = dash_duo.wait_for_element("#navbar")
    dash_duo.wait_for_contains_text("#user-menu", "alice")
    assert navbar.is_displayed()
    dash_duo.wait_for_contains_text("#facility-select", "Test Facility")
    assert dash_duo.get_logs() == []


def test_wrong_password_shows_one_generic_message(dash_duo, app, make_user):
    make_user("alice")
    start_app(dash_duo, app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/login")
    driver.find_element("id", "username").send_keys("alice")
    driver.find_element("id", "password").send_keys("not the password")
    driver.find_element("id", "login-submit").click()
    dash_duo.wait_for_text_to_equal("#login-error", "Invalid username or password.")
    assert driver.current_url.endswith("/login")


def test_landing_page_renders_anonymously_without_console_errors(dash_duo, app):
    start_app(dash_duo, app)
    dash_duo.wait_for_text_to_equal("#home-cta", "Sign in")
    navbar = dash_duo.find_element("#navbar")
    assert not navbar.is_displayed()  # hidden on the landing page
    assert dash_duo.get_logs() == []  # the CSP lets Dash run: no violations


def test_theme_toggle_is_saved_to_the_profile(
    dash_duo, app, facility, make_user, sqlite_url
):
    from energy_dash.db import session_scope
    from energy_dash.storage import accounts

    make_user("alice", facility=facility)
    start_app(dash_duo, app)
    browser_login(dash_duo, "alice")
    driver = dash_duo.driver

    def theme():
        return driver.execute_script(
            "return document.documentElement.getAttribute('data-bs-theme');"
        )

    dash_duo.wait_for_contains_text("#user-menu", "alice")
    dash_duo.wait_for_element("#theme-toggle").click()
    WebDriverWait(driver, 5).until(lambda _d: theme() == "dark")

    def saved():
        with session_scope(sqlite_url) as db:
            return accounts.get_user(db, "alice").theme

    WebDriverWait(driver, 5).until(lambda _d: saved() == "dark")
    driver.get(dash_duo.server_url + "/settings")
    assert theme() == "dark"  # applied before Dash renders (no white flash)
    dash_duo.wait_for_element("#settings-name")
    assert theme() == "dark"
    assert dash_duo.get_logs() == []
