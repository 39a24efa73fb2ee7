"""Point forecasts of each candidate model at a list of forecast origins.

Every function takes the problem and origins (``cutoff`` = number of history
points the model may see) and returns an array ``(len(cutoffs), horizon)``.
No model ever reads a value at or after its cutoff.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from energy_dash.forecasting.problem import Problem

logger = logging.getLogger(__name__)

MSTL_WINDOW_DAYS = 84
PROPHET_WINDOW_DAYS = 56
PROPHET_REFIT_DAYS = 7
SOLAR_PROFILE_DAYS = 28
SOLAR_INDEX_DAYS = 14
MAX_CLEAR_SKY_INDEX = 1.5
# LOESS evaluated every few points and interpolated, as R's stl() does by
# default: 2-3x faster than statsmodels' every-point default, same forecasts.
STL_JUMPS = {"seasonal_jump": 2, "trend_jump": 10, "low_pass_jump": 10}


# ----------------------------------------------------------------- baselines
def seasonal_naive_values(values: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last ``season`` values; gaps come from earlier seasons."""
    n = len(values)
    if season < 1 or n < season:
        raise ValueError(
            f"seasonal naive needs at least one season of history ({season} steps), "
            f"got {n}"
        )
    cycles = min(n // season, 8)
    block = values[n - cycles * season :].reshape(cycles, season)
    last = block[-1].copy()
    for row in block[-2::-1]:  # fill gaps from earlier seasons, most recent first
        gaps = np.isnan(last)
        if not gaps.any():
            break
        last[gaps] = row[gaps]
    if np.isnan(last).any():
        last[np.isnan(last)] = np.nanmean(values)
    return np.tile(last, math.ceil(horizon / season))[:horizon]


def naive(p: Problem, cutoffs: list[int], season: int) -> np.ndarray:
    return np.array(
        [seasonal_naive_values(p.y[:c], p.horizon, season) for c in cutoffs]
    )


# ---------------------------------------------------------------------- MSTL
def _filled(window: np.ndarray, season: int) -> np.ndarray:
    """Gaps filled: same time one season earlier, then linear interpolation."""
    s = pd.Series(window)
    if s.isna().any():
        s = s.fillna(s.shift(season)).interpolate(limit_direction="both")
    return s.fillna(float(np.nanmean(window))).to_numpy(dtype=float)


def mstl_seasons(p: Problem, length: int) -> list[int]:
    """Daily and weekly seasons that at least two full cycles of data support."""
    if p.spd == 1:
        candidates = [7, 365]
    else:
        candidates = [p.spd, 7 * p.spd]
    return [s for s in candidates if length >= 2 * s]


def _decomposed(
    p: Problem, cutoff: int, horizon: int, defaults: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Deseasonalised history and the seasons' continuation at ``cutoff``.

    The LOESS decomposition is the costly part of MSTL and is the same for every
    trend forecaster, so it is computed once per origin and shared (cached on
    the problem) by ``mstl`` and ``mstl_ets``.
    """
    key = ("mstl", cutoff, horizon, defaults)
    if key in p.cache:
        return p.cache[key]
    from statsforecast.mstl import mstl as decompose

    start = 0 if defaults else max(0, cutoff - MSTL_WINDOW_DAYS * p.spd)
    seasons = mstl_seasons(p, cutoff - start)
    y = _filled(p.y[start:cutoff], seasons[-1] if seasons else 1)
    parts = decompose(y, seasons, stl_kwargs={} if defaults else STL_JUMPS)
    adjusted = parts[["trend", "remainder"]].sum(axis=1).to_numpy(dtype=float)
    future = np.zeros(horizon)
    for column, season in zip(
        [c for c in parts.columns if c.startswith("seasonal")], sorted(seasons),
        strict=True,
    ):
        last = parts[column].to_numpy(dtype=float)[-season:]
        future += np.tile(last, math.ceil(horizon / season))[:horizon]
    p.cache[key] = (adjusted, future)
    return adjusted, future


def _mstl_fit(
    p: Problem, cutoff: int, horizon: int, *, trend: str = "ar", defaults: bool = False
) -> np.ndarray:
    """One MSTL forecast at ``cutoff``: seasons repeated plus a forecast of the
    deseasonalised rest by an AR(3) with mean (``trend="ar"``) or AutoETS with
    additive errors (``"ets"``; ``defaults`` is statsforecast's MSTL as shipped:
    AutoETS of any form, all history, LOESS at every point)."""
    from statsforecast.models import ARIMA, AutoETS

    adjusted, seasonal = _decomposed(p, cutoff, horizon, defaults)
    if trend == "ar" and not defaults:
        try:
            model = ARIMA(order=(3, 0, 0), include_mean=True)
            return seasonal + np.asarray(
                model.forecast(y=adjusted, h=horizon)["mean"], dtype=float
            )
        except Exception as exc:  # a degenerate window: the ETS trend always fits
            logger.info("MSTL with ARIMA trend failed (%s); AutoETS trend used", exc)
    # Additive errors for the tuned trend: the rest of an additive decomposition
    # has no level that scales its noise, and the multiplicative forms never won
    # on demo or real load, while fitting them was a third of the refresh's CPU.
    model = AutoETS(model="ZZN" if defaults else "AZN")
    return seasonal + np.asarray(
        model.forecast(y=adjusted, h=horizon)["mean"], dtype=float
    )


def mstl(
    p: Problem, cutoffs: list[int], *, trend: str = "ar", defaults: bool = False
) -> np.ndarray:
    """statsforecast's MSTL (daily + weekly seasons) on the last 12 weeks before
    each origin, one fit per origin (selection and intervals need the errors of
    the very forecast that is shown, not of an older one).

    Two trend forecasters compete in ``auto`` on one shared decomposition: a
    stationary AR(3) with mean (weather and event deviations decay back to the
    level; 3 % better than AutoETS on real half-hourly demand) and AutoETS
    (follows a level that persists; 23 % better on the demo's consumption).
    """
    return np.array(
        [_mstl_fit(p, c, p.horizon, trend=trend, defaults=defaults) for c in cutoffs]
    )


# ------------------------------------------------------------------- Prophet
def prophet_config(p: Problem, *, defaults: bool = False) -> dict[str, Any]:
    """Prophet set up for the series' resolution.

    Fourier order of each daily profile: ``steps_per_day // 2 - 1`` up to 25
    (11 hourly, 23 half-hourly), against Prophet's default of 4 that cannot draw
    a morning and an evening peak. Weekly order 3; temperature from the weather
    frame as a regressor when given.
    """
    if defaults:
        return {"defaults": True}
    spd = p.spd
    regressors = []
    if p.weather is not None and "temperature" in p.weather:
        regressors.append("temperature")
    return {
        "daily_order": min(25, spd // 2 - 1) if spd >= 4 else 0,
        "weekly_order": 3,
        "seasonality_mode": "additive",
        "country": p.country,
        "regressors": regressors,
    }


def prophet_frames(
    p: Problem, start: int, cutoff: int, end: int, config: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on ``[start, cutoff)``, predict ``[cutoff, end)``; ``ds`` is naive
    local wall time of the series' own zone."""
    ds = p.index.tz_localize(None)

    def frame(lo: int, hi: int, with_y: bool) -> pd.DataFrame:
        data: dict[str, Any] = {"ds": ds[lo:hi]}
        if with_y:
            data["y"] = p.y[lo:hi]
        if not config.get("defaults"):
            data["offday"] = p.offday[lo:hi]
            data["workday"] = ~p.offday[lo:hi]
            for name in config.get("regressors", ()):
                data[name] = p.weather[name].to_numpy()[lo:hi]
        out = pd.DataFrame(data)
        if with_y:
            keep = out["y"].notna()
            for name in config.get("regressors", ()):
                keep &= out[name].notna()
            out = out[keep]
        return out

    return frame(start, cutoff, True), frame(cutoff, end, False)


def prophet_tasks(
    p: Problem, cutoffs: list[int], config: dict[str, Any]
) -> tuple[list[tuple], list[tuple[int, int]]]:
    """Fit tasks and, per cutoff, ``(task number, offset into its prediction)``.

    Consecutive origins within a week share one fit made at the first of them:
    the later origins then use a model that has not seen their last days, which
    can only make the backtest pessimistic, never leak the future.
    """
    window = PROPHET_WINDOW_DAYS * p.spd
    refit = PROPHET_REFIT_DAYS * p.spd
    tasks: list[tuple] = []
    where: list[tuple[int, int]] = []
    block_start: int | None = None
    block: list[int] = []

    def flush() -> None:
        if not block:
            return
        first = block[0]
        end = block[-1] + p.horizon
        train, future = prophet_frames(p, max(0, first - window), first, end, config)
        tasks.append((train, future, config))
        where.extend((len(tasks) - 1, c - first) for c in block)

    for c in sorted(cutoffs):
        if block_start is None or c - block_start >= refit or c == p.n:
            flush()
            block_start, block = c, [c]
        else:
            block.append(c)
    flush()
    order = {c: i for i, c in enumerate(sorted(cutoffs))}
    return tasks, [where[order[c]] for c in cutoffs]


def prophet_points(
    p: Problem, results: list[np.ndarray], where: list[tuple[int, int]]
) -> np.ndarray:
    return np.array([results[t][off : off + p.horizon] for t, off in where])


# --------------------------------------------------------------------- solar
def _solar_profile(
    p: Problem, cutoff: int, irradiance: np.ndarray, quantile: float = 0.9
) -> np.ndarray:
    """Production per unit of irradiance per UTC time-of-day slot [unit per W/m²].

    Against clear-sky irradiance: the 90th percentile over the last four weeks
    of ``y / irradiance`` in each slot, i.e. the orientation of the array and
    the clearest days of the month, without knowing either. Against measured or
    forecast irradiance: the median. Slots with fewer than 3 samples use the
    overall value.
    """
    start = max(0, cutoff - SOLAR_PROFILE_DAYS * p.spd)
    y = p.y[start:cutoff]
    irr = irradiance[start:cutoff]
    slots = p.utc_slots[start:cutoff]
    top = np.nanmax(irradiance[:cutoff])  # the history only: no look-ahead
    ok = np.isfinite(y) & np.isfinite(irr) & (irr > 0.05 * top)
    ratio = np.full(24 * 60, np.nan)
    if not ok.any():
        return ratio
    q = y[ok] / irr[ok]
    overall = float(np.quantile(q, quantile))
    ratio[:] = overall
    frame = pd.DataFrame({"slot": slots[ok], "q": q})
    grouped = frame.groupby("slot")["q"]
    counts = grouped.size()
    high = grouped.quantile(quantile)[counts >= 3]
    ratio[high.index.to_numpy()] = high.to_numpy()
    return ratio


def _daily_indices(p: Problem, cutoff: int, expected: np.ndarray) -> np.ndarray:
    """Clear-sky index of each of the last four weeks of 24-hour blocks before
    ``cutoff`` (measured / clear-sky production over the block's sunlit
    points), oldest first; NaN for a block without enough data."""
    top = max(float(np.nanmax(expected[:cutoff])), 1e-12)
    out = []
    for j in range(SOLAR_PROFILE_DAYS, 0, -1):
        lo, hi = cutoff - j * p.spd, cutoff - (j - 1) * p.spd
        if lo < 0:
            continue
        y, e = p.y[lo:hi], expected[lo:hi]
        ok = np.isfinite(y) & (e > 0.05 * top)
        total = float(np.sum(e[ok]))
        out.append(float(np.sum(y[ok])) / total if ok.sum() >= 3 and total > 0
                   else np.nan)
    return np.array(out)


def _persistence(indices: np.ndarray) -> float:
    """Lag-1 autocorrelation of the daily clear-sky index, clipped to [0, 1]:
    how much of yesterday's cloudiness carries over to the next day at this
    site (0 with fewer than 7 pairs)."""
    a, b = indices[:-1], indices[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 7 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.clip(np.corrcoef(a[ok], b[ok])[0, 1], 0.0, 1.0))


def _index_forecast(p: Problem, cutoff: int, expected: np.ndarray) -> np.ndarray:
    """Clear-sky index for the targets: the per-slot median of the last two
    weeks, moved towards the last 24 hours by the site's day-to-day
    persistence of cloudiness (the optimal linear one-day-ahead predictor of an
    AR(1) index; 0 persistence is the median, 1 is smart persistence)."""
    start = max(0, cutoff - SOLAR_INDEX_DAYS * p.spd)
    e = expected[start:cutoff]
    y = p.y[start:cutoff]
    ok = np.isfinite(y) & (e > 0.05 * max(float(np.nanmax(expected[:cutoff])), 1e-12))
    pos = p.targets(cutoff)
    if not ok.any():
        return np.ones(len(pos))
    kappa = np.clip(y[ok] / e[ok], 0.0, MAX_CLEAR_SKY_INDEX)
    frame = pd.DataFrame({"slot": p.utc_slots[start:cutoff][ok], "k": kappa})
    by_slot = frame.groupby("slot")["k"].median()
    table = np.full(24 * 60, float(np.median(kappa)))
    table[by_slot.index.to_numpy()] = by_slot.to_numpy()
    base = table[p.utc_slots[pos]]
    daily = _daily_indices(p, cutoff, expected)
    recent = daily[-SOLAR_INDEX_DAYS:]
    reference = float(np.nanmedian(recent)) if np.isfinite(recent).any() else np.nan
    if not daily.size or not np.isfinite(daily[-1]) or not reference > 0:
        return base
    factor = 1.0 + _persistence(daily) * (daily[-1] / reference - 1.0)
    return np.clip(base * factor, 0.0, MAX_CLEAR_SKY_INDEX)


def solar(p: Problem, cutoffs: list[int]) -> np.ndarray:
    """Clear-sky production at the site times a forecast clear-sky index.

    Clear-sky production = clear-sky GHI (pvlib, the site's position) times the
    array's per-slot response learned from history; the index is the per-slot
    median of measured / clear-sky production over the last two weeks, moved
    towards the last day's as far as cloudiness persists at the site. Zero
    whenever the sun is below the horizon, because clear-sky GHI is.
    """
    assert p.ghi_clear is not None
    out = []
    for c in cutoffs:
        ratio = _solar_profile(p, c, p.ghi_clear)
        expected = p.ghi_clear * np.nan_to_num(ratio[p.utc_slots])
        pos = p.targets(c)
        out.append(expected[pos] * _index_forecast(p, c, expected))
    return np.array(out)


def solar_weather(p: Problem, cutoffs: list[int]) -> np.ndarray:
    """Solar model driven by the weather frame: GHI directly, else cloud cover.

    With ``ghi`` [W/m²]: the array's per-slot response to measured/forecast GHI.
    With ``cloud_cover`` [%]: clear-sky production times a clear-sky index
    fitted as a straight line of cloud cover over the last four weeks.
    """
    assert p.ghi_clear is not None and p.weather is not None
    out = []
    for c in cutoffs:
        pos = p.targets(c)
        if "ghi" in p.weather:
            ghi = np.clip(p.weather["ghi"].to_numpy(dtype=float), 0.0, None)
            ratio = np.nan_to_num(_solar_profile(p, c, ghi, 0.5)[p.utc_slots])
            out.append(ratio[pos] * ghi[pos])
            continue
        cover = p.weather["cloud_cover"].to_numpy(dtype=float) / 100.0
        ratio = np.nan_to_num(_solar_profile(p, c, p.ghi_clear)[p.utc_slots])
        expected = p.ghi_clear * ratio
        start = max(0, c - SOLAR_PROFILE_DAYS * p.spd)
        e, y, cc = expected[start:c], p.y[start:c], cover[start:c]
        ok = np.isfinite(y) & np.isfinite(cc) & (e > 0.05 * max(np.nanmax(e), 1e-12))
        if ok.sum() >= 10:
            k = np.clip(y[ok] / e[ok], 0.0, MAX_CLEAR_SKY_INDEX)
            slope, intercept = np.polyfit(cc[ok], k, 1)
        else:
            slope, intercept = -0.75, 1.0
        kappa = np.clip(intercept + slope * cover[pos], 0.0, MAX_CLEAR_SKY_INDEX)
        out.append(expected[pos] * kappa)
    return np.array(out)
