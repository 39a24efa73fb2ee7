"""Every page at phone, laptop and 4K sizes, light and dark, in one chromium.

Measured in the page: nothing wider than the viewport, no tile value clipped,
no console error; the wall fills 1280x720 … 3840x2160 with no scrollbar and
tile values of at least 4 % of the screen height. The custom range of
/historical computes what its boxes show, typed in either order, and the
comparison says when the previous period is incomplete. Screenshots of every
page go to ``ui_matrix.SCREENSHOTS`` (printed at the end of the module).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pandas as pd
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from ui_matrix import (
    BROWSER_ZONE,
    CLIPPED_JS,
    OVERFLOW_JS,
    SCREENSHOTS,
    console_errors,
    login,
    make_driver,
    serve,
    set_viewport,
)

from energy_dash.config import Settings
from energy_dash.db import dispose_engine, init_db, session_scope
from energy_dash.db.models import User
from energy_dash.demo import seed as demo
from energy_dash.services import live as views

SIZES = ((360, 740), (1440, 900), (3840, 2160))
WALL_SIZES = ((1280, 720), (1920, 1080), (3840, 2160), (1080, 1920))
# (path, a selector whose text is final once the page's data has arrived)
PAGES = (
    ("/", "#home-cta"),
    ("/dashboard", "#dashboard-production"),
    ("/historical", "#historical-total-produced_kwh"),
    ("/voltage", "#voltage-now"),
    ("/forecast", "#forecast-message, #forecast-chart .main-svg"),
    ("/settings", "#settings-key-table"),
    ("/profile", "#profile-store, .avatar-large"),
    ("/wall", "#wall-production"),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo facility with exactly three local days of readings (the day before
    yesterday from midnight, yesterday, today so far), served once per module."""
    folder = tmp_path_factory.mktemp("ui")
    url = f"sqlite:///{folder / 'ui.db'}"
    init_db(url)
    now = views.now_ms()
    tz = demo.DEMO_FACILITY["timezone"]
    today = views.local_today(now, tz)
    first = views.local_midnight_ms(today - timedelta(days=2), tz)
    result = demo.seed_demo(url, days=(now - first) / 86_400_000,
                            end=pd.Timestamp(now, unit="ms", tz="UTC"))
    assert result.seeded and result.readings > 2 * 1440
    dispose_engine(url)
    yield {"url": url, "folder": folder, "facility": result.facility_id, "tz": tz,
           "today": today}
    dispose_engine(url)


@pytest.fixture(scope="module")
def base(site):
    from energy_dash.app import create_app

    settings = Settings(
        database_url=site["url"], env="development",
        session_secret="test-secret-" + "x" * 40, scheduler=False,
        mail_outbox=str(site["folder"] / "outbox"), ingest_rate="0",
        instance_dir=site["folder"], testing=True,
    )
    yield from serve(create_app(settings))


@pytest.fixture(scope="module")
def driver(base):
    chrome = make_driver()
    set_viewport(chrome, 1440, 900)
    login(chrome, base, "demo", "password")
    yield chrome
    chrome.quit()


def wait_text(driver, selector: str, predicate, timeout: float = 15) -> str:
    """The text of ``selector`` once ``predicate(text)`` holds."""
    seen: list[str] = []

    def ready(d):
        found = d.find_elements(By.CSS_SELECTOR, selector)
        text = found[0].text if found else ""
        seen[:] = [text]
        return predicate(text)

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1,
                      ignored_exceptions=(StaleElementReferenceException,)
                      ).until(ready)
    except Exception as exc:  # pragma: no cover - message with what was seen
        raise AssertionError(f"{selector}: {seen}") from exc
    return seen[0]


def type_date(driver, element_id: str, day: str) -> None:
    box = driver.find_element(By.ID, element_id)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(day)


def close_picker(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, ".page-historical h2").click()


def boxes(driver) -> tuple[str, str]:
    return tuple(driver.find_element(By.ID, i).get_attribute("value")
                 for i in ("historical-start", "historical-end"))


def test_custom_range_computes_what_the_boxes_show(driver, base, site):
    """Typed start first, then end first: the period, totals and URL follow the
    boxes every time; a reload shows the same range."""
    set_viewport(driver, 1440, 900)
    today = site["today"]
    driver.get(base + "/historical?range=custom")
    wait_text(driver, "#historical-period", lambda t: "local days" in t)
    day = [(today - timedelta(days=k)).isoformat() for k in range(6)]
    for order, start, end in (("start first", day[2], day[1]),
                              ("end first", day[5], day[3])):
        if order == "start first":
            type_date(driver, "historical-start", start)
            type_date(driver, "historical-end", end)  # clicked into, then typed
        else:
            type_date(driver, "historical-end", end)
            type_date(driver, "historical-start", start)
        close_picker(driver)
        period = wait_text(driver, "#historical-period",
                           lambda t, s=start, e=end: t.startswith(f"{s} – {e}"))
        days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
        assert boxes(driver) == (start, end), order
        assert period == f"{start} – {end} ({days} local days, {site['tz']})"
        # the address carries the range
        assert driver.execute_script("return location.search") == (
            f"?range=custom&start={start}&end={end}")
    driver.refresh()
    wait_text(driver, "#historical-period", lambda t: t.startswith(f"{start} – "))
    assert boxes(driver) == (start, end)
    assert console_errors(driver) == []


