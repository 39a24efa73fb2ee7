"""Backtests of a requested model on short histories: fewer selection and
calibration days before the folds, as ``forecast`` does, and when even that is
not enough, an error that states the history needed in days."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from energy_dash.forecasting import backtest, forecast

TZ = "Europe/Berlin"


def weekly(days: int, start: str = "2026-03-02") -> pd.Series:
    """Hour of day, plus 10 on weekends (exactly weekly); the last day 2 higher.

    Starts on a Monday: with 21 days the last two days are Saturday 21 and
    Sunday 22 March 2026 (no DST change inside).
    """
    idx = pd.date_range(start, periods=days * 24, freq="h", tz=TZ)
    y = idx.hour.to_numpy() + 10.0 * (idx.day_of_week.to_numpy() >= 5)
    y[-24:] += 2.0
    return pd.Series(y, idx, name="consumed")


def test_week_baseline_backtests_on_three_weeks_with_two_folds():
    history = weekly(21)
    result = backtest(history, 24, folds=2, model="seasonal_naive_week")
    assert result["model"] == "seasonal_naive_week"
    assert result["folds"] == 2
    assert result["cutoffs"] == [history.index[-48], history.index[-24]]
    # Saturday is repeated exactly; Sunday is 2 higher than a week before
    assert result["mae"] == 1.0
    assert result["rmse"] == 1.0
    hours = np.arange(24)
    assert result["mape"] == pytest.approx(np.mean(2 / (hours + 12)) / 2)
    saturday, sunday = (hours + 10).sum(), (hours + 12).sum()
    assert result["wape"] == pytest.approx(48 / (saturday + sunday))
    # the band learnt from exact repetitions is [yhat, yhat]: Saturday in, Sunday out
    assert result["coverage"] == 0.5
    assert result["baselines"] == {
        "seasonal_naive_day": 6.0, "seasonal_naive_week": 1.0,
    }
    assert result["skill_vs_naive"] == 0.0


def test_week_baseline_backtests_on_three_weeks_with_default_folds():
    history = weekly(21)
    result = backtest(history, 24, model="seasonal_naive_week")
    assert result["folds"] == 7
    assert result["cutoffs"][0] == history.index[-7 * 24]
    assert result["mae"] == pytest.approx(2 / 7)
    assert result["choices"] == ["seasonal_naive_week"] * 7


@pytest.mark.parametrize(
    ("days", "folds", "need"),
    [(11, 2, 12), (15, 7, 17)],
)
def test_too_short_for_a_requested_baseline_states_the_days_needed(days, folds, need):
    message = (
        f"history too short for seasonal_naive_week over {folds} folds: need "
        f"{need} days of history (7 before the first of 3 backtest days, then "
        f"the folds and the horizon), got {days} days"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        backtest(weekly(days), 24, folds=folds, model="seasonal_naive_week")
    result = backtest(weekly(need), 24, folds=folds, model="seasonal_naive_week")
    assert result["folds"] == folds


def test_too_short_to_forecast_a_requested_baseline_states_the_days_needed():
    message = (
        "history too short for seasonal_naive_week: need 10 days of history "
        "(7 before the first of 3 backtest days, then the horizon), got 9 days"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        forecast(weekly(9), 24, model="seasonal_naive_week")
    frame = forecast(weekly(10), 24, model="seasonal_naive_week")
    assert frame.attrs["backtest"]["folds"] == 3
