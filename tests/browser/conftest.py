"""Real-browser tests: dash_duo with Debian chromium, headless, on SQLite.

``REQUIRE_BROWSER=1`` (CI) turns a missing chromium or chromedriver into a
failure; otherwise these tests skip with the reason. Every test here runs on
SQLite only (``database_url`` is overridden) and is marked ``browser``.

Pattern::

    from fixtures_web import browser_login, start_app

    def test_x(dash_duo, app, facility, make_user):
        make_user("alice", facility=facility)
        start_app(dash_duo, app)                # free port, opens "/"
        browser_login(dash_duo, "alice")        # lands on /dashboard
        dash_duo.wait_for_element("#navbar")
        assert dash_duo.get_logs() == []        # no console errors
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1366,900",
)





def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"chromium not found at {CHROMIUM}"
    if not shutil.which("chromedriver"):
        return "chromedriver not found on PATH"
    return None


def pytest_configure(config):
    # dash.testing.plugin reads these options (request.config.getoption): Chrome,
    # headless. Set here so no command-line flag is needed.
    config.option.webdriver = "Chrome"
    config.option.headless = True


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = (
        CHROMIUM if os.path.exists(CHROMIUM) else (shutil.which("chromium") or CHROMIUM)
    )
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    return options


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    reason = _missing()
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.browser)
        if reason and not REQUIRE_BROWSER:
            item.add_marker(pytest.mark.skip(reason=f"browser tests not run: {reason}"))


@pytest.fixture(autouse=True)
def _browser_available():
    reason = _missing()
    if reason and REQUIRE_BROWSER:
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")


@pytest.fixture
def database_url(sqlite_url):
    """Browser tests run on SQLite only (the threaded server shares the file)."""
    return sqlite_url
