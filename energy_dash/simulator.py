"""A simulated sensor: the physics behind the demo history and the live simulator.

One model produces both the demo's month of one-minute history (vectorised with
numpy, tens of thousands of rows in milliseconds) and the readings the simulated
sensor posts every few seconds through the real sensor API, so the live series
continues the history seamlessly.

The physics, per interval:

- solar production follows the sun at ~52°N in the facility's time zone
  (declination, equation of time, hour angle), with clear, partly cloudy and
  overcast days drawn from a seeded RNG per local date (deterministic);
- consumption has a daily rhythm (morning and evening peaks, a working-day
  plateau), a weekly rhythm (weekends start later and stay lower), a winter
  uplift and noise;
- voltage sits near nominal, dipping with load and rising with export; the
  history additionally carries a few sags and swells and exactly one outage
  (0 V for ten minutes) so the alert path has something to show;
- three phase currents with some imbalance, frequency ~50 Hz, power factor
  0.92–0.98, ``current_load`` = consumption power / capacity [%].

Energies are kWh in the interval that ends at the reading's timestamp.

The second half of this module is the HTTP side (:func:`run_simulation`): it posts
readings to ``POST /api/hardware/data`` (and history to the bulk endpoint) with
retries and exponential backoff.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from energy_dash.models import READING_FIELDS

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20_240_601
DEFAULT_LATITUDE = 52.0
OUTAGE_SECONDS = 600
MINUTE_MS = 60_000


@dataclass(frozen=True)
class SiteModel:
    """What the simulated site looks like.

    Parameters
    ----------
    capacity_kw : float
        Facility capacity [kW]; ``current_load`` is consumption power over it [%].
    pv_kwp : float, optional
        Peak power of the solar array [kWp]; default 70 % of ``capacity_kw``.
    nominal_voltage : float
        Nominal phase voltage [V].
    timezone : str
        IANA zone of the site: local days, working hours and the sun follow it.
    latitude : float
        [°N]; ~52 (Berlin, Amsterdam, Warsaw).
    longitude : float, optional
        [°E]; default: the centre of the zone's standard-time meridian.
    frequency : float
        Nominal grid frequency [Hz].
    seed : int
        Weather, noise and voltage events are all drawn from this seed.
    """

    capacity_kw: float = 50.0
    pv_kwp: float | None = None
    nominal_voltage: float = 230.0
    timezone: str = "Europe/Berlin"
    latitude: float = DEFAULT_LATITUDE
    longitude: float | None = None
    frequency: float = 50.0
    seed: int = DEFAULT_SEED

    @property
    def peak_kw(self) -> float:
        return self.pv_kwp if self.pv_kwp is not None else 0.7 * self.capacity_kw

    @property
    def lon(self) -> float:
        if self.longitude is not None:
            return self.longitude
        return _standard_offset_hours(self.timezone) * 15.0


def _standard_offset_hours(zone: str) -> float:
    """The zone's standard (winter) offset from UTC [h]."""
    info = ZoneInfo(zone)
    year = datetime.now(UTC).year
    offsets = [
        datetime(year, month, 1, 12, tzinfo=UTC).astimezone(info).utcoffset()
        for month in (1, 7)
    ]
    return min(o.total_seconds() for o in offsets) / 3600.0


# ------------------------------------------------------------------------ physics
def solar_elevation(ts_ms: np.ndarray, latitude: float, longitude: float) -> np.ndarray:
    """Sun elevation [degrees] at UTC instants (NOAA-style approximation)."""
    ts = np.asarray(ts_ms, dtype="float64") / 1000.0
    day = np.floor(ts / 86400.0)
    utc_hours = (ts - day * 86400.0) / 3600.0
    # Day of year (1..366) without calendars: days since 2000-01-01 modulo a year.
    n = np.mod(day - 10957.0, 365.2425) + 1.0
    b = 2.0 * np.pi * (n - 81.0) / 364.0
    eot_min = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)
    declination = np.radians(23.44) * np.sin(2.0 * np.pi * (284.0 + n) / 365.0)
    solar_hours = utc_hours + longitude / 15.0 + eot_min / 60.0
    hour_angle = np.radians(15.0 * (solar_hours - 12.0))
    phi = math.radians(latitude)
    sin_el = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(
        declination
    ) * np.cos(hour_angle)
    return np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0)))


