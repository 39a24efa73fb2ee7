"""Weather input from an Open-Meteo-compatible endpoint, served by a real local
HTTP server that replays a response in Open-Meteo's documented format
(tests/fixtures/open_meteo_berlin.json: ``past_days=30&forecast_days=2``, 768
hours from 00:00 UTC of the first day, of radiation, cloud cover and
temperature for Berlin; written by hand to that format, as this machine has no
internet to record a live answer)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from energy_dash.domain.solar import clear_sky
from energy_dash.forecasting import forecast
from energy_dash.services.weather import (
    WeatherUnavailable,
    fetch_weather,
    weather_for,
)

FIXTURE = Path(__file__).parent / "fixtures" / "open_meteo_berlin.json"
BERLIN = (52.52, 13.40)


class Replay(BaseHTTPRequestHandler):
    mode = "ok"
    queries: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).queries.append(parse_qs(urlparse(self.path).query))
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "error":
            self.send_response(503)
            self.end_headers()
            return
        body = FIXTURE.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Replay.queries = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/forecast"
    httpd.shutdown()
    httpd.server_close()
    Replay.mode = "ok"


def test_fetch_asks_for_the_site_and_puts_radiation_on_interval_starts(server):
    frame = fetch_weather(server, *BERLIN)
    [query] = Replay.queries
    assert query["latitude"] == ["52.5200"] and query["longitude"] == ["13.4000"]
    assert query["hourly"] == ["shortwave_radiation,cloud_cover,temperature_2m"]
    assert query["timezone"] == ["UTC"]
    payload = json.loads(FIXTURE.read_text())["hourly"]
    assert list(frame.columns) == ["cloud_cover", "temperature", "ghi"]
    # Open-Meteo's time starts at 00:00 of the first day; radiation at T is the
    # mean of the hour before T, so 04:00's value (first light, sunrise about
    # 03:10 UTC) is the interval starting 03:00
    assert payload["time"][4] == "2024-05-12T04:00"
    assert payload["shortwave_radiation"][4] == 4.1
    assert frame.loc[pd.Timestamp("2024-05-12 03:00", tz="UTC"), "ghi"] == 4.1
    assert frame.index[0] == pd.Timestamp("2024-05-11 23:00", tz="UTC")
    # cloud cover is instantaneous: it stays on its own timestamp
    assert frame.loc[pd.Timestamp("2024-05-13 01:00", tz="UTC"), "cloud_cover"] == (
        payload["cloud_cover"][25]
    )
    assert str(frame.index.tz) == "UTC"


def test_a_slow_endpoint_times_out_with_a_sentence(server):
    Replay.mode = "slow"
    started = time.perf_counter()
    with pytest.raises(WeatherUnavailable, match="did not answer within 0.3 s"):
        fetch_weather(server, *BERLIN, timeout=0.3)
    assert time.perf_counter() - started < 1.4


def test_an_error_status_and_a_dead_port_are_unavailable(server):
    Replay.mode = "error"
    with pytest.raises(WeatherUnavailable, match="answered HTTP 503"):
        fetch_weather(server, *BERLIN)
    with pytest.raises(WeatherUnavailable, match="unreachable"):
        fetch_weather("http://127.0.0.1:9/v1/forecast", *BERLIN, timeout=1)


def test_production_forecast_follows_the_replayed_radiation(server):
    frame = fetch_weather(server, *BERLIN)
    index = pd.date_range("2024-05-12 00:00", "2024-06-11 23:00", freq="h",
                          tz="Europe/Berlin", name="timestamp")
    ghi = frame["ghi"].reindex(index.tz_convert("UTC")).to_numpy()
    produced = pd.Series(np.round(0.012 * np.nan_to_num(ghi), 4), index)
    history, actual = produced.iloc[:-24], produced.iloc[-24:]
    weather = weather_for(frame, history.index.append(actual.index))
    with_weather = forecast(history, 24, location=BERLIN, weather=weather)
    without = forecast(history, 24, location=BERLIN)
    assert with_weather.attrs["weather"] == ["ghi", "cloud_cover", "temperature"]

    def wape(f: pd.DataFrame) -> float:
        return float(np.abs(f["yhat"] - actual).sum() / actual.sum())

    assert wape(with_weather) < 0.05 < wape(without)
    sky = clear_sky(actual.index, actual.index + pd.Timedelta(hours=1), *BERLIN)
    assert (with_weather.loc[~sky["sun_up"].to_numpy()] == 0).all().all()
