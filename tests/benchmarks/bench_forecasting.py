"""Forecasting benchmark: speed of one year of hourly data, and backtest accuracy.

    python tests/benchmarks/bench_forecasting.py

Prints the wall time of ``forecast`` on one year of hourly synthetic consumption
(target: <= 10 s per series on 2 cores, fit plus predict), then MAE, WAPE,
interval coverage and skill against the best seasonal-naive baseline for
``auto``, ``seasonal_naive_day`` and ``seasonal_naive_week`` on synthetic
consumption and synthetic solar production.

Other benchmarks (e.g. on the demo data) can reuse ``report(series, name)``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from energy_dash.forecasting import BASELINES, backtest, forecast

TZ = "Europe/Berlin"
TARGET_SECONDS = 10.0


def synthetic_consumption(days: int = 365, seed: int = 7) -> pd.Series:
    """Hourly consumption [kWh]: workday/weekend profiles, winter heating, noise."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(
        "2024-01-01", periods=days * 24, freq="h", tz=TZ, name="timestamp"
    )
    h = idx.hour.to_numpy()
    workday = idx.day_of_week.to_numpy() < 5
    profile = np.where(
        workday,
        3 + 4 * np.exp(-(((h - 11) / 3.5) ** 2)) + 2 * np.exp(-(((h - 19) / 2) ** 2)),
        3 + 1.5 * np.exp(-(((h - 13) / 4) ** 2)),
    )
    heating = 1.5 * np.cos(2 * np.pi * idx.day_of_year.to_numpy() / 365.25)
    noise = rng.normal(0, 0.6, len(idx))
    return pd.Series(profile + heating + noise, idx, name="energy_consumed")


def synthetic_solar(
    days: int = 365, seed: int = 8, start: str = "2023-07-01"
) -> pd.Series:
    """Hourly production [kWh] of a roof: day length, DST and daily clouds vary.

    The default year ends on 30 June, so the backtest folds fall in summer.
    """
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=days * 24, freq="h", tz=TZ, name="timestamp")
    doy = idx.day_of_year.to_numpy()
    season = -np.cos(2 * np.pi * (doy + 10) / 365.25)  # -1 winter .. +1 summer
    half_day = 4.5 + 3.0 * season  # [h] from solar noon to sunset
    utc_offset = (idx.tz_localize(None) - idx.tz_convert("UTC").tz_localize(None)) / (
        pd.Timedelta(hours=1)
    )
    noon = 11.5 + np.asarray(utc_offset, dtype=float)  # solar noon, local [h]
    hour = idx.hour.to_numpy() + 0.5
    shape = np.clip(np.cos(np.pi / 2 * (hour - noon) / half_day), 0, None)
    shape[np.abs(hour - noon) >= half_day] = 0.0
    day = (idx.tz_localize(None).normalize() - idx[0].tz_localize(None)).days
    clouds = (
        pd.Series(rng.uniform(0.2, 1.0, day.max() + 1))
        .rolling(2, min_periods=1)
        .mean()
        .to_numpy()[day]
    )
    peak = 6.0 + 2.0 * season
    y = peak * shape * clouds * rng.uniform(0.9, 1.0, len(idx))
    return pd.Series(np.round(y, 3), idx, name="energy_produced")


def _row(label: str, r: dict) -> str:
    return (
        f"  {label:<30} {r['mae']:8.3f} {r['wape'] * 100:7.1f} % "
        f"{r['coverage'] * 100:8.1f} % {r['skill_vs_naive']:+8.3f}"
    )


def report(
    series: pd.Series,
    name: str,
    *,
    horizon: int = 24,
    folds: int = 14,
    country: str | None = None,
) -> dict[str, dict]:
    """Print and return the backtest of auto and the two seasonal-naive baselines.

    Parameters
    ----------
    series : pd.Series
        History [kWh per interval] on a tz-aware, regular index.
    name : str
        Label for the printout.
    horizon : int
        Steps per fold [steps] (24 = day-ahead for hourly data).
    folds : int
        Backtest folds.
    country : str or None
        Holiday country passed to the models.

    Returns
    -------
    dict
        ``{"auto": backtest dict, "seasonal_naive_day": ..., ...}``.
    """
    print(f"\n{name}: {len(series)} points, horizon {horizon} steps, {folds} folds")
    print(f"  {'model':<30} {'MAE':>8} {'WAPE':>9} {'coverage':>10} {'skill':>8}")
    results: dict[str, dict] = {}
    start = time.perf_counter()
    results["auto"] = backtest(
        series, horizon, folds=folds, model="auto", country=country
    )
    seconds = time.perf_counter() - start
    print(
        _row(f"auto -> {results['auto']['model']}", results["auto"])
        + f"   ({seconds:.1f} s)"
    )
    for baseline in BASELINES:
        results[baseline] = backtest(
            series, horizon, folds=folds, model=baseline, country=country
        )
        print(_row(baseline, results[baseline]))
    return results


def timing(
    series: pd.Series,
    horizon: int = 168,
    *,
    name: str = "series",
    models: tuple[str, ...] = ("auto", "prophet", "seasonal_naive_week"),
) -> dict[str, float]:
    """Wall time [s] of ``forecast()`` (fit plus predict) per model, printed.

    The first call of a process also starts the worker server (about 1 s).
    """
    print(f"\nforecast() wall time, {name}: {len(series)} points, horizon {horizon}")
    out = {}
    for model in models:
        start = time.perf_counter()
        frame = forecast(series, horizon, model=model)
        seconds = time.perf_counter() - start
        out[model] = seconds
        verdict = "ok" if seconds <= TARGET_SECONDS else "OVER TARGET"
        print(
            f"  {model:<22} {seconds:6.2f} s  -> {frame.attrs['model']:<20} "
            f"[{verdict}, target <= {TARGET_SECONDS:g} s]"
        )
    return out


def main() -> None:
    consumption = synthetic_consumption()
    solar = synthetic_solar()
    timing(consumption, name="synthetic consumption")
    timing(solar, name="synthetic solar", models=("auto",))
    report(consumption, "synthetic consumption (1 year hourly)")
    report(solar, "synthetic solar production (1 year hourly)")


if __name__ == "__main__":
    main()