def _day_rng(seed: int, ordinal: int) -> np.random.Generator:
    return np.random.default_rng([seed, int(ordinal)])


def _weather(seed: int, ordinal: int) -> tuple[float, float, np.ndarray, float]:
    """(base clearness, flicker amplitude, [3 periods h, 3 phases], load scale)."""
    rng = _day_rng(seed, ordinal)
    draw = rng.random()
    if draw < 0.45:  # clear
        base, amp = rng.uniform(0.9, 1.0), 0.03
    elif draw < 0.8:  # partly cloudy
        base, amp = rng.uniform(0.5, 0.78), 0.28
    else:  # overcast
        base, amp = rng.uniform(0.15, 0.35), 0.08
    waves = np.concatenate([rng.uniform(0.25, 2.0, 3), rng.uniform(0, 2 * np.pi, 3)])
    scale = rng.uniform(0.9, 1.1)
    return base, amp, waves, scale


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((hours - centre) / width) ** 2)


@dataclass(frozen=True)
class _Clock:
    """Local calendar facts of each instant."""

    hours: np.ndarray  # local hour of day, fractional
    weekend: np.ndarray  # bool
    ordinal: np.ndarray  # local date as a proleptic ordinal
    doy: np.ndarray  # local day of year


def _clock(ts_ms: np.ndarray, zone: str) -> _Clock:
    index = pd.DatetimeIndex(pd.to_datetime(ts_ms, unit="ms", utc=True))
    index = index.tz_convert(zone)
    hours = index.hour + index.minute / 60.0 + index.second / 3600.0
    # Days since 0001-01-01 of the local date (matches datetime.date.toordinal()).
    naive = index.tz_localize(None).normalize()
    ordinal = (naive - pd.Timestamp("1970-01-01")).days + 719_163
    return _Clock(
        hours=np.asarray(hours, dtype="float64"),
        weekend=np.asarray(index.day_of_week >= 5),
        ordinal=np.asarray(ordinal, dtype="int64"),
        doy=np.asarray(index.day_of_year, dtype="float64"),
    )


