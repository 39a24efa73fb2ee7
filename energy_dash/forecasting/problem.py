"""One forecasting problem: the history, its future slots and what is known about
both (calendar, the sun at the site, weather), computed once per call."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_dash.domain.solar import check_location, clear_sky
from energy_dash.forecasting import grid as g

logger = logging.getLogger(__name__)

NIGHT_DAYS = 14
PROFILE_DAYS = 28
WEATHER_BOUNDS = {  # physical range and unit of each column, bounds included
    "ghi": (0.0, 1500.0, "W/m²"),  # above the solar constant (1361) with margin
    "cloud_cover": (0.0, 100.0, "%"),
    "temperature": (-90.0, 60.0, "°C"),  # records: -89.2 and 56.7
}
WEATHER_COLUMNS = tuple(WEATHER_BOUNDS)


@dataclass
class Problem:
    """History plus the future slots; positions ``>= n`` are the future."""

    y: np.ndarray  # history values followed by NaN for the future
    n: int
    horizon: int
    index: pd.DatetimeIndex  # history + future, tz-aware in the history's zone
    future: pd.DatetimeIndex
    grid: g.Grid
    production: bool
    country: str | None
    offday: np.ndarray
    slots: np.ndarray  # local minute of day
    utc_slots: np.ndarray  # UTC minute of day (the sun's clock)
    location: tuple[float, float] | None = None
    ghi_clear: np.ndarray | None = None  # mean clear-sky GHI per interval [W/m²]
    sun_up: np.ndarray | None = None
    weather: pd.DataFrame | None = None  # on positions; only usable columns
    cache: dict = field(default_factory=dict)  # work the models share per origin

    @property
    def spd(self) -> int:
        return self.grid.steps_per_day

    def targets(self, cutoff: int) -> np.ndarray:
        return np.arange(cutoff, cutoff + self.horizon)

    def actual(self, cutoff: int) -> np.ndarray:
        return self.y[cutoff : cutoff + self.horizon]

    def night(self, cutoff: int, positions: np.ndarray) -> np.ndarray:
        """Positions where production is exactly zero by construction.

        With a location: the sun stays below the horizon for the whole interval.
        Without: the local time-of-day slot was near zero on each of the last 14
        days before ``cutoff``.
        """
        if not self.production:
            return np.zeros(len(positions), dtype=bool)
        if self.sun_up is not None:
            return ~self.sun_up[positions]
        start = max(0, cutoff - NIGHT_DAYS * self.spd)
        y, slots = self.y[start:cutoff], self.slots[start:cutoff]
        ok = np.isfinite(y)
        night = np.zeros(g.SLOTS, dtype=bool)
        if ok.sum():
            thr = 0.01 * float(np.percentile(np.abs(y[ok]), 99))
            near = (np.abs(y) <= thr) & ok
            seen = np.bincount(slots[ok], minlength=g.SLOTS)
            near_count = np.bincount(slots[near], minlength=g.SLOTS)
            night = (seen >= 3) & (near_count == seen)
        return night[self.slots[positions]]

    def clean(self, values: np.ndarray, cutoff: int) -> np.ndarray:
        """Production post-processing: clip at 0, exact 0 at night."""
        if not self.production:
            return values
        out = np.maximum(values, 0.0)
        out[self.night(cutoff, self.targets(cutoff))] = 0.0
        return out

    def scale(self, cutoff: int) -> np.ndarray:
        """Residual scale over the targets of ``cutoff`` (1 for consumption).

        Production errors grow with the sun: with a location they are measured
        in units of clear-sky irradiance, without one in units of the mean
        level of the time-of-day slot over the last four weeks.
        """
        pos = self.targets(cutoff)
        if not self.production:
            return np.ones(len(pos))
        if self.ghi_clear is not None:
            return np.maximum(self.ghi_clear[pos], 50.0) / 1000.0
        start = max(0, cutoff - PROFILE_DAYS * self.spd)
        y, slots = self.y[start:cutoff], self.slots[start:cutoff]
        ok = np.isfinite(y)
        total = np.bincount(slots[ok], weights=np.abs(y[ok]), minlength=g.SLOTS)
        count = np.bincount(slots[ok], minlength=g.SLOTS)
        mean = np.divide(total, count, out=np.zeros(g.SLOTS), where=count > 0)
        top = mean.max()
        if top <= 0:
            return np.ones(len(pos))
        return np.maximum(mean, 0.1 * top)[self.slots[pos]]


def _weather_frame(
    weather: object, index: pd.DatetimeIndex, n: int
) -> pd.DataFrame | None:
    if weather is None:
        return None
    if not isinstance(weather, pd.DataFrame):
        raise ValueError("weather must be a pandas DataFrame indexed by time")
    if not isinstance(weather.index, pd.DatetimeIndex) or weather.index.tz is None:
        raise ValueError("weather must have a tz-aware DatetimeIndex")
    columns = [c for c in WEATHER_COLUMNS if c in weather.columns]
    if not columns:
        raise ValueError(
            f"weather has none of the columns {', '.join(WEATHER_COLUMNS)}"
        )
    frame = weather[columns].apply(pd.to_numeric, errors="coerce")
    frame = frame[~frame.index.duplicated()].sort_index()
    aligned = frame.reindex(index.tz_convert(frame.index.tz))
    _check_bounds(aligned, index)
    aligned.index = pd.RangeIndex(len(index))
    usable = [c for c in columns if aligned[c].iloc[n:].notna().all()]
    if not usable:
        logger.info("weather ignored: no column covers the whole horizon")
        return None
    return aligned[usable]


def _check_bounds(aligned: pd.DataFrame, index: pd.DatetimeIndex) -> None:
    """ValueError for a weather value the forecast would use outside its physical
    range (a unit or sensor error would otherwise steer the forecast); NaN is
    missing and stays allowed."""
    for column in aligned.columns:
        low, high, unit = WEATHER_BOUNDS[column]
        values = aligned[column].to_numpy(dtype=float)
        bad = (values < low) | (values > high)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(
                f"weather {column} must be from {low:g} to {high:g} {unit} (NaN if "
                f"missing): {values[first]:g} at {index[first]}"
            )


def setup(
    history: pd.Series,
    horizon: int,
    *,
    nonnegative: bool | None,
    country: str | None,
    location: object = None,
    weather: object = None,
) -> Problem:
    """Validate the inputs and compute everything the models share."""
    horizon = g.validate_horizon(horizon)
    series, grid = g.validate(history)
    g.check_country(country)
    loc = None if location is None else check_location(location)
    hist = series.to_numpy(dtype=float)
    if nonnegative is None:
        nonnegative = g.looks_like_production(hist)
    future = g.future_index(series.index, grid, horizon)
    index = series.index.append(future)
    problem = Problem(
        y=np.concatenate([hist, np.full(horizon, np.nan)]),
        n=len(hist),
        horizon=horizon,
        index=index,
        future=future,
        grid=grid,
        production=bool(nonnegative),
        country=country,
        offday=g.offdays(index, country),
        slots=g.local_slots(index),
        utc_slots=g.utc_slots(index),
        weather=_weather_frame(weather, index, len(hist)),
    )
    if loc is not None and problem.production:
        sky = clear_sky(index, g.interval_ends(index, grid), *loc)
        problem.location = loc
        problem.ghi_clear = sky["ghi_clear"].to_numpy()
        problem.sun_up = sky["sun_up"].to_numpy()
    return problem
