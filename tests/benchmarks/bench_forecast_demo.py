"""The demo's stored forecast refresh, timed on a freshly seeded database.

    python tests/benchmarks/bench_forecast_demo.py [--days 60]

Seeds the demo facility (one-minute readings of the simulated site) into a
temporary SQLite database and times one ``refresh_forecasts`` of both targets.
``demo_history`` reads the hourly history the way the refresh job does
(``services.forecasts.hourly_history``); ``bench_forecast_real`` prints its
accuracy table beside the real series.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from energy_dash.config import Settings
from energy_dash.db import dispose_engines, init_db
from energy_dash.demo.seed import seed_demo, site_model
from energy_dash.services import forecasts as store
from energy_dash.services.forecast_refresh import refresh_forecasts


def demo_history(
    days: int = 60,
) -> tuple[pd.DataFrame, str | None, tuple[float, float]]:
    """Hourly history of the seeded demo, its holiday country and site position."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        init_db(url)
        seeded = seed_demo(url, days=days, production=True, interval_s=60)
        info = store.facility_info(seeded.facility_id, database_url=url)
        history = store.hourly_history(seeded.facility_id, database_url=url,
                                       tz=info.timezone)
        dispose_engines()
    model = site_model()
    return history, info.country, (model.latitude, model.lon)


def main(days: int = 60) -> dict:
    """Seed, refresh both forecasts once and print the wall time."""
    logging.basicConfig(level=logging.WARNING)
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        init_db(url)
        started = time.perf_counter()
        seeded = seed_demo(url, days=days, production=True, interval_s=60)
        print(f"demo seeded: {seeded.readings} one-minute readings over {days} days "
              f"in {time.perf_counter() - started:.1f} s")
        settings = Settings(database_url=url, session_secret="x" * 40)
        started = time.perf_counter()
        results = refresh_forecasts(settings, facility_id=seeded.facility_id)
        seconds = time.perf_counter() - started
        print(f"\nrefresh_forecasts (both targets, stored): {seconds:.1f} s")
        for item in results:
            print(f"  {item['target']:<12} {item['status']:<8} "
                  f"{item['model'] or '':<20} {item['message']}")
        out["refresh_seconds"] = seconds
        dispose_engines()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60,
                        help="days of demo history (default 60)")
    main(parser.parse_args().days)
