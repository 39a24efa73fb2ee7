"""One app server and one chromium per test module, resized instead of restarted.

The responsive matrix opens every page at several window sizes and in both
themes; starting a browser (or a server) per case would cost minutes. Screenshots
go to ``ENERGY_DASH_SCREENSHOTS`` (default ``tests/browser/screenshots/``, ignored
by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from fixtures_web import DEFAULT_PASSWORD, free_port

HERE = Path(__file__).parent
SCREENSHOTS = Path(os.environ.get("ENERGY_DASH_SCREENSHOTS", HERE / "screenshots"))
BROWSER_ZONE = "America/Chicago"
CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")

# JS: everything a person would call broken layout, measured in the page.
OVERFLOW_JS = """
var w = window.innerWidth, out = [];
var doc = document.documentElement;
if (doc.scrollWidth > w) { out.push('document scrollWidth ' + doc.scrollWidth); }
document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (!r.width || !el.offsetParent && getComputedStyle(el).position !== 'fixed') {
        return;
    }
    var clipped = false, p = el.parentElement;
    while (p && p !== document.body) {
        var s = getComputedStyle(p);
        if (s.overflowX !== 'visible' && s.overflowX !== 'clip' ||
            s.overflow === 'hidden') {
            var pr = p.getBoundingClientRect();
            if (pr.right <= w + 1) { clipped = true; break; }
        }
        p = p.parentElement;
    }
    if (!clipped && (r.right > w + 1 || r.left < -1)) {
        out.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' +
                  String(el.className).split(' ')[0]) + ' ' +
                 Math.round(r.left) + '..' + Math.round(r.right));
    }
});
return out.slice(0, 10);
"""

CLIPPED_JS = """
var out = [];
document.querySelectorAll('.dash-graph').forEach(function (g) {
    if (g.offsetParent !== null && g.getBoundingClientRect().height < 120) {
        out.push('#' + g.id + ' collapsed to ' +
                 Math.round(g.getBoundingClientRect().height) + ' px');
    }
});
document.querySelectorAll(
    '.wall-tile-value, .kpi-value, .totals-table td, .wall-tile-label'
).forEach(function (el) {
    if (el.offsetParent === null) { return; }
    if (el.scrollWidth > el.clientWidth + 1) {
        out.push((el.id || el.className) + ': "' + el.textContent + '" ' +
                 el.scrollWidth + '>' + el.clientWidth);
    }
});
return out;
"""


ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def make_driver():
    """A headless chromium with console logging (SEVERE) enabled."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = (
        CHROMIUM if os.path.exists(CHROMIUM) else (shutil.which("chromium") or CHROMIUM)
    )
    for arg in ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    # The browser lives in another zone than the server, as a user's would.
    before = os.environ.get("TZ")
    os.environ["TZ"] = BROWSER_ZONE
    try:
        return webdriver.Chrome(options=options)
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before


def serve(app) -> Iterator[str]:
    """Run ``app`` in a thread on a free port; yields its base URL."""
    from dash.testing.application_runners import ThreadedRunner

    runner = ThreadedRunner()
    port = free_port()
    runner.start(app, port=port)
    try:
        yield f"http://localhost:{port}"
    finally:
        runner.stop()


def login(driver, base: str, username: str, password: str = DEFAULT_PASSWORD
          ) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/login")
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: d.find_elements(By.ID, "login-form"))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: "/login" not in d.current_url)


def set_viewport(driver, width: int, height: int) -> None:
    """Make the page's viewport (innerWidth x innerHeight) exactly this size."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    dw, dh = width - inner[0], height - inner[1]
    if dw or dh:
        driver.set_window_size(width + dw, height + dh)


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]
