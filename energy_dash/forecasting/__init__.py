"""Forecasts of energy series: MSTL, Prophet, solar geometry, seasonal-naive
baselines, chosen or combined by rolling-origin backtest, with conformal 80 %
intervals.

Pure functions: a ``pd.Series`` in, a forecast frame or a dict of figures out.
No database, no Dash, no Flask; importing this package imports neither Prophet
nor statsforecast nor pvlib (``warm_up`` does, for a job to call once).

Public API
----------
``forecast(history, horizon, *, model="auto", location=None, weather=None, ...)``
    The next ``horizon`` steps at the history's frequency: columns ``yhat``,
    ``yhat_lower``, ``yhat_upper`` (an 80 % interval) on a tz-aware index that
    continues the history. ``frame.attrs``: ``model`` (what produced the
    numbers; ``"ensemble"`` for a combination, whose parts are in ``members``),
    ``requested_model``, ``interval`` (0.8), ``nonnegative``, ``backtest``
    (``mae``, ``wape``, ``coverage``, ``skill_vs_naive``, ``folds`` on the
    origins the choice was made on), ``candidates`` (``{name: MAE}``),
    ``location`` (whether solar geometry was used), ``weather`` (columns used),
    and when applicable ``prophet_config``, ``fallback_reason``, ``note``.

``backtest(history, horizon, *, folds=7, model="auto", ...) -> dict``
    Out-of-sample evaluation over the last ``folds`` daily origins, each
    forecast exactly as ``forecast`` would have made it then (choice and
    interval from the origins before it only): ``mae``, ``rmse``, ``mape``,
    ``wape``, ``coverage``, ``skill_vs_naive`` (fold averages), ``model``,
    ``choices``, ``folds``, ``horizon``, ``baselines`` / ``candidates`` (MAE),
    ``candidate_metrics``, ``seconds_per_fit``, ``cutoffs``.

Models (``FORECAST_MODELS``)
----------------------------
``seasonal_naive_day`` / ``seasonal_naive_week``: repeat the last day / week.
``mstl`` / ``mstl_ets``: statsforecast MSTL, daily and weekly seasons, on the
last 12 weeks, the deseasonalised rest forecast by an AR(3) with mean or by
AutoETS with additive errors (one shared decomposition per origin);
``mstl_default``: MSTL as shipped (all history, AutoETS of any form, LOESS at
every point; for comparison only). ``prophet``: Prophet with separate daily
profiles for working and off days (holidays of ``country``), Fourier order for
the resolution, last 8 weeks. ``prophet_default``: Prophet as shipped (for
comparison only).
``solar``: production from the sun's position and clear-sky irradiance at
``location`` (pvlib) times a forecast clear-sky index (the last fortnight's
median, moved towards yesterday's as far as cloudiness persists at the site);
zero whenever the sun is below the horizon; with ``weather`` (``ghi`` or
``cloud_cover``) a weather-driven variant competes too. ``ensemble``: the best
equal-weight combination.
``auto``: the candidates and the equal-weight combinations of the best two and
best three of them, ranked by MAE over the last 7 daily origins (14 when every
candidate is cheap, as for production at a location); on a tie the simpler
wins, and it never loses to the best candidate there. With a location,
production skips MSTL and Prophet, and a baseline replaces the sun's model
only when it was better by more than day-to-day noise (paired t > 2).

Intervals (split-conformal)
---------------------------
``yhat`` plus a band from the chosen forecast's own errors at the last 14
daily origins, each forecast exactly as at a target (MSTL refitted at every
origin; Prophet shares one fit per week of origins): per horizon step with two
neighbouring steps on each side pooled, centred on the errors' median, half
width the ``ceil((m + 1) * 0.8)``-th smallest absolute deviation of the ``m``
pooled errors. For daily origins a step is a time of day, so production is
calibrated per daylight hour; its errors are scaled by clear-sky irradiance (or
the slot's mean level without a location) so the band is wide at noon, narrow
at dawn, and exactly zero at night; coverage counts daylight only.

Speed
-----
MSTL runs here while the Prophet fits run in parallel worker processes (with a
deadline each: see ``prophet_runner``); STL's LOESS is evaluated every few
points as R's ``stl`` does, and its decomposition is shared by both trends.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_dash.forecasting import engine
from energy_dash.forecasting import grid as g
from energy_dash.forecasting.engine import BASELINES, INTERVAL, TooShort
from energy_dash.forecasting.models import seasonal_naive_values
from energy_dash.forecasting.problem import Problem, setup

logger = logging.getLogger(__name__)

FORECAST_MODELS: tuple[str, ...] = (
    "auto", "prophet", "ensemble", *BASELINES, "mstl", "solar", "prophet_default",
    "mstl_default", "mstl_ets",
)
"""Names accepted by ``forecast(model=...)`` and ``backtest(model=...)``."""

DEFAULT_TIMEOUT = 60.0
SELECTION_ORIGINS = 7
CALIBRATION_ORIGINS = 14
CHEAP_SELECTION_ORIGINS = 14
MIN_SELECTION_ORIGINS = 3
Origins = dict[int, list[int]]  # target origin -> the origins it learns from
STRONG = ("mstl", "mstl_ets", "prophet", "solar", "solar_weather")

__all__ = [
    "BASELINES", "DEFAULT_TIMEOUT", "FORECAST_MODELS", "INTERVAL", "backtest",
    "forecast", "seasonal_naive", "warm_up",
]


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
    """
    horizon = g.validate_horizon(horizon)
    series, grid = g.validate(history)
    values = seasonal_naive_values(series.to_numpy(), horizon, int(season_steps))
    index = g.future_index(series.index, grid, horizon)
    return pd.Series(values, index=index, name=history.name)


