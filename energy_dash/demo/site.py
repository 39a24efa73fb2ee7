"""The simulated site: the physics behind the demo history and the live simulator.

One model produces both the demo's month of history at the facility's reporting
interval (vectorised with numpy, a week of 10 s readings at a time) and the
readings the simulated sensor posts at that interval through the real sensor API,
so the live series continues the history seamlessly.

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

The HTTP side that posts these readings is :mod:`energy_dash.demo.simulator`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from energy_dash.db.models import READING_FIELDS
from energy_dash.domain.times import iso_utc_many

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
    voltage: np.ndarray,
    events: list[VoltageEvent],
    rng: np.random.Generator,
    offset: int = 0,
) -> np.ndarray:
    """The events applied to ``voltage``, whose first sample is the history's
    sample ``offset`` (events are planned over the whole history)."""
    voltage = voltage.copy()
    for event in events:
        start = max(event.start - offset, 0)
        stop = min(event.start + event.length - offset, len(voltage))
        if start >= stop:
            continue
        if event.kind == "outage":
            voltage[start:stop] = 0.0
        else:
            voltage[start:stop] = event.level + rng.normal(0.0, 0.6, stop - start)
    return voltage


# ------------------------------------------------------------------------ public
CHUNK_ROWS = 60_480
"""Readings generated at a time: a week at 10 s (about 40 MB while seeding)."""


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
    return pd.concat(list(history_chunks(model, end, days=days, step_s=step_s,
                                         events=events)))


def history_chunks(
    model: SiteModel,
    end: Any = None,
    *,
    days: float = 30,
    step_s: int = 60,
    events: bool = True,
) -> Iterator[pd.DataFrame]:
    """:func:`history` in consecutive pieces of at most :data:`CHUNK_ROWS`
    readings, oldest first: a long history at a short interval is stored piece by
    piece instead of held in memory whole. The pieces make exactly :func:`history`.
    """
    step_ms = int(step_s * 1000)
    if end is None:
        end_ms = int(time.time() * 1000) // step_ms * step_ms
    else:
        stamp = pd.Timestamp(end)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        end_ms = int(stamp.value // 1_000_000)
    n = int(round(days * 86400 / step_s))
    plan = plan_events(n, step_s, model.nominal_voltage, model.seed) if events else []
    for first in range(0, max(n, 1), CHUNK_ROWS):  # n == 0: one empty piece
        index = np.arange(first, min(n, first + CHUNK_ROWS), dtype="int64")
        ts_ms = end_ms - (n - 1 - index) * step_ms
        rng = np.random.default_rng([model.seed, 1, n, first])
        physics = power_profile(model, ts_ms - step_ms // 2, rng)
        if plan:
            physics["voltage"] = _apply_events(physics["voltage"], plan, rng, first)
        yield _readings_frame(model, ts_ms, step_s, physics, rng)


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
    stamps = iso_utc_many(frame.index)
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


__all__ = [
    "DEFAULT_SEED",
    "MINUTE_MS",
    "SiteModel",
    "VoltageEvent",
    "frame_records",
    "history",
    "history_chunks",
    "plan_events",
    "power_profile",
    "reading_at",
    "solar_elevation",
]
