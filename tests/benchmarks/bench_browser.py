"""First chart of each page in a real browser (Debian chromium), on the demo data
and on a year of one-minute readings. Target (issue: Dash app): <= 2 s per page.

The app runs as `energy-dash serve` in its own process (scheduler off); the time is
from navigation start until the page's first Plotly trace is drawn.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from energy_dash.config import Settings
from energy_dash.db import init_db
from energy_dash.demo.seed import seed_demo
from energy_dash.services.forecast_refresh import refresh_forecasts

PAGES = ("/dashboard", "/historical", "/voltage", "/forecast", "/wall")
DRAWN = (
    "return document.querySelectorAll('.js-plotly-plot .scatterlayer .trace, "
    ".js-plotly-plot .barlayer .trace, .js-plotly-plot .heatmaplayer image, "
    ".js-plotly-plot .indicatorlayer .trace').length"
)
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get(
        "DASH_TEST_CHROMEPATH", "/usr/bin/chromium"
    )
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options)


def wait_until(condition, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if condition():
            return time.perf_counter() - start
        time.sleep(0.02)
    raise TimeoutError("condition not met")


def measure(label: str, days: int) -> None:
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        init_db(url)
        seed_demo(url, days=days)
        refresh_forecasts(Settings(database_url=url, session_secret="x" * 40))
        port = free_port()
        env = dict(os.environ, DATABASE_URL=url, ENERGY_DASH_SCHEDULER="0",
                   ENERGY_DASH_INSTANCE=tmp, ENERGY_DASH_ENV="development")
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "energy-dash"), "serve", "--host",
             "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        driver = browser()
        try:
            wait_until(lambda: _up(base), 60)
            driver.get(base + "/login")
            driver.find_element(By.ID, "username").send_keys("demo")
            driver.find_element(By.ID, "password").send_keys("password")
            driver.find_element(By.ID, "login-submit").click()
            wait_until(lambda: "/login" not in driver.current_url)
            for path in PAGES:
                start = time.perf_counter()
                driver.get(base + path)
                wait_until(lambda: driver.execute_script(DRAWN) > 0)
                seconds = time.perf_counter() - start
                verdict = "OK" if seconds <= 2 else "ABOVE TARGET"
                print(f"[{label}] first chart on {path:<12} {seconds:5.2f} s "
                      f"(target <= 2 s) {verdict}", flush=True)
        finally:
            driver.quit()
            server.terminate()
            server.wait(10)


def _up(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    measure("demo, 30 days", 30)
    measure("one year of minute readings", 365)


if __name__ == "__main__":
    main()
