"""The demo's past day-ahead forecasts: one per target for each of the last 7
local days, each made at that day's local midnight from the data before it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from energy_dash.db import session_scope
from energy_dash.db.models import Forecast, utc
from energy_dash.demo.seed import seed_demo, seed_forecast_history
from energy_dash.domain.times import local_midnight
from energy_dash.forecasting import forecast
from energy_dash.services import forecasts as store
from energy_dash.services.forecast_refresh import FORECAST_FOLDS

TZ = "Europe/Berlin"
END = pd.Timestamp("2026-06-18 10:20", tz="UTC")


def test_seven_past_days_each_forecast_only_from_the_data_before_it(sqlite_url):
    seeded = seed_demo(sqlite_url, days=10, end=END)
    fid = seeded.facility_id
    assert seed_forecast_history(sqlite_url, fid, end=END) == 14
    with session_scope(sqlite_url) as session:
        runs = session.scalars(
            select(Forecast).where(Forecast.facility_id == fid)
            .order_by(Forecast.trained_at, Forecast.target)
        ).all()
        runs = [(r.target, utc(r.trained_at), utc(r.start), r.metrics, r.points)
                for r in runs]
    days = [END.tz_convert(TZ).date() - timedelta(days=k) for k in range(7, 0, -1)]
    midnights = [local_midnight(day, TZ) for day in days]
    assert [(t, trained) for t, trained, *_ in runs] == [
        (target, m.to_pydatetime()) for m in midnights
        for target in ("consumption", "production")
    ]
    for _, trained, start, metrics, points in runs:
        assert start == trained  # the forecast starts at its day's first hour
        history_end = pd.Timestamp(metrics["history_end"])
        assert history_end == pd.Timestamp(trained) - pd.Timedelta(hours=1)
        assert len(points["yhat"]) == 24
    # the page's "yesterday against what happened" finds the run made at midnight
    yesterday = days[-1]
    run = store.forecast_for_day(fid, "consumption", yesterday, TZ,
                                 database_url=sqlite_url)
    assert run is not None and run.trained_at == midnights[-1]
    # recomputed from the history cut at that midnight: the very same numbers
    history = store.hourly_history(fid, end=midnights[-1], database_url=sqlite_url,
                                   tz=TZ)
    again = forecast(history["energy_consumed"], 24, country="DE", nonnegative=False,
                     folds=FORECAST_FOLDS).clip(lower=0.0)
    np.testing.assert_allclose(run.frame["yhat"].to_numpy(),
                               again["yhat"].to_numpy(), rtol=1e-9)