def test_reversed_range_is_said_not_swapped(driver, base, site):
    set_viewport(driver, 1440, 900)
    today = site["today"]
    later, earlier = today.isoformat(), (today - timedelta(days=2)).isoformat()
    driver.get(base + f"/historical?range=custom&start={later}&end={later}")
    wait_text(driver, "#historical-period", lambda t: t.startswith(later))
    type_date(driver, "historical-end", earlier)
    close_picker(driver)
    message = wait_text(driver, "#historical-message", lambda t: "after" in t)
    assert message == (f"The start date {later} is after the end date {earlier}: "
                       "choose an end on or after the start.")
    assert boxes(driver) == (later, earlier)  # as typed, not swapped
    assert driver.find_element(By.ID, "historical-period").text == ""


def test_comparison_says_the_previous_period_is_incomplete(driver, base, site):
    """Three local days of data: yesterday and today against the two days before,
    of which only one holds readings."""
    set_viewport(driver, 1440, 900)
    today = site["today"]
    start, end = (today - timedelta(days=1)).isoformat(), today.isoformat()
    driver.get(base + f"/historical?range=custom&start={start}&end={end}")
    note = wait_text(driver, "#historical-comparison-note", bool)
    before = (f"{(today - timedelta(days=3)).isoformat()} – "
              f"{(today - timedelta(days=2)).isoformat()}")
    assert note == (
        f"The previous period ({before}) is incomplete: readings cover 50 % of it, "
        "so changes are not shown (both periods need readings for at least 90 % "
        "of their time)."
    )
    cell = driver.find_element(By.ID, "historical-coverage-previous").text
    assert cell == "50 % · incomplete"
    assert driver.find_element(By.ID, "historical-change-consumed_kwh").text == "—"
    # a week back there is nothing at all: "no data", not "0.0 kWh"
    driver.get(base + "/historical?range=7")
    wait_text(driver, "#historical-previous-consumed_kwh", lambda t: t == "no data")


def test_new_facility_form_suggests_the_browser_zone(driver, base):
    set_viewport(driver, 1440, 900)
    driver.get(base + "/settings")
    zone = wait_text(driver, "#settings-new-facility-tz", lambda t: t and t != "UTC")
    assert zone == BROWSER_ZONE
    assert driver.execute_script(
        "return Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE


def open_page(driver, base: str, path: str, theme: str, ready: str,
              url: str | None = None) -> None:
    """Load ``path`` in ``theme`` (the user's saved theme) and wait until its data
    has arrived."""
    if path == "/wall":
        driver.get(base + "/wall" + ("?theme=light" if theme == "light" else ""))
    else:
        if url is not None:
            with session_scope(url) as db:
                db.query(User).filter_by(username="demo").one().theme = theme
        driver.get(base + path)
    WebDriverWait(driver, 20, poll_frequency=0.1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ready))
    settle(driver)
    shown = driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')")
    assert shown == theme, (path, shown)


def settle(driver, quiet_s: float = 0.25, timeout: float = 15) -> None:
    """Wait until no Dash callback is pending and the layout stopped moving."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        state = driver.execute_script(
            "return [document.querySelectorAll('[data-dash-is-loading=\"true\"]')"
            ".length, document.documentElement.scrollHeight,"
            " document.body.innerText.length];")
        if state[0] == 0 and state == last:
            return
        last = state
        time.sleep(quiet_s)


def shot(driver, name: str, full: bool = False) -> None:
    """A PNG of the viewport, or of the whole page (phones: what a thumb scrolls
    through) up to 8000 px tall."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    if not full:
        driver.save_screenshot(str(target))
        return
    import base64

    width, height = driver.execute_script(
        "return [window.innerWidth, Math.min(8000, Math.max("
        "document.documentElement.scrollHeight, document.body.scrollHeight))];")
    png = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })
    target.write_bytes(base64.b64decode(png["data"]))


