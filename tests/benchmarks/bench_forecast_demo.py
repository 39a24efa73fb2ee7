"""Day-ahead forecasts on the demo data: the comparison table and the refresh.

    python tests/benchmarks/bench_forecast_demo.py [--days 60]

Seeds the demo facility (one-minute readings of the simulated site) into a
temporary SQLite database, reads its hourly history the way the refresh job does
(``data.forecasts.hourly_history``) and prints, day-ahead over 14 out-of-sample
daily folds, auto / Prophet defaults / MSTL alone / the seasonal-naive
baselines for consumption, and the same plus the solar model for production at
the simulated site's position; then the wall time of one stored refresh.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from bench_forecasting import compare

from energy_dash.config import Settings
from energy_dash.db import dispose_engines, init_db
from energy_dash.demo.seed import seed_demo, site_model
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
        print(f"demo seeded: {seeded.readings} one-minute readings over {days} days "
              f"in {time.perf_counter() - started:.1f} s")
        info = store.facility_info(seeded.facility_id, database_url=url)
        history = store.hourly_history(seeded.facility_id, database_url=url,
                                       tz=info.timezone)
        model = site_model()
        site = (model.latitude, model.lon)
        out["consumption"] = compare(
            history["energy_consumed"], "demo consumption", country=info.country
        )
        out["production"] = compare(
            history["energy_produced"], f"demo production at {site}",
            location=site, nonnegative=True, country=info.country,
        )
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
