"""Weather for production forecasts from an Open-Meteo-compatible endpoint.

``ENERGY_DASH_WEATHER_URL`` names the forecast endpoint (Open-Meteo's own is
``https://api.open-meteo.com/v1/forecast``; any server answering the same query
works). One GET per facility and refresh asks for hourly shortwave radiation,
cloud cover and temperature over the recent past and the next days, with a
short timeout; any failure raises ``WeatherUnavailable`` with a sentence the
forecast page can show, and the refresh goes on without weather.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

import pandas as pd

from energy_dash.forecasting.problem import WEATHER_BOUNDS

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
PAST_DAYS = 30
FORECAST_DAYS = 2
HOURLY = ("shortwave_radiation", "cloud_cover", "temperature_2m")


class WeatherUnavailable(Exception):
    """The weather endpoint failed; the message is user-facing."""


def weather_query(latitude: float, longitude: float) -> dict[str, str]:
    """Query parameters of the Open-Meteo forecast API (UTC timestamps)."""
    return {
        "latitude": f"{latitude:.4f}",
        "longitude": f"{longitude:.4f}",
        "hourly": ",".join(HOURLY),
        "past_days": str(PAST_DAYS),
        "forecast_days": str(FORECAST_DAYS),
        "timezone": "UTC",
    }


def parse_weather(payload: object) -> pd.DataFrame:
    """Hourly weather on interval starts (UTC): ``ghi`` [W/m²], ``cloud_cover``
    [%], ``temperature`` [°C].

    Open-Meteo's radiation at ``T`` is the mean of the preceding hour, so it
    belongs to the interval starting at ``T - 1 h``; cloud cover and temperature
    are instantaneous and are given to the interval starting at ``T``.
    Radiation below 0 counts as 0; any other value outside its physical range
    is missing, so the forecast uses the column only where it is whole.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("hourly"), dict):
        raise WeatherUnavailable("weather answer has no 'hourly' block")
    hourly = payload["hourly"]
    try:
        times = pd.to_datetime(hourly["time"], utc=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherUnavailable(
            f"weather answer has no readable 'time': {exc}"
        ) from exc
    columns = {}
    for source, target in (("cloud_cover", "cloud_cover"),
                           ("temperature_2m", "temperature")):
        if source in hourly:
            columns[target] = pd.Series(
                pd.to_numeric(pd.Series(hourly[source]), errors="coerce").to_numpy(),
                index=times,
            )
    if "shortwave_radiation" in hourly:
        ghi = pd.to_numeric(pd.Series(hourly["shortwave_radiation"]), errors="coerce")
        columns["ghi"] = pd.Series(ghi.to_numpy(), index=times - pd.Timedelta(hours=1))
    if not columns:
        raise WeatherUnavailable("weather answer has none of " + ", ".join(HOURLY))
    frame = pd.DataFrame(columns).sort_index()
    if "ghi" in frame:  # radiation derived from model means can dip below 0
        frame["ghi"] = frame["ghi"].clip(lower=0.0)
    for column in frame.columns:  # a glitch elsewhere is missing, not a failure
        low, high, _ = WEATHER_BOUNDS[column]
        frame[column] = frame[column].where(frame[column].between(low, high))
    frame.index.name = "timestamp"
    return frame


def fetch_weather(
    url: str,
    latitude: float,
    longitude: float,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """GET the hourly weather of a site, or raise ``WeatherUnavailable``."""
    import requests

    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise WeatherUnavailable("the facility has no coordinates")
    try:
        response = requests.get(url, params=weather_query(latitude, longitude),
                                timeout=timeout)
    except requests.Timeout as exc:
        raise WeatherUnavailable(
            f"weather service did not answer within {timeout:g} s"
        ) from exc
    except requests.RequestException as exc:
        raise WeatherUnavailable(
            f"weather service unreachable ({type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        raise WeatherUnavailable(
            f"weather service answered HTTP {response.status_code}"
        )
    try:
        payload = response.json()
    except ValueError as exc:
        raise WeatherUnavailable("weather answer is not JSON") from exc
    return parse_weather(payload)


def weather_for(frame: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The weather columns on a forecast's history + horizon timestamps."""
    aligned = frame.reindex(index.tz_convert("UTC"))
    aligned.index = index
    return aligned


def fetched_at(now: datetime) -> str:
    """ISO minute of a fetch, for the page's note."""
    return pd.Timestamp(now).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