def layout_problems(driver) -> dict[str, list[str]]:
    """What is broken now; measured twice a second apart when something is, so a
    page still drawing (a chart between two renders) is not reported."""
    console = console_errors(driver)
    for attempt in range(2):
        problems = {"overflow": driver.execute_script(OVERFLOW_JS),
                    "clipped": driver.execute_script(CLIPPED_JS),
                    "console": console}
        problems = {k: v for k, v in problems.items() if v}
        if not problems or attempt:
            return problems
        time.sleep(1)
        settle(driver)
    return problems


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("path", "ready"), PAGES, ids=[p for p, _ in PAGES])
def test_page_fits_every_size(driver, base, site, path, ready, theme):
    """No horizontal overflow, no clipped value, no console error at 360, 1440 and
    3840 px; a screenshot of each."""
    found = {}
    for i, (width, height) in enumerate(SIZES):
        set_viewport(driver, width, height)
        if i == 0:
            open_page(driver, base, path, theme, ready, site["url"])
        else:
            settle(driver)
        problems = layout_problems(driver)
        if problems:
            found[f"{width}x{height}"] = problems
        name = (path.strip("/") or "home") + f"-{width}x{height}-{theme}"
        shot(driver, name, full=width < 600)
    assert found == {}, found


@pytest.mark.parametrize(("width", "height"), WALL_SIZES,
                         ids=[f"{w}x{h}" for w, h in WALL_SIZES])
def test_wall_fills_the_screen_without_scrolling(driver, base, width, height):
    set_viewport(driver, width, height)
    open_page(driver, base, "/wall", "dark", "#wall-chart .main-svg .scatterlayer")
    wait_text(driver, "#wall-production", lambda t: t not in ("", "—"))
    settle(driver)
    sizes = driver.execute_script("""
        var wall = document.getElementById('wall-root');
        var chart = document.querySelector('#wall-chart .main-svg');
        var values = Array.from(document.querySelectorAll('.wall-tile-value'));
        return {
            inner: [window.innerWidth, window.innerHeight],
            doc: [document.documentElement.scrollWidth,
                  document.documentElement.scrollHeight],
            wall: [wall.scrollWidth, wall.clientWidth, wall.scrollHeight,
                   wall.clientHeight],
            chart: chart ? chart.getBoundingClientRect().bottom : null,
            fonts: values.map(function (v) {
                return parseFloat(getComputedStyle(v).fontSize); }),
            ticker: document.querySelector('.wall-ticker')
                .getBoundingClientRect().bottom
        };""")
    w, h = sizes["inner"]
    assert (w, h) == (width, height)
    assert sizes["doc"][0] <= w and sizes["doc"][1] <= h, sizes
    assert sizes["wall"][0] <= sizes["wall"][1], sizes  # no sideways scroll
    assert sizes["wall"][2] <= sizes["wall"][3], sizes  # no vertical scroll
    assert sizes["ticker"] <= h and sizes["chart"] is not None
    assert sizes["chart"] <= h
    assert len(sizes["fonts"]) == 6
    assert min(sizes["fonts"]) >= 0.04 * h, sizes["fonts"]
    assert layout_problems(driver) == {}
    shot(driver, f"wall-fit-{width}x{height}")


# Before the page's scripts: count Plotly's relayout/restyle calls (each one is a
# second draw of a chart that was already drawn).
COUNT_REDRAWS = """
window.__redraws = [];
let plotly;
Object.defineProperty(window, "Plotly", {configurable: true, get: () => plotly,
  set(value) {
    plotly = value;
    for (const name of ["relayout", "restyle"]) {
      const call = value[name];
      value[name] = function (gd) {
        window.__redraws.push(name + " " + (gd.id || gd.parentElement.id));
        return call.apply(this, arguments);
      };
    }
  }});
"""


@pytest.mark.parametrize(("path", "chart", "font", "line"), [
    ("/wall", "#wall-chart", 43, 4),  # 2 % of 2160 px; lines a tenth of that
    ("/dashboard", "#dashboard-power-chart", 18, None),  # 12 px x 24/16 root type
], ids=["wall", "dashboard"])
def test_4k_charts_are_drawn_once_at_their_size(driver, base, site, path, chart,
                                                 font, line):
    """On a 4K screen each chart arrives sized for it: Plotly's font (and the
    wall's line width) are right at the first draw, with no relayout after."""
    hook = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                  {"source": COUNT_REDRAWS})
    try:
        set_viewport(driver, 3840, 2160)
        open_page(driver, base, path, "dark", f"{chart} .main-svg .scatterlayer .trace",
                  site["url"])
        time.sleep(1.5)  # the after-draw checks run (and would relayout) by now
        drawn = driver.execute_script(f"""
            var gd = document.querySelector('{chart} .js-plotly-plot');
            return {{font: gd._fullLayout.font.size,
                     lines: gd._fullData.map(function (t) {{
                         return t.line ? t.line.width : null; }}),
                     redraws: window.__redraws}};""")
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                               {"identifier": hook["identifier"]})
        set_viewport(driver, 1440, 900)
    assert drawn["font"] == font
    if line is not None:
        assert set(drawn["lines"]) == {line}
    assert drawn["redraws"] == []


def test_zz_screenshot_folder(request):
    """Says where the screenshots are (``-s`` or the captured output)."""
    print(f"\nscreenshots: {SCREENSHOTS}")
    assert any(SCREENSHOTS.glob("*.png"))


