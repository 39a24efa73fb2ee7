"""The wall recovers by itself when its server restarts: no reload, no touch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
from selenium.webdriver.support.ui import WebDriverWait
from test_wall_page import seed, token_for

from energy_dash import data

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(database_url: str, port: int, instance: Path) -> subprocess.Popen:
    env = dict(
        os.environ, DATABASE_URL=database_url, ENERGY_DASH_SCHEDULER="0",
        ENERGY_DASH_INSTANCE=str(instance), ENERGY_DASH_ENV="development",
    )
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "energy-dash"), "serve", "--host",
         "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("energy-dash serve did not come up")


def test_wall_recovers_after_a_server_restart(dash_duo, database_url, facility,
                                              tmp_path):
    last = seed(database_url, facility)
    token = token_for(database_url, facility)
    port = _port()
    server = _serve(database_url, port, tmp_path)
    driver = dash_duo.driver
    try:
        driver.get(f"http://127.0.0.1:{port}/wall?token={token}&refresh=2")
        dash_duo.wait_for_text_to_equal("#wall-consumption", "15.0 kW", timeout=20)
        driver.execute_script("window.__sameDocument = true;")

        server.terminate()
        server.wait(10)
        time.sleep(5)  # a few ticks fail while the server is away
        frame = pd.DataFrame(
            {"energy_produced": 0.0, "energy_consumed": 1.5, "current_load": 50.0,
             "voltage": 231.0, "device_id": "sensor-1"},
            index=pd.to_datetime([last + 60_000], unit="ms", utc=True),
        )
        data.write_readings(frame, facility, database_url=database_url)
        server = _serve(database_url, port, tmp_path)

        # 1.5 kWh in the minute since the previous reading: 90 kW, without a reload
        dash_duo.wait_for_text_to_equal("#wall-consumption", "90.0 kW", timeout=30)
        dash_duo.wait_for_text_to_equal("#wall-voltage", "231.0 V")
        assert driver.execute_script("return window.__sameDocument === true;")
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element("css selector", "#wall-connection").text
            == "connected"
        )
    finally:
        server.terminate()
        server.wait(10)
