"""Forecasts on the demo data: backtest accuracy, the stored refresh, and fit speed.

    python tests/benchmarks/bench_forecast_demo.py [--days 60]

Seeds the demo facility (``energy_dash.demo.seed_demo``: one-minute readings of
the simulated site) into a temporary SQLite database, reads its hourly history
the way the refresh job does (``data.forecasts.hourly_history``), and prints:

* MAE, WAPE and 80 %-interval coverage of ``auto`` against the
  ``seasonal_naive_day`` and ``seasonal_naive_week`` baselines, day-ahead
  (24 hourly steps) over 14 rolling-origin folds, for consumption and production
  (``bench_forecasting.report``);
* the wall time of one ``refresh_forecasts`` run (both targets, stored);
* the wall time of ``forecast()`` (fit plus predict) on one year of hourly data
  (``bench_forecasting.timing``; target <= 10 s per series on 2 cores).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from bench_forecasting import report, synthetic_consumption, timing

from energy_dash.config import Settings
from energy_dash.db import dispose_engines, init_db
from energy_dash.demo.seed import seed_demo
from energy_dash.services import forecasts as store
from energy_dash.services.forecast_refresh import refresh_forecasts


def main(days: int = 60) -> dict:
    """Run the benchmark and print its figures; returns them as a dict."""
    logging.basicConfig(level=logging.WARNING)
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        init_db(url)
        started = time.perf_counter()
        seeded = seed_demo(url, days=days, production=True)
        seconds = time.perf_counter() - started
        print(f"demo seeded: {seeded.readings} one-minute readings over {days} days "
              f"in {seconds:.1f} s")
        info = store.facility_info(seeded.facility_id, database_url=url)
        history = store.hourly_history(seeded.facility_id, database_url=url,
                                       tz=info.timezone)
        print(f"hourly history: {len(history)} hours "
              f"({history.attrs['hours_with_data']} with readings, "
              f"{history.attrs['filled_hours']} short gaps filled), zone "
              f"{info.timezone}, holidays {info.country}")
        for target, column in store.TARGETS.items():
            out[target] = report(
                history[column], f"demo {target} (day-ahead)", horizon=24, folds=14,
                country=info.country,
            )
        settings = Settings(database_url=url, session_secret="x" * 40)
        started = time.perf_counter()
        results = refresh_forecasts(settings, facility_id=seeded.facility_id)
        seconds = time.perf_counter() - started
        print(f"\nrefresh_forecasts (both targets, stored): {seconds:.1f} s")
        for item in results:
            model = item["model"] or ""
            print(f"  {item['target']:<12} {item['status']:<8} {model:<20} "
                  f"{item['message']}")
        out["refresh_seconds"] = seconds
        dispose_engines()
    out["timing"] = timing(synthetic_consumption(), horizon=24,
                           name="one year hourly (synthetic consumption)")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60,
                        help="days of demo history (default 60)")
    main(parser.parse_args().days)
