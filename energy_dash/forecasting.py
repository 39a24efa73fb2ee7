"""Forecasts of energy series: Prophet tuned for energy data, seasonal-naive baselines.

Pure functions: a ``pd.Series`` in, a forecast frame or a dict of figures out.
No database, no Dash, no Flask; importing this module does not import Prophet.

Public API (CONTRACT.md §9)
---------------------------
``forecast(history, horizon, *, model="auto", ...) -> pd.DataFrame``
    The next ``horizon`` steps at the history's frequency: columns ``yhat``,
    ``yhat_lower``, ``yhat_upper`` (an 80 % interval) on a tz-aware index that
    continues the history. ``frame.attrs``:

    ``model``            the model that produced the numbers (see ``FORECAST_MODELS``)
    ``requested_model``  what the caller asked for
    ``interval``         0.8
    ``nonnegative``      whether production post-processing was applied
    ``backtest``         ``{"mae", "wape", "coverage", "skill_vs_naive", "folds"}`` of
                         the chosen model (absent for a plain baseline request)
    ``candidates``       ``{name: backtest MAE}`` of everything compared
    ``prophet_config``   ``{"seasonality_mode", "lag_week", "country", ...}`` when
                         Prophet contributed
    ``fallback_reason``  only when a Prophet fit failed or timed out and the best
                         baseline was used instead ("prophet fit timed out after
                         60 s", "prophet failed: ...")
    ``note``             only when "auto" had to narrow its choice (too little
                         history for Prophet or for a backtest)

``backtest(history, horizon, *, folds=7, model="auto", ...) -> dict``
    Rolling-origin evaluation over the last ``folds`` non-overlapping windows of
    ``horizon`` steps: ``mae``, ``rmse``, ``mape``, ``wape``, ``coverage``,
    ``skill_vs_naive`` (fold averages), plus ``model``, ``folds``, ``horizon``,
    ``baselines`` / ``candidates`` (MAE per name), ``cutoffs``.

Models
------
``seasonal_naive_day`` / ``seasonal_naive_week``
    Repeat the last day / week (step-based: on the day of a DST change the
    day baseline is one hour off; it is a baseline).
``prophet``
    Linear trend, weekly seasonality, and separate daily profiles for working
    days and off days (weekends, plus public holidays when ``country`` is
    given: an energy series on a holiday looks like a Sunday), Fourier order
    ``min(15, steps_per_day // 2 - 1)``. Additive vs multiplicative seasonality
    and an additive "same time last week" regressor (only when ``horizon`` is at
    most one week, so the regressor is known) are chosen by backtest.
    ``ds`` is naive local time of the history's own zone; the output index is
    built by continuing the tz-aware index in UTC and converting back, so DST
    changes produce 23- and 25-hour days exactly as the input does.
``ensemble``
    Mean of the Prophet forecast and the best seasonal-naive forecast.
``auto``
    Backtests the baselines, the Prophet variants and the ensemble on the same
    folds and takes the lowest MAE. Baselines come first in the comparison, so
    on a tie the simpler model wins, and by construction the chosen model is
    never worse (MAE) than the best seasonal-naive baseline in its own backtest
    (the figure is the best of several on the same folds, so it is slightly
    optimistic; it is not a nested backtest).

Affordability
-------------
Backtest fits of Prophet see at most the last ``BACKTEST_WINDOW`` (8 weeks) before
each cutoff; the final fit sees at most ``MAX_TRAIN`` (400 days). Fits run with
``uncertainty_samples=0`` and no MCMC: intervals come from backtest residuals
instead (below), which is faster and calibrated on real out-of-sample errors
rather than on Prophet's simulated trend uncertainty.

Intervals (conformal-style)
---------------------------
The 80 % interval is ``yhat`` plus the empirical 10th and 90th percentiles of
out-of-sample residuals, pooled over the horizon steps:

* baselines: their rolling residuals over the last 8 weeks of history (a
  baseline has nothing to fit, so every past point is out of sample);
* Prophet and the ensemble: the residuals of the backtest folds (in
  ``backtest``, each fold is scored with the residuals of the *other* folds).

For production series the residuals are divided by the mean level of their
time-of-day slot, so the band is wide at noon and narrow at dawn.

Production (solar) series
-------------------------
``nonnegative=None`` detects them (minimum >= 0 and at least 25 % exact zeros).
Forecasts and bounds are then clipped at 0 and forced to exactly 0 in every
time-of-day slot that was near zero (<= 1 % of the 99th percentile) on every one
of the last 14 days of history (night). ``coverage`` leaves those forced night
points out (an interval of [0, 0] around an actual 0 proves nothing), so it
measures the daytime interval; ``wape`` is the accuracy figure to read.

Timeouts
--------
Every Prophet fit runs in a worker process started with the ``forkserver``
method (``spawn`` where unavailable; the fork server preloads Prophet once, so
each fit starts in milliseconds, and it is safe to use from threaded servers and
schedulers, unlike a plain ``fork``). The worker leads its own process group, so
on the deadline the whole group - including CmdStan's optimizer executable - is
killed with SIGKILL. A thread could not be stopped and would keep burning CPU.
Up to ``n_jobs`` fits run at once; each deadline counts from its worker's start,
and the first failure or timeout stops the call's remaining Prophet fits (so a
stuck optimiser costs one timeout, not one per fold). ``timeout=None`` fits
in-process without a deadline (debugging). Callers inside a daemonic process
cannot start workers; that surfaces as a fallback with the reason. As with any
``forkserver``/``spawn`` user, each worker imports the caller's ``__main__``
module: a script that calls ``forecast`` must keep its work under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("seasonal_naive_day", "seasonal_naive_week")
"""Names of the seasonal-naive baselines."""

FORECAST_MODELS: tuple[str, ...] = ("auto", "prophet", "ensemble", *BASELINES)
"""Names accepted by ``forecast(model=...)`` and ``backtest(model=...)``."""

INTERVAL = 0.8
DEFAULT_TIMEOUT = 60.0
BACKTEST_WINDOW = pd.Timedelta(days=56)
MAX_TRAIN = pd.Timedelta(days=400)
PROPHET_MIN_HISTORY = pd.Timedelta(days=14)
NIGHT_DAYS = 14
PROFILE_DAYS = 28
ZERO_SHARE_PRODUCTION = 0.25
MIN_RESIDUALS = 10

_DAY = pd.Timedelta(days=1)
_SLOTS = 24 * 60  # minute-of-day slots


def _quiet_prophet_logging() -> None:
    """Silence the INFO chatter of cmdstanpy and prophet (call after importing)."""
    try:
        from cmdstanpy.utils.logging import get_logger

        get_logger()  # cached: it will not reset the level again later
    except Exception:  # pragma: no cover - only without cmdstanpy
        pass
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.forecaster"):
        logging.getLogger(name).setLevel(logging.WARNING)


# --------------------------------------------------------------------------
# Validation and the time grid
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    step: pd.Timedelta | None  # fixed length; None for calendar days
    steps_per_day: int

    @property
    def steps_per_week(self) -> int:
        return 7 * self.steps_per_day

    def steps(self, span: pd.Timedelta) -> int:
        return int(round(span / _DAY * self.steps_per_day))


def _validate_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise ValueError(f"horizon must be an integer number of steps, got {horizon!r}")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 step, got {horizon}")
    return int(horizon)


def _validate(history: pd.Series) -> tuple[pd.Series, _Grid]:
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
    if values.notna().sum() < 3:
        raise ValueError("history has fewer than 3 non-missing values")
    diffs = index[1:] - index[:-1]
    if (diffs == diffs[0]).all():
        step = pd.Timedelta(diffs[0])
        if step > _DAY or _DAY % step != pd.Timedelta(0):
            raise ValueError(
                f"history step {step} must divide one day (e.g. 15min, 1h, 1D)"
            )
        grid = _Grid(step=step, steps_per_day=int(_DAY // step))
    else:
        local = index.tz_localize(None)
        ldiffs = local[1:] - local[:-1]
        if not (ldiffs == _DAY).all():
            raise ValueError(
                "history index must be regular (one fixed step, or local calendar "
                "days); resample or reindex it first"
            )
        grid = _Grid(step=None, steps_per_day=1)
    return values.rename(history.name), grid


def _future_index(
    index: pd.DatetimeIndex, grid: _Grid, horizon: int
) -> pd.DatetimeIndex:
    """Continue ``index`` by ``horizon`` steps (in UTC for fixed steps)."""
    if grid.step is None:
        out = pd.date_range(start=index[-1], periods=horizon + 1, freq="D")[1:]
    else:
        start = index[-1].tz_convert("UTC") + grid.step
        out = pd.date_range(start=start, periods=horizon, freq=grid.step)
        out = out.tz_convert(index.tz)
    return out.rename(index.name)


def _slots(index: pd.DatetimeIndex) -> np.ndarray:
    """Local minute-of-day of each timestamp (in the index's own zone)."""
    return (index.hour * 60 + index.minute).to_numpy(dtype=np.int64)


def _is_production(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.min() < 0:
        return False
    return float(np.mean(finite == 0.0)) >= ZERO_SHARE_PRODUCTION


# --------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------


def _seasonal_naive_values(values: np.ndarray, horizon: int, season: int) -> np.ndarray:
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


def seasonal_naive(history: pd.Series, horizon: int, season_steps: int) -> pd.Series:
    """Repeat the last season of ``history`` for ``horizon`` steps.

    Parameters
    ----------
    history : pd.Series
        Values [unit of the series] on a tz-aware, regular DatetimeIndex.
    horizon : int
        Number of future steps [steps].
    season_steps : int
        Season length [steps], e.g. 24 for a day of hourly data. Missing values
        in the last season are taken from the same position one season earlier.

    Returns
    -------
    pd.Series
        Forecast [unit of the series] on the index continuing ``history``.

    Raises
    ------
    ValueError
        Invalid index, ``horizon < 1``, or fewer than ``season_steps`` points.
    """
    horizon = _validate_horizon(horizon)
    series, grid = _validate(history)
    values = _seasonal_naive_values(series.to_numpy(), horizon, int(season_steps))
    index = _future_index(series.index, grid, horizon)
    return pd.Series(values, index=index, name=history.name)


# --------------------------------------------------------------------------
# Residual quantiles
# --------------------------------------------------------------------------


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="mergesort")
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cdf, q, side="left"), len(v) - 1)])


