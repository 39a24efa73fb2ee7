"""Forecasting benchmark helpers, and the speed of one year of hourly history.

    python tests/benchmarks/bench_forecasting.py

``compare(series, name, ...)`` prints one day-ahead table (out-of-sample
rolling-origin backtest, the same folds for every row): ``auto``, Prophet and
statsforecast's MSTL each with their shipped defaults, the tuned candidates
inside auto, the seasonal-naive baselines (and the solar model when a location
is given), with WAPE, MAPE, 80 %-interval coverage and seconds per
fit. ``main`` times both forecasts of a facility with one year of hourly
history (target <= 5 s of CPU on this machine, after ``warm_up``; wall time
beside it with the load average).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd

from energy_dash.forecasting import backtest, forecast, warm_up

TZ = "Europe/Berlin"
TARGET_SECONDS = 5.0
BERLIN = (52.52, 13.40)


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
    days: int = 365, seed: int = 8, start: str = "2023-07-01",
    location: tuple[float, float] = BERLIN,
) -> pd.Series:
    """Hourly production [kWh] of a 10 kWp roof: pvlib clear sky times a cloudiness
    that drifts from day to day."""
    from energy_dash.domain.solar import clear_sky

    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=days * 24, freq="h", tz=TZ, name="timestamp")
    sky = clear_sky(idx, idx + pd.Timedelta(hours=1), *location)["ghi_clear"]
    day = (idx.tz_localize(None).normalize() - idx[0].tz_localize(None)).days
    clouds = (
        pd.Series(rng.uniform(0.2, 1.0, day.max() + 1))
        .rolling(2, min_periods=1).mean().to_numpy()[day]
    )
    y = 10.0 * sky.to_numpy() / 1000.0 * clouds * rng.uniform(0.9, 1.0, len(idx))
    return pd.Series(np.round(y, 3), idx, name="energy_produced")


def _fmt(value: float, percent: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "     -"
    return f"{value * 100:6.2f}" if percent else f"{value:6.2f}"


def compare(
    series: pd.Series,
    name: str,
    *,
    horizon: int = 24,
    folds: int = 14,
    location: tuple[float, float] | None = None,
    country: str | None = None,
    nonnegative: bool | None = None,
    weather: pd.DataFrame | None = None,
    peers: bool = True,
) -> dict[str, dict]:
    """Print and return the day-ahead comparison table of one series.

    ``weather`` goes to ``auto`` only; ``peers=False`` skips Prophet and MSTL
    with their defaults (a second table of the same series would repeat them).

    Returns ``{row name: {"wape", "mape", "coverage", "seconds_per_fit"}}``
    plus ``"auto_choices"``.
    """
    options = dict(folds=folds, country=country, nonnegative=nonnegative)
    started = time.perf_counter()
    auto = backtest(series, horizon, location=location, weather=weather, **options)
    auto_seconds = time.perf_counter() - started
    rows: dict[str, dict] = {
        "auto": {**auto, "seconds_per_fit": auto_seconds / max(1, auto["folds"])},
    }
    timings = [f"auto {auto_seconds:.1f} s"]
    for model, label in (("prophet_default", "prophet (defaults)"),
                         ("mstl_default", "mstl alone (defaults)")) if peers else ():
        started = time.perf_counter()
        peer = backtest(series, horizon, model=model, **options)
        timings.append(f"{label} {time.perf_counter() - started:.1f} s")
        rows[label] = {
            **peer["candidate_metrics"][model],
            "seconds_per_fit": peer["seconds_per_fit"].get(model),
        }
    for key, label in (
        ("mstl", "mstl (AR trend)"), ("mstl_ets", "mstl (ETS trend)"),
        ("prophet", "prophet (tuned)"), ("solar", "solar"),
        ("solar_weather", "solar with weather"),
        ("seasonal_naive_day", "same time yesterday"),
        ("seasonal_naive_week", "same time last week"),
    ):
        if key in auto["candidate_metrics"]:
            rows[label] = {
                **auto["candidate_metrics"][key],
                "seconds_per_fit": auto["seconds_per_fit"].get(key),
            }
    print(f"\n{name}: {len(series)} points, step {series.index[1] - series.index[0]}, "
          f"horizon {horizon} steps, {auto['folds']} daily folds out of sample "
          f"({', '.join(timings)})")
    print(f"  {'model':<22} {'WAPE %':>7} {'MAPE %':>7} {'cover %':>8} {'s/fit':>7}")
    for label, r in rows.items():
        print(f"  {label:<22} {_fmt(r['wape']):>7} {_fmt(r['mape']):>7} "
              f"{_fmt(r['coverage']):>8} {_fmt(r['seconds_per_fit'], False):>7}")
    choices = pd.Series(auto["choices"]).value_counts().to_dict()
    print(f"  auto chose per fold: {choices}")
    rows["auto_choices"] = choices
    return rows


ROW_ORDER = (
    "auto", "prophet (defaults)", "mstl alone (defaults)", "mstl (AR trend)",
    "mstl (ETS trend)", "prophet (tuned)", "solar", "solar with weather",
    "same time yesterday",
    "same time last week",
)


def side_by_side(tables: dict[str, dict[str, dict]]) -> list[str]:
    """One table, a row per model and a WAPE / coverage / s-per-fit column group
    per series, so every series of the run reads against the others."""
    names = list(tables)
    width = max(19, *(len(n) for n in names))
    head = f"  {'model':<22}" + "".join(f" | {n:^{width}}" for n in names)
    sub = f"  {'':<22}" + "".join(
        f" | {'WAPE %':>6} {'cov %':>5} {'s/fit':>{width - 13}}" for _ in names
    )
    lines = [head, sub]
    for label in ROW_ORDER:
        if not any(label in t for t in tables.values()):
            continue
        cells = []
        for n in names:
            r = tables[n].get(label)
            if r is None:
                cells.append(f" | {'':>{width}}")
                continue
            cov = r["coverage"]
            cov_text = f"{cov * 100:5.1f}" if cov is not None and math.isfinite(cov) \
                else "    -"
            sec = r.get("seconds_per_fit")
            sec_text = f"{sec:.2f}" if sec is not None and math.isfinite(sec) else "-"
            cells.append(
                f" | {r['wape'] * 100:6.2f} {cov_text} {sec_text:>{width - 13}}"
            )
        lines.append(f"  {label:<22}" + "".join(cells))
    return lines


def cpu_seconds() -> float:
    """CPU time [s] of this process plus its finished children, the Prophet
    workers included: they are children of the fork server, whose own
    children's time ``/proc`` reports (a loaded machine stretches wall time,
    not this)."""
    import multiprocessing.forkserver as forkserver
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if pid:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return total
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


def facility_timing(days: int = 365) -> tuple[float, float]:
    """Wall and CPU time [s] of both day-ahead forecasts of a facility with
    ``days`` of hourly history (consumption, and production with a location)."""
    consumption = synthetic_consumption(days)
    production = synthetic_solar(days, start="2024-01-01")
    started, cpu = time.perf_counter(), cpu_seconds()
    cons = forecast(consumption, 24)
    prod = forecast(production, 24, location=BERLIN, nonnegative=True)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    verdict = "ok" if cpu <= TARGET_SECONDS else "OVER TARGET"
    print(f"\nboth forecasts of a facility, {days} days hourly: CPU {cpu:.2f} s "
          f"[{verdict}, target <= {TARGET_SECONDS:g} s], wall {seconds:.2f} s at "
          f"load {os.getloadavg()[0]:.2f} -> consumption "
          f"{cons.attrs['model']} {cons.attrs.get('members', '')}, production "
          f"{prod.attrs['model']} {prod.attrs.get('members', '')}")
    return seconds, cpu


def main() -> None:
    seconds = warm_up()
    print(f"warm_up (imports, fork server, first fits): {seconds:.1f} s")
    facility_timing()
    facility_timing()


if __name__ == "__main__":
    main()