def _check_options(model: str, timeout: float | None, n_jobs: int | None) -> int:
    if model not in FORECAST_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {FORECAST_MODELS}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
    if n_jobs is None:
        return max(1, min(4, os.cpu_count() or 1))
    if n_jobs < 1:
        raise ValueError("n_jobs must be at least 1")
    return int(n_jobs)


def _wanted(p: Problem, model: str) -> list[str]:
    """Candidates a request implies, before history limits."""
    if model in ("auto", "ensemble"):
        names = [n for n in engine.SINGLES if engine.applicable(p, n)]
        if p.ghi_clear is not None:  # the sun's geometry beats fitting it again
            names = [n for n in names if n not in ("mstl", "mstl_ets", "prophet")]
        return names
    if model == "solar" and p.ghi_clear is None:
        raise ValueError(
            "model 'solar' needs location=(latitude, longitude) and a production "
            "series (non-negative, zero at night)"
        )
    return [*BASELINES, model] if model not in BASELINES else list(BASELINES)


def _origins(p: Problem, model: str, k: int) -> int:
    """Selection origins: more when every candidate is cheap (no fitting)."""
    costly = ("mstl", "mstl_ets", "prophet", "prophet_default", "mstl_default")
    if all(n not in costly for n in _wanted(p, model)):
        return max(k, CHEAP_SELECTION_ORIGINS)
    return k


def _plan(
    p: Problem, model: str, k: int, folds: int | None
) -> tuple[list[str], list[int], Origins, Origins, str | None]:
    """Candidates, target origins and each target's selection origins.

    ``folds=None`` plans the forecast from the end of the history; otherwise a
    backtest over the last ``folds`` grid origins. The number of selection
    origins shrinks (down to 3) before a strong candidate or the requested model
    is dropped: a requested model that still cannot run raises.
    """
    grid = engine.origin_grid(p)
    wanted = _wanted(p, model)
    if folds is None:
        targets = [p.n]
    else:
        if len(grid) < 2:
            raise TooShort(_too_short(p))
        n_folds = min(folds, max(1, len(grid) - MIN_SELECTION_ORIGINS))
        targets = grid[-n_folds:]
    if not grid:
        raise TooShort(_too_short(p))
    note = None
    for kk in range(k, 0, -1):
        sel = {t: engine.selection_for(grid, p.horizon, t, kk) for t in targets}
        if any(not s for s in sel.values()):
            raise TooShort(_too_short(p))
        first = min(min(s) for s in sel.values())
        fits = [n for n in wanted if engine.min_train(p, n) <= first]
        lost = [n for n in wanted if (n in STRONG or n == model) and n not in fits]
        if not lost or kk <= MIN_SELECTION_ORIGINS:
            break
    if model in lost:
        raise ValueError(_too_short_for(p, model, folds))
    if lost:  # auto or ensemble go on without them
        families = dict.fromkeys(  # both MSTL trends are one model to a reader
            "mstl" if n.startswith("mstl") else n for n in lost
        )
        note = (
            f"history shorter than 2 weeks plus the backtest days and the horizon "
            f"({p.n} steps): {' and '.join(families)} skipped"
        )
    if not fits:
        raise TooShort(_too_short(p))
    size = max(CALIBRATION_ORIGINS, kk)
    cal = {t: engine.selection_for(grid, p.horizon, t, size) for t in targets}
    return fits, targets, sel, cal, note


