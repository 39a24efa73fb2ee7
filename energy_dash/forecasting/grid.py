"""The time grid of a forecast: input validation, future index, local slots.

Every model of the package works on positions of one regular grid (a fixed step
that divides a day, or local calendar days), so these rules live here once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
SLOTS = 24 * 60  # minute-of-day slots
ZERO_SHARE_PRODUCTION = 0.25


@dataclass(frozen=True)
class Grid:
    """Step of the series: ``step`` is None for local calendar days."""

    step: pd.Timedelta | None
    steps_per_day: int

    @property
    def steps_per_week(self) -> int:
        return 7 * self.steps_per_day

    def steps(self, span: pd.Timedelta) -> int:
        """Number of steps in ``span`` (rounded)."""
        return int(round(span / DAY * self.steps_per_day))


def validate_horizon(horizon: object) -> int:
    """``horizon`` as a positive int, or ValueError naming what is wrong."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise ValueError(f"horizon must be an integer number of steps, got {horizon!r}")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 step, got {horizon}")
    return int(horizon)


def validate(history: pd.Series) -> tuple[pd.Series, Grid]:
    """Float values of ``history`` and its grid; ValueError for unusable input."""
    if not isinstance(history, pd.Series):
        raise ValueError("history must be a pandas Series indexed by time")
    index = history.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("history must have a DatetimeIndex")
    if index.tz is None:
        raise ValueError(
            "history index must be tz-aware (e.g. series.tz_localize('UTC') or "
            "tz_convert('Europe/Berlin'))"
        )
    if len(index) < 3:
        raise ValueError("history needs at least 3 points")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError(
            "history index must be strictly increasing (sort it, drop duplicates)"
        )
    try:
        values = pd.to_numeric(history, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"history values must be numeric: {exc}") from exc
    infinite = np.isinf(values.to_numpy())
    if infinite.any():  # NaN is a gap the models fill; ±inf would spread to yhat
        first = int(np.argmax(infinite))
        raise ValueError(
            f"history values must be finite or NaN (missing): {values.iloc[first]} "
            f"at {index[first]}"
        )
    if values.notna().sum() < 3:
        raise ValueError("history has fewer than 3 non-missing values")
    diffs = index[1:] - index[:-1]
    local = index.tz_localize(None)
    # Days at one local wall time are calendar days even when the history holds
    # no clock change (then every step is also 24 h): its future may hold one.
    if ((local[1:] - local[:-1]) == DAY).all():
        grid = Grid(step=None, steps_per_day=1)
    elif (diffs == diffs[0]).all():
        step = pd.Timedelta(diffs[0])
        if step > DAY or DAY % step != pd.Timedelta(0):
            raise ValueError(
                f"history step {step} must divide one day (e.g. 15min, 1h, 1D)"
            )
        grid = Grid(step=step, steps_per_day=int(DAY // step))
    else:
        raise ValueError(
            "history index must be regular (one fixed step, or local calendar "
            "days); resample or reindex it first"
        )
    return values.rename(history.name), grid


def local_wall_times(naive: pd.DatetimeIndex, tz: tzinfo) -> pd.DatetimeIndex:
    """Calendar-day wall times placed in ``tz``: a repeated time is its first
    occurrence, a skipped one moves forward to when the clock resumes."""
    return naive.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )


def future_index(index: pd.DatetimeIndex, grid: Grid, horizon: int) -> pd.DatetimeIndex:
    """Continue ``index`` by ``horizon`` steps: calendar days at the history's
    local wall time, fixed steps in UTC (so DST days get 23 or 25 hours exactly
    as the input does)."""
    if grid.step is None:
        last = index[-1].tz_localize(None)
        days = pd.date_range(start=last, periods=horizon + 1, freq="D")[1:]
        out = local_wall_times(days, index.tz)
    else:
        start = index[-1].tz_convert("UTC") + grid.step
        out = pd.date_range(start=start, periods=horizon, freq=grid.step)
        out = out.tz_convert(index.tz)
    return out.rename(index.name)


def interval_ends(index: pd.DatetimeIndex, grid: Grid) -> pd.DatetimeIndex:
    """End of the interval each timestamp starts (labels are interval starts)."""
    if grid.step is not None:
        return index + grid.step
    return local_wall_times(index.tz_localize(None) + DAY, index.tz)


def local_slots(index: pd.DatetimeIndex) -> np.ndarray:
    """Local minute-of-day of each timestamp (in the index's own zone)."""
    return (index.hour * 60 + index.minute).to_numpy(dtype=np.int64)


def utc_slots(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC minute-of-day: the sun keeps UTC time, not daylight-saving time."""
    utc = index.tz_convert("UTC")
    return (utc.hour * 60 + utc.minute).to_numpy(dtype=np.int64)


def looks_like_production(values: np.ndarray) -> bool:
    """Solar-like: never negative and at least a quarter exact zeros (nights)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.min() < 0:
        return False
    return float(np.mean(finite == 0.0)) >= ZERO_SHARE_PRODUCTION


def offdays(index: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    """Weekend or public holiday (local calendar) per timestamp."""
    off = index.day_of_week.to_numpy() >= 5
    if country:
        import holidays

        local_days = index.tz_localize(None).normalize()
        years = range(local_days[0].year, local_days[-1].year + 1)
        dates = pd.DatetimeIndex(list(holidays.country_holidays(country, years=years)))
        off |= local_days.isin(dates)
    return off


def check_country(country: str | None) -> None:
    """ValueError for a holiday country the ``holidays`` package does not know."""
    if country is None:
        return
    import holidays

    try:
        holidays.country_holidays(country)
    except (NotImplementedError, KeyError) as exc:
        raise ValueError(f"unknown holiday country {country!r}") from exc