def _band(
    residuals: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """10th/90th percentile of residuals, with the split-conformal n+1 correction."""
    ok = np.isfinite(residuals)
    r = residuals[ok]
    w = np.ones_like(r) if weights is None else weights[ok]
    n = len(r)
    if n < MIN_RESIDUALS:
        raise ValueError(
            f"history too short to calibrate the 80 % interval ({n} residuals, "
            f"need {MIN_RESIDUALS})"
        )
    alpha = (1.0 - INTERVAL) / 2.0
    hi = min(1.0, (1.0 - alpha) * (n + 1) / n)
    lo = max(0.0, 1.0 - hi)
    return _weighted_quantile(r, w, lo), _weighted_quantile(r, w, hi)


# --------------------------------------------------------------------------
# Per-origin context: night mask, residual scale, post-processing
# --------------------------------------------------------------------------


@dataclass
class _Series:
    """History plus the future slots, with everything computed once."""

    y: np.ndarray  # history values followed by NaN for the future
    n: int  # number of history points
    index: pd.DatetimeIndex  # history + future, tz-aware in the history's zone
    future: pd.DatetimeIndex  # the future part alone, with its freq
    grid: _Grid
    slots: np.ndarray
    nonneg: bool
    country: str | None
    offday: np.ndarray  # weekend or public holiday (local calendar)

    def origin(self, cutoff: int) -> _Origin:
        return _Origin(self, cutoff)


class _Origin:
    """A forecast origin: train on positions < cutoff, predict the next steps."""

    def __init__(self, s: _Series, cutoff: int) -> None:
        self.s = s
        self.cutoff = cutoff
        self.night = np.zeros(_SLOTS, dtype=bool)
        self.scale = np.ones(_SLOTS)
        if s.nonneg:
            self._production_profiles()

    def _window(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        s, c = self.s, self.cutoff
        start = max(0, c - days * s.grid.steps_per_day)
        return s.y[start:c], s.slots[start:c]

    def _production_profiles(self) -> None:
        y, slots = self._window(NIGHT_DAYS)
        ok = np.isfinite(y)
        if ok.sum():
            thr = 0.01 * float(np.percentile(np.abs(y[ok]), 99))
            near = (np.abs(y) <= thr) & ok
            seen = np.bincount(slots[ok], minlength=_SLOTS)
            near_count = np.bincount(slots[near], minlength=_SLOTS)
            self.night = (seen >= min(3, NIGHT_DAYS)) & (near_count == seen)
        y, slots = self._window(PROFILE_DAYS)
        ok = np.isfinite(y)
        total = np.bincount(slots[ok], weights=np.abs(y[ok]), minlength=_SLOTS)
        count = np.bincount(slots[ok], minlength=_SLOTS)
        mean = np.divide(total, count, out=np.zeros(_SLOTS), where=count > 0)
        top = mean.max()
        if top > 0:
            self.scale = np.maximum(mean, 0.1 * top)

    def targets(self, horizon: int) -> np.ndarray:
        return np.arange(self.cutoff, self.cutoff + horizon)

    def night_at(self, positions: np.ndarray) -> np.ndarray:
        return self.night[self.s.slots[positions]]

    def scale_at(self, positions: np.ndarray) -> np.ndarray:
        return self.scale[self.s.slots[positions]]

    def clean(self, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Production post-processing: clip at 0, exact 0 at night."""
        if not self.s.nonneg:
            return values
        out = np.maximum(values, 0.0)
        out[self.night_at(positions)] = 0.0
        return out

    def interval(
        self, point: np.ndarray, positions: np.ndarray, band: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        scale = self.scale_at(positions)
        lower = np.minimum(point + band[0] * scale, point)
        upper = np.maximum(point + band[1] * scale, point)
        return self.clean(lower, positions), self.clean(upper, positions)

    def naive_band(self, horizon: int, season: int) -> tuple[float, float]:
        """Band from the baseline's own rolling residuals before the cutoff."""
        s, c = self.s, self.cutoff
        window = s.grid.steps(BACKTEST_WINDOW)
        res, wts = [], []
        for m in range(math.ceil(horizon / season)):
            lag = season * (m + 1)
            count = min(season, horizon - m * season)  # lead steps using this lag
            t = np.arange(max(lag, c - window), c)
            if t.size == 0:
                continue
            point = self.clean(s.y[t - lag].copy(), t)
            r = (s.y[t] - point) / self.scale_at(t)
            keep = np.isfinite(r) & ~self.night_at(t)
            if keep.sum() == 0:
                continue
            res.append(r[keep])
            wts.append(np.full(keep.sum(), count / keep.sum()))
        if not res:
            raise ValueError(
                "history too short to calibrate the 80 % interval of the "
                f"seasonal naive baseline ({season} steps)"
            )
        return _band(np.concatenate(res), np.concatenate(wts))


# --------------------------------------------------------------------------
# Prophet, in a killable worker process
# --------------------------------------------------------------------------


class _TooShort(ValueError):
    """The history cannot give even one backtest fold."""


class _ProphetFailure(Exception):
    """A Prophet fit raised or ran out of time; the message is user-facing."""


def _prophet_fit_predict(
    train: pd.DataFrame, future: pd.DataFrame, config: dict[str, Any]
) -> np.ndarray:
    """Fit one Prophet model and return ``yhat`` for ``future`` (runs in a worker)."""
    from prophet import Prophet

    _quiet_prophet_logging()
    m = Prophet(
        growth="linear",
        yearly_seasonality=False,
        weekly_seasonality=config["weekly_order"],
        daily_seasonality=False,
        seasonality_mode=config["seasonality_mode"],
        uncertainty_samples=0,
        mcmc_samples=0,
    )
    order = config["daily_order"]
    if order:
        m.add_seasonality(
            "daily_workday", period=1, fourier_order=order, condition_name="workday"
        )
        m.add_seasonality(
            "daily_offday", period=1, fourier_order=order, condition_name="offday"
        )
    if config["country"]:
        m.add_country_holidays(country_name=config["country"])
    if config["lag_week"]:
        m.add_regressor("lag_week", mode="additive")
    with warnings.catch_warnings():
        # pandas deprecation notices raised inside Prophet's own code
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        m.fit(train)
        return m.predict(future)["yhat"].to_numpy(dtype=float)


def _fit_worker(conn: multiprocessing.connection.Connection, task: tuple) -> None:
    try:
        if hasattr(os, "setsid"):
            os.setsid()  # lead a process group: a kill reaches CmdStan too
        conn.send(("ok", _prophet_fit_predict(*task)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


_CONTEXT: Any = None


def _mp_context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__, "prophet"])
        else:  # pragma: no cover - Windows
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _stop(proc: Any) -> None:
    if proc.is_alive():
        if hasattr(os, "killpg"):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.kill()
    proc.join(5)


def _run_prophet(tasks: Sequence[tuple], timeout: float | None, n_jobs: int) -> list:
    """Run fits; raise ``_ProphetFailure`` on the first failure (others are killed)."""
    if timeout is None:
        out = []
        for task in tasks:
            try:
                out.append(_prophet_fit_predict(*task))
            except Exception as exc:
                raise _ProphetFailure(
                    f"prophet failed: {type(exc).__name__}: {exc}"
                ) from exc
        return out
    ctx = _mp_context()
    pending = list(enumerate(tasks))
    running: dict[int, tuple[Any, Any, float]] = {}
    results: list = [None] * len(tasks)
    try:
        while pending or running:
            while pending and len(running) < n_jobs:
                i, task = pending.pop(0)
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_fit_worker, args=(writer, task), daemon=True)
                try:
                    proc.start()
                except Exception as exc:
                    reader.close()
                    raise _ProphetFailure(
                        f"prophet failed: could not start a worker: {exc}"
                    ) from exc
                finally:
                    writer.close()
                running[i] = (proc, reader, time.monotonic() + timeout)
            wait = max(0.0, min(d for _, _, d in running.values()) - time.monotonic())
            ready = multiprocessing.connection.wait(
                [r for _, r, _ in running.values()], timeout=wait
            )
            now = time.monotonic()
            for i, (proc, reader, deadline) in list(running.items()):
                if reader in ready:
                    try:
                        status, value = reader.recv()
                    except (EOFError, OSError):
                        proc.join(1)
                        status, value = "error", f"worker exited ({proc.exitcode})"
                    del running[i]
                    _stop(proc)
                    reader.close()
                    if status != "ok":
                        raise _ProphetFailure(f"prophet failed: {value}")
                    results[i] = value
                elif now >= deadline:
                    raise _ProphetFailure(f"prophet fit timed out after {timeout:g} s")
    finally:
        for proc, reader, _ in running.values():
            _stop(proc)
            reader.close()
    return results


def _offdays(index: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    off = index.day_of_week.to_numpy() >= 5
    if country:
        import holidays

        local_days = index.tz_localize(None).normalize()
        years = range(local_days[0].year, local_days[-1].year + 1)
        dates = pd.DatetimeIndex(list(holidays.country_holidays(country, years=years)))
        off |= local_days.isin(dates)
    return off


def _lag_week(s: _Series) -> np.ndarray:
    """Same time last week, gaps filled from two weeks ago, then carried forward."""
    y = pd.Series(s.y)
    week = s.grid.steps_per_week
    lag = y.shift(week).fillna(y.shift(2 * week)).ffill()
    return lag.fillna(np.nanmean(s.y[: s.n])).to_numpy()


def _prophet_frames(
    s: _Series, start: int, cutoff: int, horizon: int, lag: np.ndarray | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ds = s.index.tz_localize(None)  # naive local wall time of the series' zone

    def frame(lo: int, hi: int, with_y: bool) -> pd.DataFrame:
        data: dict[str, Any] = {"ds": ds[lo:hi]}
        if with_y:
            data["y"] = s.y[lo:hi]
        data["offday"] = s.offday[lo:hi]
        data["workday"] = ~s.offday[lo:hi]
        if lag is not None:
            data["lag_week"] = lag[lo:hi]
        return pd.DataFrame(data)

    return frame(start, cutoff, True), frame(cutoff, cutoff + horizon, False)


def _prophet_variants(s: _Series, horizon: int) -> list[dict[str, Any]]:
    spd = s.grid.steps_per_day
    base = {
        "daily_order": min(15, spd // 2 - 1) if spd >= 4 else 0,
        "weekly_order": 3,
        "country": s.country,
    }
    modes = ["additive"]
    finite = s.y[: s.n][np.isfinite(s.y[: s.n])]
    if finite.min() >= 0 and finite.mean() > 0:
        modes.append("multiplicative")
    lags = [False, True] if horizon <= s.grid.steps_per_week else [False]
    return [
        {**base, "seasonality_mode": mode, "lag_week": lag}
        for lag in lags
        for mode in modes
    ]


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


@dataclass
class _Candidate:
    name: str
    points: list[np.ndarray]
    lowers: list[np.ndarray] = field(default_factory=list)
    uppers: list[np.ndarray] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    residuals: np.ndarray | None = None  # pooled scaled residuals of all folds


def _fold_metrics(
    actual: np.ndarray,
    point: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    night: np.ndarray | None = None,
) -> dict[str, float]:
    """Errors over every point; coverage over the points that are not forced night.

    A production forecast's night is exactly 0 by construction, so counting those
    points as "covered" would only flatter the interval.
    """
    ok = np.isfinite(actual)
    day = ok if night is None else ok & ~night
    inside = (actual >= lower) & (actual <= upper)
    coverage = float(np.mean(inside[day])) if day.any() else np.nan
    a, p = actual[ok], point[ok]
    if a.size == 0:
        return dict.fromkeys(("mae", "rmse", "mape", "wape", "coverage"), np.nan)
    err = a - p
    mask = np.abs(a) >= 0.01 * np.mean(np.abs(a))
    total = np.sum(np.abs(a))
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err[mask] / a[mask])))
        if mask.any() and total
        else np.nan,
        "wape": float(np.sum(np.abs(err)) / total) if total > 0 else np.nan,
        "coverage": coverage,
    }


def _average(folds: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key in folds[0]:
        vals = np.array([f[key] for f in folds], dtype=float)
        out[key] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    return out


@dataclass
class _Evaluation:
    series: _Series
    horizon: int
    cutoffs: list[int]
    candidates: dict[str, _Candidate]
    chosen: str
    fallback_reason: str | None = None
    note: str | None = None

    def best_baseline(self) -> str:
        names = [b for b in BASELINES if b in self.candidates]
        return min(names, key=lambda b: self.candidates[b].metrics["mae"])

    def skill(self, name: str) -> float:
        mae = self.candidates[name].metrics["mae"]
        ref = self.candidates[self.best_baseline()].metrics["mae"]
        if ref == 0:
            return 0.0 if mae == 0 else float("-inf")
        return float(1.0 - mae / ref)


def _max_folds(n: int, horizon: int, min_train: int, folds: int) -> int:
    return max(0, min(folds, (n - min_train) // horizon))


def _setup(
    history: pd.Series, horizon: int, nonnegative: bool | None, country: str | None
) -> _Series:
    horizon = _validate_horizon(horizon)
    series, grid = _validate(history)
    if country is not None:
        import holidays

        try:
            holidays.country_holidays(country)
        except (NotImplementedError, KeyError) as exc:
            raise ValueError(f"unknown holiday country {country!r}") from exc
    hist = series.to_numpy(dtype=float)
    if nonnegative is None:
        nonnegative = _is_production(hist)
    future = _future_index(series.index, grid, horizon)
    index = series.index.append(future)
    return _Series(
        y=np.concatenate([hist, np.full(horizon, np.nan)]),
        n=len(hist),
        index=index,
        future=future,
        grid=grid,
        slots=_slots(index),
        nonneg=bool(nonnegative),
        country=country,
        offday=_offdays(index, country),
    )


def _evaluate(
    s: _Series,
    horizon: int,
    *,
    model: str,
    folds: int,
    timeout: float | None,
    n_jobs: int,
) -> _Evaluation:
    """Backtest the candidates that ``model`` implies on shared rolling-origin folds."""
    if model not in FORECAST_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {FORECAST_MODELS}")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ValueError(f"folds must be a positive integer, got {folds!r}")
    spd, n = s.grid.steps_per_day, s.n
    min_train = {
        "seasonal_naive_day": spd + 1,
        "seasonal_naive_week": 7 * spd + 1,
        "prophet": s.grid.steps(PROPHET_MIN_HISTORY),
    }
    possible = {k: _max_folds(n, horizon, v, folds) for k, v in min_train.items()}
    note = None
    wants_prophet = model in ("auto", "prophet", "ensemble")
    if wants_prophet and possible["prophet"] == 0:
        need = min_train["prophet"] + horizon
        if model != "auto":
            raise ValueError(
                f"history too short for {model}: need at least 2 weeks plus the "
                f"horizon ({need} steps), got {n}"
            )
        wants_prophet = False
        note = (
            f"history shorter than 2 weeks plus the horizon ({n} of {need} steps): "
            "prophet skipped, seasonal-naive baselines only"
        )
    names = [b for b in BASELINES if possible[b] > 0]
    if model in BASELINES and model not in names:
        raise ValueError(
            f"history too short to backtest {model}: need "
            f"{min_train[model] + horizon} steps, got {n}"
        )
    if not names:
        raise _TooShort(
            f"history too short to backtest: need at least one day plus the horizon "
            f"({min_train['seasonal_naive_day'] + horizon} steps), got {n}"
        )
    n_folds = min(possible[name] for name in names)
    if wants_prophet:
        n_folds = min(n_folds, possible["prophet"])
    cutoffs = [n - k * horizon for k in range(n_folds, 0, -1)]
    origins = [s.origin(c) for c in cutoffs]
    actuals = [s.y[c : c + horizon] for c in cutoffs]
    candidates: dict[str, _Candidate] = {}

    for name in names:
        season = spd if name == "seasonal_naive_day" else 7 * spd
        cand = _Candidate(name, points=[])
        for o in origins:
            pos = o.targets(horizon)
            point = o.clean(
                _seasonal_naive_values(s.y[: o.cutoff], horizon, season), pos
            )
            lower, upper = o.interval(point, pos, o.naive_band(horizon, season))
            cand.points.append(point)
            cand.lowers.append(lower)
            cand.uppers.append(upper)
        candidates[name] = cand

    fallback_reason = None
    if wants_prophet:
        try:
            candidates.update(
                _prophet_candidates(s, horizon, origins, actuals, timeout, n_jobs)
            )
        except _ProphetFailure as exc:
            fallback_reason = str(exc)
            logger.warning("forecast falls back to a baseline: %s", fallback_reason)

    nights = [o.night_at(o.targets(horizon)) for o in origins]
    for cand in candidates.values():
        cand.metrics = _average(
            [
                _fold_metrics(a, p, lo, hi, night)
                for a, p, lo, hi, night in zip(
                    actuals, cand.points, cand.lowers, cand.uppers, nights,
                    strict=True,
                )
            ]
        )
    evaluation = _Evaluation(
        s,
        horizon,
        cutoffs,
        candidates,
        chosen="",
        note=note,
        fallback_reason=fallback_reason,
    )
    best_naive = evaluation.best_baseline()
    if "prophet" in candidates:
        ens = _ensemble(candidates["prophet"], candidates[best_naive], origins, actuals)
        ens.metrics = _average(
            [
                _fold_metrics(a, p, lo, hi, night)
                for a, p, lo, hi, night in zip(
                    actuals, ens.points, ens.lowers, ens.uppers, nights, strict=True
                )
            ]
        )
        candidates["ensemble"] = ens
    if model == "auto":
        order = list(candidates)  # baselines first: ties go to the simpler model
        evaluation.chosen = min(order, key=lambda k: candidates[k].metrics["mae"])
    elif model in candidates:
        evaluation.chosen = model
    else:  # prophet/ensemble requested but prophet failed
        evaluation.chosen = best_naive
    return evaluation


def _cross_fold_intervals(
    cand: _Candidate, origins: list[_Origin], actuals: list[np.ndarray], horizon: int
) -> None:
    """Score each fold with the band of the other folds' residuals."""
    scaled = []
    for o, a, p in zip(origins, actuals, cand.points, strict=True):
        pos = o.targets(horizon)
        r = (a - p) / o.scale_at(pos)
        r[o.night_at(pos)] = np.nan
        scaled.append(r)
    cand.residuals = np.concatenate(scaled)
    cand.lowers, cand.uppers = [], []
    for k, (o, p) in enumerate(zip(origins, cand.points, strict=True)):
        others = [r for j, r in enumerate(scaled) if j != k] or [scaled[k]]
        lower, upper = o.interval(p, o.targets(horizon), _band(np.concatenate(others)))
        cand.lowers.append(lower)
        cand.uppers.append(upper)


def _prophet_candidates(
    s: _Series,
    horizon: int,
    origins: list[_Origin],
    actuals: list[np.ndarray],
    timeout: float | None,
    n_jobs: int,
) -> dict[str, _Candidate]:
    variants = _prophet_variants(s, horizon)
    lag = _lag_week(s)
    window = s.grid.steps(BACKTEST_WINDOW)
    tasks = []
    for config in variants:
        for o in origins:
            train, future = _prophet_frames(
                s,
                max(0, o.cutoff - window),
                o.cutoff,
                horizon,
                lag if config["lag_week"] else None,
            )
            tasks.append((train, future, config))
    results = _run_prophet(tasks, timeout, n_jobs)
    best: _Candidate | None = None
    for v, config in enumerate(variants):
        cand = _Candidate("prophet", points=[], config=config)
        for k, o in enumerate(origins):
            cand.points.append(
                o.clean(results[v * len(origins) + k], o.targets(horizon))
            )
        mae = np.nanmean(
            [
                np.nanmean(np.abs(a - p))
                for a, p in zip(actuals, cand.points, strict=True)
            ]
        )
        cand.metrics = {"mae": float(mae)}
        if best is None or mae < best.metrics["mae"]:
            best = cand
    assert best is not None
    _cross_fold_intervals(best, origins, actuals, horizon)
    return {"prophet": best}


def _ensemble(
    prophet: _Candidate,
    naive: _Candidate,
    origins: list[_Origin],
    actuals: list[np.ndarray],
) -> _Candidate:
    points = [(p + b) / 2.0 for p, b in zip(prophet.points, naive.points, strict=True)]
    cand = _Candidate("ensemble", points=points, config=prophet.config)
    horizon = len(actuals[0])
    _cross_fold_intervals(cand, origins, actuals, horizon)
    return cand


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")


def _default_jobs(n_jobs: int | None) -> int:
    if n_jobs is None:
        return max(1, min(4, os.cpu_count() or 1))
    if n_jobs < 1:
        raise ValueError("n_jobs must be at least 1")
    return int(n_jobs)


def backtest(
    history: pd.Series,
    horizon: int,
    *,
    folds: int = 7,
    model: str = "auto",
    country: str | None = None,
    nonnegative: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Rolling-origin backtest of a forecasting model.

    The last ``folds`` non-overlapping windows of ``horizon`` steps are each
    forecast from the history before them and compared with what happened.
    Fewer folds are used when the history is too short for all of them (the
    ``folds`` entry of the result says how many).

    Parameters
    ----------
    history : pd.Series
        Energy per interval [kWh] (any unit works) on a tz-aware, regular
        DatetimeIndex (fixed step dividing one day, or local calendar days).
    horizon : int
        Forecast length per fold [steps].
    folds : int
        Number of folds wanted.
    model : str
        One of ``FORECAST_MODELS``. For ``"auto"`` the figures are those of the
        model auto chooses (lowest MAE), so ``skill_vs_naive >= 0``.
    country : str or None
        ISO country code for public holidays (e.g. ``"DE"``); None skips them.
    nonnegative : bool or None
        Production post-processing (clip at 0, exact 0 at night); None detects.
    timeout : float or None
        Deadline per Prophet fit [s]; None fits in-process without one.
    n_jobs : int or None
        Prophet fits run at once [processes]; None: CPU count, at most 4.

    Returns
    -------
    dict
        ``model`` (str), ``mae``, ``rmse`` [unit of the series], ``mape``,
        ``wape`` (fractions: 0.12 is 12 %; MAPE ignores actuals below 1 % of the
        fold's mean absolute actual, WAPE = Σ|error| / Σ|actual|), ``coverage``
        (share of actuals inside the 80 % interval), ``skill_vs_naive``
        (1 − MAE / MAE of the best seasonal-naive baseline, from fold-averaged
        MAEs), ``folds``, ``horizon``, ``baselines`` and ``candidates``
        (``{name: mae}``), ``cutoffs`` (first forecast timestamp per fold),
        ``prophet_config`` when Prophet was evaluated, and ``fallback_reason`` /
        ``note`` when applicable. Metrics are fold averages ignoring missing
        actuals.

    Raises
    ------
    ValueError
        Invalid index or values, ``horizon < 1``, unknown model, or a history too
        short to backtest the requested model.
    """
    _check_timeout(timeout)
    s = _setup(history, horizon, nonnegative, country)
    ev = _evaluate(
        s,
        int(horizon),
        model=model,
        folds=folds,
        timeout=timeout,
        n_jobs=_default_jobs(n_jobs),
    )
    chosen = ev.candidates[ev.chosen]
    out: dict[str, Any] = {"model": ev.chosen, **chosen.metrics}
    out["skill_vs_naive"] = ev.skill(ev.chosen)
    out.update(
        folds=len(ev.cutoffs),
        horizon=int(horizon),
        baselines={
            b: ev.candidates[b].metrics["mae"] for b in BASELINES if b in ev.candidates
        },
        candidates={k: c.metrics["mae"] for k, c in ev.candidates.items()},
        cutoffs=[s.index[c] for c in ev.cutoffs],
    )
    if "prophet" in ev.candidates:
        out["prophet_config"] = dict(ev.candidates["prophet"].config or {})
    if ev.fallback_reason:
        out["fallback_reason"] = ev.fallback_reason
    if ev.note:
        out["note"] = ev.note
    return out


def forecast(
    history: pd.Series,
    horizon: int,
    *,
    model: str = "auto",
    country: str | None = None,
    nonnegative: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    folds: int = 3,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps with an 80 % interval.

    Parameters
    ----------
    history : pd.Series
        Energy per interval [kWh] (any unit works) on a tz-aware, regular
        DatetimeIndex (fixed step dividing one day, or local calendar days).
        Missing values are allowed.
    horizon : int
        Number of future steps [steps].
    model : str
        ``"auto"`` (choose by backtest), ``"prophet"``, ``"ensemble"``,
        ``"seasonal_naive_day"`` or ``"seasonal_naive_week"``.
    country : str or None
        ISO country code for public holidays (e.g. ``"DE"``); None skips them.
    nonnegative : bool or None
        Production (solar) post-processing: clip at 0 and force exact 0 in
        time-of-day slots that were near zero on each of the last 14 days.
        None detects production series (min >= 0 and >= 25 % exact zeros).
    timeout : float or None
        Deadline per Prophet fit [s]. A fit that fails or times out falls back
        to the best baseline (``attrs["fallback_reason"]`` says why). None fits
        in-process without a deadline.
    folds : int
        Backtest folds used to choose the model and calibrate the interval
        (not needed for a plain baseline).
    n_jobs : int or None
        Prophet fits run at once [processes]; None: CPU count, at most 4.

    Returns
    -------
    pd.DataFrame
        Columns ``yhat``, ``yhat_lower``, ``yhat_upper`` [unit of the series] on
        a tz-aware index (the history's zone and name) continuing the history at
        its step. ``attrs`` are described in the module docstring.

    Raises
    ------
    ValueError
        Invalid index or values, ``horizon < 1``, unknown model, or a history too
        short for the requested model.
    """
    horizon = _validate_horizon(horizon)
    if model not in FORECAST_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {FORECAST_MODELS}")
    _check_timeout(timeout)
    s = _setup(history, horizon, nonnegative, country)
    jobs = _default_jobs(n_jobs)
    final = s.origin(s.n)
    pos = final.targets(horizon)
    attrs: dict[str, Any] = {
        "requested_model": model,
        "interval": INTERVAL,
        "nonnegative": s.nonneg,
    }

    def baseline(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        season = s.grid.steps_per_day * (1 if name == "seasonal_naive_day" else 7)
        point = final.clean(_seasonal_naive_values(s.y[: s.n], horizon, season), pos)
        return (point, *final.interval(point, pos, final.naive_band(horizon, season)))

    if model in BASELINES:
        point, lower, upper = baseline(model)
        attrs["model"] = model
        return _frame(s, point, lower, upper, attrs)

    try:
        ev = _evaluate(
            s, horizon, model=model, folds=folds, timeout=timeout, n_jobs=jobs
        )
    except _TooShort:
        if model != "auto":
            raise
        # too short for any backtest: the day baseline is all there is
        point, lower, upper = baseline("seasonal_naive_day")
        attrs.update(
            model="seasonal_naive_day",
            note="history too short for a backtest: seasonal_naive_day used",
        )
        return _frame(s, point, lower, upper, attrs)

    attrs["candidates"] = {k: c.metrics["mae"] for k, c in ev.candidates.items()}
    if ev.note:
        attrs["note"] = ev.note
    chosen = ev.chosen
    if chosen in ("prophet", "ensemble"):
        cand = ev.candidates[chosen]
        config = cand.config or {}
        lag = _lag_week(s) if config.get("lag_week") else None
        start = max(0, s.n - s.grid.steps(MAX_TRAIN))
        train, future = _prophet_frames(s, start, s.n, horizon, lag)
        try:
            [yhat] = _run_prophet([(train, future, config)], timeout, jobs)
        except _ProphetFailure as exc:
            ev.fallback_reason = str(exc)
            logger.warning("forecast falls back to a baseline: %s", exc)
            chosen = ev.best_baseline()
        else:
            point = final.clean(yhat, pos)
            if chosen == "ensemble":
                naive, _, _ = baseline(ev.best_baseline())
                point = (point + naive) / 2.0
            assert cand.residuals is not None
            lower, upper = final.interval(point, pos, _band(cand.residuals))
            attrs["prophet_config"] = dict(config)
    if chosen in BASELINES:
        point, lower, upper = baseline(chosen)
    if ev.fallback_reason:
        attrs["fallback_reason"] = ev.fallback_reason
    attrs["model"] = chosen
    metrics = ev.candidates[chosen].metrics
    attrs["backtest"] = {
        "mae": metrics["mae"],
        "wape": metrics["wape"],
        "coverage": metrics["coverage"],
        "skill_vs_naive": ev.skill(chosen),
        "folds": len(ev.cutoffs),
    }
    return _frame(s, point, lower, upper, attrs)


def _frame(
    s: _Series,
    point: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    attrs: dict[str, Any],
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"yhat": point, "yhat_lower": lower, "yhat_upper": upper},
        index=s.future,
    )
    frame.attrs.update(attrs)
    return frame