def _too_short_for(p: Problem, model: str, folds: int | None) -> str:
    """The history a requested model needs, in days.

    Its training span before the first of ``MIN_SELECTION_ORIGINS`` daily
    origins (its score and interval come from them), those days, then the
    horizon. In a backtest the folds come between: the first fold starts whole
    days after the last selection window ends, and the last fold ends the
    history.
    """
    spd, horizon = p.spd, p.horizon
    train = engine.min_train(p, model)
    need = train + (MIN_SELECTION_ORIGINS - 1) * spd + horizon
    over, then = "", "the horizon"
    if folds is not None:
        need += -(-horizon // spd) * spd + (folds - 1) * spd
        over, then = f" over {folds} folds", "the folds and the horizon"
    return (
        f"history too short for {model}{over}: need {need / spd:g} days of history "
        f"({train / spd:g} before the first of {MIN_SELECTION_ORIGINS} backtest "
        f"days, then {then}), got {p.n / spd:g} days"
    )


def _too_short(p: Problem) -> str:
    need = 2 * p.spd + p.horizon
    return (
        f"history too short to backtest: need at least two days plus the horizon "
        f"({need} steps), got {p.n}"
    )


def _loo_coverage(
    run: engine.Run, model: str, members: tuple[str, ...], selection: list[int],
    origins: list[int],
) -> float:
    """Coverage at each origin with the band of the other origins (honest): each
    origin is forecast and calibrated as ``engine.calibration_members`` says."""
    if len(origins) < 2:
        return float("nan")
    chosen = engine.calibration_members(run, model, members, selection, origins)
    values = []
    for c in origins:
        others = [o for o in origins if o != c]
        point = engine.point_of(run, chosen[c], c)
        lower, upper = engine.interval(
            run, point, c, engine.band(run, members, others, chosen))
        p = run.problem
        values.append(
            engine.fold_metrics(p.actual(c), point, lower, upper,
                                p.night(c, p.targets(c)))["coverage"]
        )
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def backtest(
    history: pd.Series,
    horizon: int,
    *,
    folds: int = 7,
    model: str = "auto",
    location: tuple[float, float] | None = None,
    weather: pd.DataFrame | None = None,
    country: str | None = None,
    nonnegative: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Out-of-sample rolling-origin backtest of a forecasting model.

    Each of the last ``folds`` daily origins is forecast from the history before
    it exactly as ``forecast`` would have done (choice of model, combination and
    interval from the 7 origins before it), then compared with what happened.

    Parameters
    ----------
    history : pd.Series
        Energy per interval [kWh] (any unit works) on a tz-aware, regular
        DatetimeIndex (fixed step dividing one day, or local calendar days).
    horizon : int
        Forecast length per fold [steps].
    folds : int
        Number of folds wanted (fewer when the history is short: see ``folds``
        in the result).
    model : str
        One of ``FORECAST_MODELS``.
    location : (float, float) or None
        Site ``(latitude, longitude)`` [degrees] for production series.
    weather : pd.DataFrame or None
        ``ghi`` [W/m²], ``cloud_cover`` [%], ``temperature`` [°C] on the history
        and horizon timestamps, within ``problem.WEATHER_BOUNDS`` or NaN.
    country : str or None
        ISO country code for public holidays (e.g. ``"DE"``).
    nonnegative : bool or None
        Production post-processing (clip at 0, exact 0 at night); None detects.
    timeout : float or None
        Deadline per Prophet fit [s]; None fits in-process without one.
    n_jobs : int or None
        Prophet fits run at once [processes]; None: CPU count, at most 4.

    Returns
    -------
    dict
        ``mae``, ``rmse`` [unit of the series], ``mape``, ``wape`` (fractions;
        MAPE ignores actuals below 1 % of the fold's mean absolute actual),
        ``coverage`` (share of daylight actuals inside the 80 % interval),
        ``skill_vs_naive`` (1 − MAE / MAE of the best seasonal-naive baseline on
        the same folds), ``model`` (chosen at the last fold), ``choices`` (per
        fold), ``folds``, ``horizon``, ``baselines`` and ``candidates``
        (``{name: MAE}``), ``candidate_metrics`` (``{name: metrics}``),
        ``seconds_per_fit``, ``cutoffs``, and ``prophet_config``,
        ``fallback_reason``, ``note`` when applicable.
    """
    jobs = _check_options(model, timeout, n_jobs)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ValueError(f"folds must be a positive integer, got {folds!r}")
    p = setup(history, horizon, nonnegative=nonnegative, country=country,
              location=location, weather=weather)
    names, targets, sel, cal, note = _plan(p, model, _origins(p, model, 7), int(folds))
    needed = sorted(set(targets).union(*sel.values()))
    calibration = sorted(set().union(*cal.values()))
    run = engine.compute(p, names, needed, timeout=timeout, n_jobs=jobs,
                         calibration=calibration, targets=targets)
    return _backtest_result(run, model, targets, sel, cal, note)


def _backtest_result(
    run: engine.Run,
    model: str,
    targets: list[int],
    sel: dict[int, list[int]],
    cal: dict[int, list[int]],
    note: str | None,
) -> dict[str, Any]:
    p = run.problem
    chosen_model = model if model in run.points or model in ("auto", "ensemble") else (
        min((b for b in BASELINES if b in run.points),
            key=lambda b: engine.mae_over(run, (b,), targets))
    )
    outcomes = [
        engine.forecast_at(run, chosen_model, t, sel[t], cal[t]) for t in targets
    ]
    metrics = engine.average([engine.score(run, o) for o in outcomes])
    per_name = {}
    for name in list(run.points):
        single = [engine.forecast_at(run, name, t, sel[t], cal[t]) for t in targets]
        per_name[name] = engine.average([engine.score(run, o) for o in single])
    baselines = {b: per_name[b]["mae"] for b in BASELINES if b in per_name}
    ref = min(baselines.values())
    out: dict[str, Any] = {"model": outcomes[-1].name, **metrics}
    out["skill_vs_naive"] = (
        float(1.0 - metrics["mae"] / ref) if ref > 0 else
        (0.0 if metrics["mae"] == 0 else float("-inf"))
    )
    out.update(
        choices=["+".join(o.members) for o in outcomes],
        folds=len(targets),
        horizon=p.horizon,
        baselines=baselines,
        candidates={k: v["mae"] for k, v in per_name.items()},
        candidate_metrics=per_name,
        seconds_per_fit=engine.describe(run),
        cutoffs=[p.index[t] for t in targets],
    )
    if "prophet" in run.points:
        out["prophet_config"] = _prophet_config(p)
    if run.fallback_reason:
        out["fallback_reason"] = run.fallback_reason
    if note:
        out["note"] = note
    return out


def _prophet_config(p: Problem) -> dict[str, Any]:
    from energy_dash.forecasting.models import prophet_config

    return dict(prophet_config(p))


def forecast(
    history: pd.Series,
    horizon: int,
    *,
    model: str = "auto",
    location: tuple[float, float] | None = None,
    weather: pd.DataFrame | None = None,
    country: str | None = None,
    nonnegative: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    folds: int = SELECTION_ORIGINS,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps with an 80 % interval.

    Parameters
    ----------
    history : pd.Series
        Energy per interval [kWh] (any unit works) on a tz-aware, regular
        DatetimeIndex. Missing values (NaN) are allowed, infinite ones are not.
    horizon : int
        Number of future steps [steps].
    model : str
        One of ``FORECAST_MODELS`` (default ``"auto"``).
    location : (float, float) or None
        Site ``(latitude, longitude)`` [degrees]: production series then follow
        the sun (``solar``), exactly zero while it is below the horizon.
    weather : pd.DataFrame or None
        ``ghi`` [W/m²], ``cloud_cover`` [%], ``temperature`` [°C] on the history
        and horizon timestamps, within ``problem.WEATHER_BOUNDS`` or NaN; a
        column is used only when it covers the whole horizon.
    country : str or None
        ISO country code for public holidays (e.g. ``"DE"``).
    nonnegative : bool or None
        Production post-processing; None detects production series (min >= 0
        and >= 25 % exact zeros).
    timeout : float or None
        Deadline per Prophet fit [s]. A fit that fails or times out leaves
        Prophet out (``attrs["fallback_reason"]`` says why).
    folds : int
        Daily origins the choice and the interval are made on (7; fewer only
        when the history is short).
    n_jobs : int or None
        Prophet fits run at once [processes]; None: CPU count, at most 4.

    Returns
    -------
    pd.DataFrame
        Columns ``yhat``, ``yhat_lower``, ``yhat_upper`` [unit of the series] on
        a tz-aware index continuing the history; ``attrs`` as in the package
        docstring.

    Raises
    ------
    ValueError
        Invalid index, values, location or weather, ``horizon < 1``, unknown
        model, or a history too short for the requested model.
    """
    jobs = _check_options(model, timeout, n_jobs)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1:
        raise ValueError(f"folds must be a positive integer, got {folds!r}")
    p = setup(history, horizon, nonnegative=nonnegative, country=country,
              location=location, weather=weather)
    attrs: dict[str, Any] = {
        "requested_model": model,
        "interval": INTERVAL,
        "nonnegative": p.production,
        "location": p.ghi_clear is not None,
        "weather": [] if p.weather is None else list(p.weather.columns),
    }
    try:
        names, _, sel, cal, note = _plan(p, model, _origins(p, model, folds), None)
    except TooShort:
        if model not in ("auto", *BASELINES, "solar"):
            raise
        return _short_forecast(p, attrs)
    run = engine.compute(p, names, [*sel[p.n], p.n], timeout=timeout, n_jobs=jobs,
                         calibration=cal[p.n], targets=[p.n])
    wanted = model
    if model not in ("auto", "ensemble") and model not in run.points:
        wanted = min((b for b in BASELINES if b in run.points),
                     key=lambda b: engine.mae_over(run, (b,), sel[p.n]))
    elif model == "ensemble" and len(run.points) < 2:
        wanted = "auto"
    outcome = engine.forecast_at(run, wanted, p.n, sel[p.n], cal[p.n])
    singles = {n: engine.mae_over(run, (n,), sel[p.n]) for n in run.points}
    if outcome.name == "ensemble":
        singles["ensemble"] = outcome.scores["+".join(outcome.members)]
        attrs["members"] = list(outcome.members)
    baseline = min(singles[b] for b in BASELINES if b in singles)
    mae = outcome.scores["+".join(outcome.members)]
    attrs.update(
        model=outcome.name,
        candidates=singles,
        backtest={
            "mae": mae,
            "wape": _wape(run, outcome.members, sel[p.n]),
            "coverage": _loo_coverage(run, wanted, outcome.members, sel[p.n], [
                c for c in cal[p.n]
                if all(c in run.points[m] for m in outcome.members)
            ]),
            "skill_vs_naive": float(1 - mae / baseline) if baseline > 0 else 0.0,
            "folds": len(sel[p.n]),
        },
        seconds_per_fit=engine.describe(run),
    )
    if "prophet" in outcome.members:
        attrs["prophet_config"] = _prophet_config(p)
    if run.fallback_reason:
        attrs["fallback_reason"] = run.fallback_reason
    if note:
        attrs["note"] = note
    return _frame(p, outcome.point, outcome.lower, outcome.upper, attrs)


def _wape(run: engine.Run, members: tuple[str, ...], origins: list[int]) -> float:
    p = run.problem
    err = total = 0.0
    for c in origins:
        a = p.actual(c)
        ok = np.isfinite(a)
        err += float(np.sum(np.abs(a - engine.point_of(run, members, c))[ok]))
        total += float(np.sum(np.abs(a[ok])))
    return err / total if total > 0 else float("nan")


def _short_forecast(p: Problem, attrs: dict[str, Any]) -> pd.DataFrame:
    """Too little history for any backtest: the day baseline (or the sun's
    geometry) with a band from the day-to-day changes seen so far."""
    name = "solar" if p.ghi_clear is not None else "seasonal_naive_day"
    run = engine.compute(p, [name], [p.n], timeout=None, n_jobs=1)
    point = run.points[name][p.n]
    spd = p.spd
    y = p.y[: p.n]
    diffs = (y[spd:] - y[:-spd]) if p.n > spd else np.array([])
    diffs = diffs[np.isfinite(diffs)]
    if p.production:
        scale = p.scale(p.n)
        top = float(np.nanmax(np.abs(y))) if np.isfinite(y).any() else 0.0
        lower = p.clean(np.zeros(p.horizon), p.n)
        upper = p.clean(np.maximum(point * 1.5, 0.25 * top * scale / scale.max()), p.n)
    elif diffs.size >= engine.MIN_RESIDUALS:
        lo, hi = np.quantile(diffs, [0.1, 0.9])
        lower, upper = np.minimum(point + lo, point), np.maximum(point + hi, point)
    else:
        raise ValueError(
            f"history too short to calibrate the 80 % interval ({diffs.size} "
            f"day-to-day differences, need {engine.MIN_RESIDUALS})"
        )
    attrs.update(
        model=name,
        note=f"history too short for a backtest: {name} used, interval not "
        "calibrated yet",
    )
    return _frame(p, point, lower, upper, attrs)


def _frame(
    p: Problem,
    point: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    attrs: dict[str, Any],
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"yhat": point, "yhat_lower": lower, "yhat_upper": upper}, index=p.future
    )
    frame.attrs.update(attrs)
    return frame


def cache_dir() -> Path:
    """Where compiled model code is cached (``NUMBA_CACHE_DIR`` when set)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "energy-dash" / "numba"


def warm_up(folder: str | os.PathLike[str] | None = None) -> float:
    """Import and exercise the model libraries once, off any request path.

    Sets ``NUMBA_CACHE_DIR`` (``folder``, else ``cache_dir()``) before anything
    can compile, so numba-compiled code, where a model library uses it, is
    cached on disk across processes; then runs tiny MSTL fits (both trends) and a
    clear-sky computation so the first real refresh pays no import or compile
    time.
    Returns the seconds it took.
    """
    started = time.perf_counter()
    target = Path(folder) if folder is not None else cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(target))
    index = pd.date_range("2024-06-01", periods=24 * 22, freq="h", tz="UTC")
    hours = index.hour.to_numpy()
    # a little noise: a noise-free rest after the seasons keeps AutoETS's
    # optimiser busy for seconds on a series no facility has
    noise = np.random.default_rng(0).normal(0.0, 0.1, len(index))
    series = pd.Series(1.0 + np.sin(hours / 24 * 2 * np.pi) ** 2 + noise, index)
    for name in ("mstl", "mstl_ets"):  # both trends: AutoETS compiles its own code
        forecast(series, 24, model=name, timeout=None)
    from energy_dash.domain.solar import clear_sky

    clear_sky(index[:24], index[:24] + pd.Timedelta(hours=1), 52.5, 13.4)
    seconds = time.perf_counter() - started
    logger.info("forecasting warmed up in %.1f s", seconds)
    return seconds
