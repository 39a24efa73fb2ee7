"""First chart of each page in a real browser (Debian chromium), with a year of
one-minute readings stored (525 600 rows, the demo seed). Target (issue: pages):
<= 1 s per page, from navigation start until the page's first Plotly trace is
painted, read from the page's own clock (``performance.now()`` after the frame
that first holds a trace, so webdriver's polling adds nothing). The peer is the
same page on 30 days of demo data, measured in the same run: a ratio near 1 says
the page does not slow down as history grows.

    python tests/benchmarks/bench_browser.py [--days 365] [--screens DIR]

The app runs as ``energy-dash serve`` in its own process (scheduler off). For each
page the Dash callback round trips before the first trace (count, slowest server
time from the browser's resource timing) are printed too, and a screenshot is
kept (default ``instance/bench/screens/``) to look at.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report import REPO, Report  # noqa: E402

from energy_dash.config import Settings  # noqa: E402
from energy_dash.db import init_db  # noqa: E402
from energy_dash.demo.seed import seed_demo  # noqa: E402
from energy_dash.services.forecast_refresh import refresh_forecasts  # noqa: E402

PAGES = ("/dashboard", "/historical", "/voltage", "/forecast", "/wall")
TARGET_S = 1.0
TRACE = (".js-plotly-plot .scatterlayer .trace, .js-plotly-plot .barlayer .trace, "
         ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .indicatorlayer .trace")
# Installed in every document before its scripts: the page's own time (ms since
# navigation start) just after the first frame that holds a Plotly trace is painted.
FIRST_PAINT_HOOK = """
(function () {
  const drawn = () => document.querySelector(TRACE);
  const seen = () => requestAnimationFrame(
      () => setTimeout(() => { window.__firstChartMs = performance.now(); }, 0));
  const observer = new MutationObserver(() => {
    if (drawn()) { observer.disconnect(); seen(); }
  });
  observer.observe(document, {childList: true, subtree: true});
})();
""".replace("TRACE", repr(TRACE))
# Callback requests of this page load, until now: [count, slowest wait, sum of waits]
ROUND_TRIPS = """
const start = performance.timeOrigin;
const calls = performance.getEntriesByType('resource')
  .filter(e => e.name.includes('_dash-update-component'));
const waits = calls.map(e => e.responseStart - e.requestStart);
return [calls.length, Math.max(0, ...waits), waits.reduce((a, b) => a + b, 0),
        calls.length ? Math.max(...calls.map(e => e.responseEnd)) : 0];
"""


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
        time.sleep(0.01)
    raise TimeoutError("condition not met")


def measure(label: str, days: int, screens: Path | None,
            repeat: int = 3) -> dict[str, float]:
    """Seconds to the first chart per page (median of ``repeat`` loads)."""
    from selenium.webdriver.common.by import By

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        init_db(url)
        started = time.perf_counter()
        seed_demo(url, days=days, interval_s=60)  # a year of minute data
        refresh_forecasts(Settings(database_url=url, session_secret="x" * 40))
        print(f"[{label}] seeded and forecast in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        env = dict(os.environ, DATABASE_URL=url, ENERGY_DASH_SCHEDULER="0",
                   ENERGY_DASH_INSTANCE=tmp, ENERGY_DASH_ENV="development")
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "energy-dash"), "serve", "--host",
             "127.0.0.1", "--port", str(port)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        driver = browser()
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                               {"source": FIRST_PAINT_HOOK})
        try:
            wait_until(lambda: _up(base), 60)
            driver.get(base + "/login")
            driver.find_element(By.ID, "username").send_keys("demo")
            driver.find_element(By.ID, "password").send_keys("password")
            driver.find_element(By.ID, "login-submit").click()
            wait_until(lambda: "/login" not in driver.current_url)
            for path in PAGES:
                times, polled = [], []
                for _ in range(repeat):
                    driver.get("about:blank")
                    start = time.perf_counter()
                    driver.get(base + path)
                    wait_until(lambda: driver.execute_script(
                        "return window.__firstChartMs || 0") > 0)
                    polled.append(time.perf_counter() - start)
                    times.append(driver.execute_script(
                        "return window.__firstChartMs") / 1000)
                    trips = driver.execute_script(ROUND_TRIPS)
                results[path] = statistics.median(times)
                print(f"[{label}] {path:<12} first chart painted, median "
                      f"{results[path]:5.2f} s (of {len(times)}: "
                      f"{', '.join(f'{t:.2f}' for t in times)}; seen by polling "
                      f"webdriver {statistics.median(polled):.2f} s); "
                      f"{trips[0]} callback round trips so far, slowest server "
                      f"wait {trips[1]:.0f} ms, sum {trips[2]:.0f} ms", flush=True)
                if screens is not None:
                    time.sleep(1.5)  # the rest of the page settles
                    screens.mkdir(parents=True, exist_ok=True)
                    name = label.replace(" ", "-") + path.replace("/", "-")
                    driver.save_screenshot(str(screens / f"{name}.png"))
        finally:
            driver.quit()
            server.terminate()
            server.wait(10)
    return results


def _up(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--screens", type=Path,
                        default=REPO / "instance" / "bench" / "screens")
    args = parser.parse_args(argv)
    report = Report("browser")
    small = measure("demo 30 days", 30, None)
    year = measure(f"{args.days} days", args.days, args.screens)
    for path in PAGES:
        report.figure(
            f"first chart {path}, {args.days} days of minute readings", year[path],
            "s", peer=small[path], peer_name="same page, 30 days",
            target=TARGET_S, higher_is_better=False,
        )
    report.save()
    return 1 if report.missed() else 0


if __name__ == "__main__":
    sys.exit(main())