def power_profile(
    model: SiteModel, ts_ms: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Instantaneous production and consumption [kW] and voltage/frequency/pf.

    ``ts_ms`` are UTC epoch milliseconds (the middle of each interval).
    """
    ts_ms = np.asarray(ts_ms, dtype="int64")
    n = len(ts_ms)
    clock = _clock(ts_ms, model.timezone)

    base = np.empty(n)
    amp = np.empty(n)
    waves = np.empty((n, 6))
    scale = np.empty(n)
    for ordinal in np.unique(clock.ordinal):
        mask = clock.ordinal == ordinal
        b, a, w, s = _weather(model.seed, int(ordinal))
        base[mask], amp[mask], waves[mask], scale[mask] = b, a, w, s

    # Solar: elevation-driven bell, clouds drift through as a sum of slow waves.
    elevation = solar_elevation(ts_ms, model.latitude, model.lon)
    sun = np.clip(np.sin(np.radians(elevation)), 0.0, None) ** 1.15
    h = clock.hours
    flicker = sum(
        np.sin(2 * np.pi * h / waves[:, k] + waves[:, 3 + k]) for k in range(3)
    )
    clearness = np.clip(base + amp * flicker / 3.0, 0.05, 1.05)
    produced = model.peak_kw * 0.85 * sun * clearness
    produced *= 1.0 + rng.normal(0.0, 0.015, n)
    produced = np.where(elevation > 0.0, np.clip(produced, 0.0, None), 0.0)

    # Consumption: daily shape by working day / weekend, winter uplift, noise.
    c = model.capacity_kw / 50.0
    weekday_shape = (
        12.0 * _bump(h, 7.8, 1.0)
        + 8.0 * np.clip(_bump(h, 12.5, 3.2) * 1.3, 0, 1)
        + 10.0 * _bump(h, 19.0, 1.4)
    )
    weekend_shape = 6.0 * _bump(h, 10.0, 1.6) + 3.0 * _bump(h, 14.0, 2.5) + 9.0 * _bump(
        h, 19.5, 2.0
    )
    shape = np.where(clock.weekend, weekend_shape, weekday_shape)
    season = 1.0 + 0.15 * np.cos(2 * np.pi * (clock.doy - 15.0) / 365.0)
    consumed = c * (4.0 + shape) * season * scale
    consumed *= np.clip(1.0 + rng.normal(0.0, 0.05, n), 0.7, 1.3)
    spikes = rng.random(n) < 0.01
    consumed += spikes * rng.uniform(2.0, 6.0, n) * c
    consumed = np.clip(consumed, 0.2 * c, 0.98 * model.capacity_kw)

    # Electrical values.
    nominal = model.nominal_voltage
    voltage = (
        nominal
        + 1.5 * np.sin(2 * np.pi * (h - 15.0) / 24.0)
        - 0.12 * (consumed / c - 10.0)
        + 0.08 * produced / c
        + rng.normal(0.0, 0.7, n)
    )
    voltage = np.clip(voltage, nominal * 0.965, nominal * 1.035)
    wander = 0.03 * np.sin(ts_ms / 3.6e6)
    frequency = model.frequency + wander + rng.normal(0.0, 0.015, n)
    frequency = np.clip(frequency, model.frequency - 0.2, model.frequency + 0.2)
    share = np.clip(consumed / (0.5 * model.capacity_kw), 0.0, 1.0)
    power_factor = np.clip(0.925 + 0.05 * share + rng.normal(0.0, 0.004, n), 0.92, 0.98)
    return {
        "produced_kw": produced,
        "consumed_kw": consumed,
        "voltage": voltage,
        "frequency": frequency,
        "power_factor": power_factor,
    }


def _readings_frame(
    model: SiteModel,
    ts_ms: np.ndarray,
    step_s: float,
    physics: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = len(ts_ms)
    hours = step_s / 3600.0
    produced = physics["produced_kw"]
    consumed = physics["consumed_kw"]
    voltage = physics["voltage"]
    pf = physics["power_factor"]
    outage = voltage < model.nominal_voltage * 0.05
    produced = np.where(outage, 0.0, produced)
    consumed = np.where(outage, 0.0, consumed)
    # Phase currents from consumption: P = 3 · V · I · pf, imbalance drifting slowly.
    with np.errstate(divide="ignore", invalid="ignore"):
        per_phase = np.where(outage, 0.0, consumed * 1000.0 / (3.0 * voltage * pf))
    drift = 0.03 * np.sin(ts_ms / 5.4e6 + np.array([[0.0], [2.1], [4.2]]))
    shares = np.array([[1.07], [1.0], [0.93]]) + drift
    phases = np.round(per_phase * shares, 2)
    frame = pd.DataFrame(
        {
            "energy_produced": np.round(produced * hours, 5),
            "energy_consumed": np.round(consumed * hours, 5),
            "current_load": np.round(
                np.clip(consumed / model.capacity_kw * 100.0, 0.0, 100.0), 2
            ),
            "voltage": np.round(np.where(outage, 0.0, voltage), 1),
            "current": np.round(phases.sum(axis=0), 2),
            "current1": phases[0],
            "current2": phases[1],
            "current3": phases[2],
            "frequency": np.where(outage, np.nan, np.round(physics["frequency"], 3)),
            "power_factor": np.where(outage, np.nan, np.round(pf, 3)),
        },
        index=pd.DatetimeIndex(
            pd.to_datetime(ts_ms, unit="ms", utc=True), name="timestamp"
        ),
    )
    del n, rng
    return frame[list(READING_FIELDS)]


# ------------------------------------------------------------------------ events
@dataclass(frozen=True)
class VoltageEvent:
    """A scripted excursion in the history: ``kind`` is sag, swell or outage."""

    kind: str
    start: int  # index of the first affected sample
    length: int  # samples
    level: float  # [V]


def plan_events(n: int, step_s: float, nominal: float, seed: int) -> list[VoltageEvent]:
    """A few sags and swells and exactly one ten-minute outage over ``n`` samples.

    Nothing is planned for histories shorter than two hours.
    """
    span_s = n * step_s
    if span_s < 2 * 3600:
        return []
    rng = np.random.default_rng([seed, 7, n])
    days = span_s / 86400.0
    outage_len = max(1, math.ceil(OUTAGE_SECONDS / step_s))
    gap = max(outage_len, math.ceil(3600 / step_s))  # samples kept clear around events
    centre = int(n * 0.4 + rng.uniform(-0.05, 0.05) * n)
    centre = min(max(centre, gap), n - gap - outage_len)
    events = [VoltageEvent("outage", centre, outage_len, 0.0)]
    wanted = [("sag", max(1, round(days * 0.2))), ("swell", max(1, round(days * 0.1)))]
    for kind, count in wanted:
        for _ in range(count):
            for _attempt in range(50):
                length = max(1, math.ceil(rng.uniform(120, 480) / step_s))
                start = int(rng.integers(gap, max(gap + 1, n - gap - length)))
                if all(
                    start + length + gap <= e.start or e.start + e.length + gap <= start
                    for e in events
                ):
                    critical = rng.random() < 1 / 3
                    if kind == "sag":
                        low, high = (16.0, 18.0) if critical else (11.0, 14.0)
                        level = nominal * (1 - rng.uniform(low, high) / 100)
                    else:
                        low, high = (15.5, 17.0) if critical else (10.8, 13.5)
                        level = nominal * (1 + rng.uniform(low, high) / 100)
                    events.append(VoltageEvent(kind, start, length, round(level, 1)))
                    break
    return sorted(events, key=lambda e: e.start)


def _apply_events(
    voltage: np.ndarray, events: list[VoltageEvent], rng: np.random.Generator
) -> np.ndarray:
    voltage = voltage.copy()
    for event in events:
        window = slice(event.start, event.start + event.length)
        if event.kind == "outage":
            voltage[window] = 0.0
        else:
            size = len(voltage[window])
            voltage[window] = event.level + rng.normal(0.0, 0.6, size)
    return voltage


# ------------------------------------------------------------------------ public
def history(
    model: SiteModel,
    end: Any = None,
    *,
    days: float = 30,
    step_s: int = 60,
    events: bool = True,
) -> pd.DataFrame:
    """``days`` of readings at ``step_s`` resolution, the last one at ``end``.

    Parameters
    ----------
    model : SiteModel
    end : datetime-like, optional
        The newest reading's instant (default: now, floored to ``step_s``).
    days : float
        Length of the history [d]; ``days * 86400 / step_s`` readings.
    step_s : int
        Interval between readings [s]; energies are kWh per interval.
    events : bool
        Add the scripted sags, swells and the one outage (see :func:`plan_events`).

    Returns
    -------
    pandas.DataFrame
        Indexed by UTC ``timestamp`` with one column per reading field.
    """
    step_ms = int(step_s * 1000)
    if end is None:
        end_ms = int(time.time() * 1000) // step_ms * step_ms
    else:
        stamp = pd.Timestamp(end)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        end_ms = int(stamp.value // 1_000_000)
    n = int(round(days * 86400 / step_s))
    ts_ms = end_ms - (n - 1 - np.arange(n, dtype="int64")) * step_ms
    rng = np.random.default_rng([model.seed, 1, n])
    physics = power_profile(model, ts_ms - step_ms // 2, rng)
    if events:
        plan = plan_events(n, step_s, model.nominal_voltage, model.seed)
        physics["voltage"] = _apply_events(physics["voltage"], plan, rng)
    return _readings_frame(model, ts_ms, step_s, physics, rng)


def reading_at(model: SiteModel, when: Any = None, interval_s: float = 10.0) -> dict:
    """One live reading (JSON-ready, with an ISO ``timestamp``) for the interval
    of ``interval_s`` seconds ending at ``when`` (default now)."""
    if when is None:
        ts_ms = int(time.time() * 1000)
        if interval_s >= 1:
            ts_ms -= ts_ms % 1000  # whole seconds unless readings come faster
    else:
        stamp = pd.Timestamp(when)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        ts_ms = int(stamp.value // 1_000_000)
    rng = np.random.default_rng([model.seed, 2, ts_ms // 1000])
    stamps = np.array([ts_ms], dtype="int64")
    physics = power_profile(model, stamps - int(interval_s * 500), rng)
    frame = _readings_frame(model, stamps, interval_s, physics, rng)
    return frame_records(frame)[0]


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a readings frame as JSON-ready dicts (``timestamp`` ISO 8601 UTC)."""
    stamps = iso_utc(frame.index)
    columns = {name: frame[name].tolist() for name in frame.columns}
    records = []
    for i, stamp in enumerate(stamps):
        record: dict[str, Any] = {"timestamp": stamp}
        for name, values in columns.items():
            value = values[i]
            if value is not None and value == value:  # drop NaN: "not measured"
                record[name] = value
        records.append(record)
    return records


def iso_utc(index: pd.DatetimeIndex) -> list[str]:
    """ISO 8601 UTC strings ending in ``Z``; milliseconds only when present."""
    index = pd.DatetimeIndex(index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    index = index.tz_convert("UTC")
    whole = index.strftime("%Y-%m-%dT%H:%M:%S")
    ms = (index.as_unit("ms").asi8 % 1000).tolist()
    pairs = zip(whole, ms, strict=True)
    return [f"{text}.{m:03d}Z" if m else f"{text}Z" for text, m in pairs]


# -------------------------------------------------------------------- HTTP client
class SimulatorError(RuntimeError):
    """The server refused the simulator for good (bad key, wrong facility)."""


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    for suffix in ("/api/hardware/data/bulk", "/api/hardware/data"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "name or service not known" in text.lower() or "resolve" in text.lower():
            return "host name not found"
        return "cannot connect"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:200] if response.text else ""
    if isinstance(body, dict):
        if body.get("details"):
            parts = [
                f"{d.get('field', '')} {d.get('message', '')}".strip()
                for d in body["details"][:3]
            ]
            return f"{body.get('error', '')}: {'; '.join(parts)}"
        return str(body.get("error", body))[:200]
    return str(body)[:200]


@dataclass
class Sender:
    """Posts to the sensor API with retries and exponential backoff.

    Network errors, 429 (honouring ``Retry-After``) and 5xx are retried up to
    ``attempts`` times, waiting ``backoff``, 2·``backoff``, … (at most
    ``max_backoff``) seconds. Other 4xx answers are final.
    """

    url: str
    api_key: str
    echo: Callable[[str], None] = print
    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 10.0
    sleep: Callable[[float], Any] = time.sleep
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        import requests

        self.url = _base_url(self.url)
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = self.api_key
        self.session.headers["User-Agent"] = "energy-dash-simulator"

    def _wait(self, seconds: float) -> bool:
        """Sleep; False when asked to stop meanwhile."""
        if self.stop is not None:
            return not self.stop.wait(seconds)
        self.sleep(seconds)
        return True

    def request(self, method: str, path: str, **kwargs):
        """The final response, or None when every attempt failed on the network."""
        import requests

        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self.session.request(
                    method, self.url + path, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                problem = _describe(exc)
                response = None
            else:
                if response.status_code == 429:
                    problem = "rate limited (429)"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        delay = max(delay, float(retry_after))
                elif response.status_code >= 500:
                    problem = f"server error ({response.status_code})"
                else:
                    return response
            if last:
                self.echo(f"{method} {self.url}{path}: {problem}; giving up")
                return response
            wait = min(delay, self.max_backoff)
            self.echo(f"{method} {self.url}{path}: {problem}; retrying in {wait:g} s")
            if not self._wait(wait):
                return response
            delay = min(delay * 2, self.max_backoff)
        return None  # pragma: no cover - the loop always returns

    def config(self) -> dict[str, Any] | None:
        """``GET /api/hardware/config`` (best effort, no retries)."""
        import requests

        try:
            response = self.session.get(
                self.url + "/api/hardware/config", timeout=self.timeout
            )
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


def model_from_config(config: dict[str, Any] | None, base: SiteModel) -> SiteModel:
    """Adapt the model to the facility's own settings when the server told us them."""
    if not config:
        return base
    changes: dict[str, Any] = {}
    zone = config.get("timezone")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
            changes["timezone"] = zone
        except (KeyError, ValueError):
            pass
    for key in ("nominal_voltage", "capacity_kw"):
        value = config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            changes[key] = float(value)
    return replace(base, **changes) if changes else base


def _check_final(response, what: str) -> None:
    if response is not None and response.status_code in (401, 403):
        raise SimulatorError(
            f"the server refused {what} ({response.status_code} "
            f"{_error_text(response)}); check the API key and facility"
        )


def backfill(
    sender: Sender,
    model: SiteModel,
    days: float,
    *,
    end: Any = None,
    chunk: int = 10_000,
    device_id: str | None = None,
) -> tuple[int, int]:
    """Send ``days`` of one-minute history in bulk chunks; returns (sent, failed)."""
    frame = history(model, end, days=days, step_s=60, events=True)
    records = frame_records(frame)
    if device_id:
        for record in records:
            record["device_id"] = device_id
    total = max(1, math.ceil(len(records) / chunk))
    sent = failed = 0
    for number, first in enumerate(range(0, len(records), chunk), start=1):
        part = records[first : first + chunk]
        response = sender.request("POST", "/api/hardware/data/bulk", json=part)
        _check_final(response, "the backfill")
        if response is not None and response.status_code == 200:
            body = response.json()
            rejected = len(body.get("rejected", []))
            sender.echo(
                f"backfill {number}/{total}: 200 accepted {body.get('accepted')} "
                f"duplicates {body.get('duplicates')} rejected {rejected}"
            )
            sent += len(part) - rejected
            failed += rejected
        else:
            status = "no answer" if response is None else str(response.status_code)
            detail = "" if response is None else " " + _error_text(response)
            sender.echo(f"backfill {number}/{total}: {status}{detail}")
            failed += len(part)
    return sent, failed


def live_readings(
    model: SiteModel, interval_s: float, count: int | None, stop: threading.Event | None
) -> Iterator[dict[str, Any]]:
    """Readings on a fixed cadence; the first one immediately."""
    sent = 0
    next_at = time.monotonic()
    while count is None or sent < count:
        if stop is not None and stop.is_set():
            return
        yield reading_at(model, None, interval_s)
        sent += 1
        if count is not None and sent >= count:
            return
        next_at += interval_s
        pause = max(0.0, next_at - time.monotonic())
        if stop is not None:
            if stop.wait(pause):
                return
        else:
            time.sleep(pause)


def run_simulation(
    url: str,
    api_key: str,
    *,
    interval_s: float = 10.0,
    count: int | None = None,
    backfill_days: float = 0,
    model: SiteModel | None = None,
    device_id: str | None = None,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    sender: Sender | None = None,
    report_problem: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Backfill, then post a reading every ``interval_s`` seconds, ``count`` times.

    Every reading or chunk is reported through ``echo`` (failures through
    ``report_problem`` when given). Returns ``{"stored", "duplicates", "failed"}``;
    raises :class:`SimulatorError` when the server refuses the key.
    """
    problem = report_problem or echo
    sender = sender or Sender(url, api_key, echo=problem, stop=stop)
    base = model or SiteModel()
    model = model if model is not None else model_from_config(sender.config(), base)
    summary = {"stored": 0, "duplicates": 0, "failed": 0}
    if backfill_days > 0:
        sent, failed = backfill(sender, model, backfill_days, device_id=device_id)
        summary["stored"] += sent
        summary["failed"] += failed
    for reading in live_readings(model, interval_s, count, stop):
        if device_id:
            reading["device_id"] = device_id
        response = sender.request("POST", "/api/hardware/data", json=reading)
        _check_final(response, "the reading")
        stamp = reading["timestamp"]
        if response is None:
            summary["failed"] += 1
            problem(f"{stamp} not delivered")
            continue
        status = response.status_code
        if status in (200, 201):
            body = response.json()
            key = "stored" if status == 201 else "duplicates"
            summary[key] += 1
            alerts = body.get("alerts") or []
            note = f" alerts: {', '.join(a.get('kind', '?') for a in alerts)}" if (
                alerts
            ) else ""
            echo(
                f"{stamp} {status} {body.get('status')} id={body.get('id')} "
                f"produced {reading['energy_produced']:.4f} kWh "
                f"consumed {reading['energy_consumed']:.4f} kWh "
                f"{reading.get('voltage', 0):.1f} V{note}"
            )
        else:
            summary["failed"] += 1
            problem(f"{stamp} {status} {_error_text(response)}")
    return summary


def start_background(
    url: str,
    api_key: str,
    *,
    interval_s: float = 10.0,
    model: SiteModel | None = None,
    device_id: str | None = None,
    wait_for_server_s: float = 60.0,
) -> tuple[threading.Thread, threading.Event]:
    """Run the simulator in a daemon thread until the returned event is set.

    The thread first waits (up to ``wait_for_server_s``) for ``/healthz`` so the
    first reading does not race the server's start-up.
    """
    stop = threading.Event()

    def log(line: str) -> None:
        logger.debug("simulator: %s", line)

    def warn(line: str) -> None:
        logger.warning("simulator: %s", line)

    def target() -> None:
        import requests

        base = _base_url(url)
        deadline = time.monotonic() + wait_for_server_s
        while time.monotonic() < deadline and not stop.is_set():
            try:
                if requests.get(base + "/healthz", timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            stop.wait(0.25)
        while not stop.is_set():
            try:
                run_simulation(
                    url, api_key, interval_s=interval_s, model=model,
                    device_id=device_id, echo=log, stop=stop, report_problem=warn,
                    sender=Sender(url, api_key, echo=warn, stop=stop, attempts=3),
                )
            except SimulatorError as exc:
                logger.warning("simulated sensor stopped: %s", exc)
                return
            except Exception:  # noqa: BLE001 - keep the demo alive, say why
                logger.exception("simulated sensor failed; restarting in 10 s")
                stop.wait(10)

    thread = threading.Thread(target=target, name="energy-dash-simulator", daemon=True)
    thread.start()
    return thread, stop


__all__ = [
    "SiteModel",
    "Sender",
    "SimulatorError",
    "VoltageEvent",
    "backfill",
    "frame_records",
    "history",
    "iso_utc",
    "model_from_config",
    "plan_events",
    "power_profile",
    "reading_at",
    "run_simulation",
    "solar_elevation",
    "start_background",
]
