"""Forecasting: real Prophet fits on small synthetic series with known patterns.

The series are hourly in Europe/Berlin and cross the spring DST change
(2024-03-31 02:00 does not exist). Whole file: a few seconds of Prophet fits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from energy_dash import forecasting
from energy_dash.forecasting import (
    BASELINES,
    FORECAST_MODELS,
    backtest,
    forecast,
    seasonal_naive,
)

TZ = "Europe/Berlin"


def consumption(start: str = "2024-02-19", weeks: int = 8, seed: int = 1) -> pd.Series:
    """Workday profile (morning and evening peaks), flatter weekends, noise sd 0.6."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(
        start, periods=weeks * 7 * 24, freq="h", tz=TZ, name="timestamp"
    )
    h = idx.hour.to_numpy()
    workday = idx.day_of_week.to_numpy() < 5
    profile = np.where(
        workday,
        3 + 4 * np.exp(-(((h - 11) / 3.5) ** 2)) + 2 * np.exp(-(((h - 19) / 2) ** 2)),
        3 + 1.5 * np.exp(-(((h - 13) / 4) ** 2)),
    )
    return pd.Series(profile + rng.normal(0, 0.6, len(idx)), idx, name="consumed")


def solar(start: str = "2024-03-04", weeks: int = 6, seed: int = 2) -> pd.Series:
    """Sun from 06:00 to 20:00 local, a random cloudiness per day, 0 at night."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(
        start, periods=weeks * 7 * 24, freq="h", tz=TZ, name="timestamp"
    )
    shape = np.clip(np.sin(np.pi * (idx.hour.to_numpy() - 6) / 14), 0, None)
    day = (idx.tz_localize(None).normalize() - idx[0].tz_localize(None)).days.to_numpy()
    cloud = rng.uniform(0.3, 1.0, day.max() + 1)[day]
    y = 5 * shape * cloud * rng.uniform(0.85, 1.0, len(idx))
    return pd.Series(np.round(y, 3), idx, name="produced")


@pytest.fixture(scope="module")
def cons() -> pd.Series:
    return consumption()


def test_model_names():
    assert BASELINES == ("seasonal_naive_day", "seasonal_naive_week")
    assert set(FORECAST_MODELS) == {"auto", "prophet", "ensemble", *BASELINES}


def test_auto_backtest_beats_the_baselines_with_a_calibrated_interval(cons):
    result = backtest(cons, 168, folds=3)
    assert result["folds"] == 3 and result["horizon"] == 168
    assert result["model"] in ("prophet", "ensemble")
    assert result["mae"] <= min(result["baselines"].values())
    assert result["skill_vs_naive"] == pytest.approx(
        1 - result["mae"] / min(result["baselines"].values())
    )
    assert result["skill_vs_naive"] > 0.1
    assert 0.7 <= result["coverage"] <= 0.9
    assert set(result["baselines"]) == set(BASELINES)
    assert {"mape", "wape", "rmse", "candidates", "cutoffs"} <= set(result)
    assert result["cutoffs"][-1] == cons.index[-168]
    assert result["prophet_config"]["daily_order"] == 11


def test_auto_forecast_continues_the_index_across_dst(cons):
    history = cons[: pd.Timestamp("2024-03-30 12:00", tz=TZ)]
    frame = forecast(history, 48, folds=3)
    assert list(frame.columns) == ["yhat", "yhat_lower", "yhat_upper"]
    assert len(frame) == 48
    assert str(frame.index.tz) == TZ and frame.index.name == "timestamp"
    assert frame.index.freq == pd.Timedelta(hours=1)
    assert frame.index[0] == history.index[-1] + pd.Timedelta(hours=1)
    assert (np.diff(frame.index.asi8) == np.diff(frame.index.asi8)[0]).all()
    # 2024-03-31 has no 02:00 local: 23 local hours that day
    day = frame.index[frame.index.tz_localize(None).normalize() == "2024-03-31"]
    assert len(day) == 23 and 2 not in day.hour
    assert frame.attrs["model"] in FORECAST_MODELS
    assert frame.attrs["backtest"]["skill_vs_naive"] >= 0
    assert frame.attrs["candidates"][frame.attrs["model"]] == min(
        frame.attrs["candidates"][b] for b in [*BASELINES, frame.attrs["model"]]
    )
    assert (frame["yhat_lower"] <= frame["yhat"]).all()
    assert (frame["yhat"] <= frame["yhat_upper"]).all()
    assert frame.notna().all().all()


def test_production_forecast_is_nonnegative_and_zero_at_night():
    history = solar()
    frame = forecast(history, 48, folds=3)
    assert frame.attrs["nonnegative"] is True
    assert (frame >= 0).all().all()
    night = frame[(frame.index.hour < 6) | (frame.index.hour >= 20)]
    assert len(night) == 20
    assert (night == 0.0).all().all()
    noon = frame[frame.index.hour == 13]
    assert (noon["yhat"] > 1.0).all()
    assert (noon["yhat_upper"] > noon["yhat_lower"]).all()


def test_prophet_timeout_falls_back_to_the_best_baseline(cons):
    frame = forecast(cons, 24, model="prophet", timeout=0.001)
    candidates = frame.attrs["candidates"]
    assert set(candidates) == set(BASELINES)
    assert frame.attrs["model"] == min(BASELINES, key=candidates.get)
    assert frame.attrs["fallback_reason"] == "prophet fit timed out after 0.001 s"
    assert frame.attrs["requested_model"] == "prophet"
    assert len(frame) == 24 and frame.notna().all().all()

    result = backtest(cons, 24, folds=2, model="auto", timeout=0.001)
    assert result["model"] in BASELINES
    assert result["fallback_reason"] == "prophet fit timed out after 0.001 s"
    assert result["skill_vs_naive"] == 0.0


def test_prophet_failure_falls_back_and_says_why(cons, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("optimizer diverged")

    # timeout=None fits in this process, so the patched fitter is the one used
    monkeypatch.setattr(forecasting, "_prophet_fit_predict", broken)
    frame = forecast(cons, 24, model="prophet", timeout=None)
    assert frame.attrs["model"] in BASELINES
    assert frame.attrs["fallback_reason"] == (
        "prophet failed: RuntimeError: optimizer diverged"
    )


def test_auto_with_under_two_weeks_uses_baselines_and_says_so(cons):
    short = cons[: 10 * 24]
    frame = forecast(short, 24)
    assert frame.attrs["model"] in BASELINES
    assert "prophet skipped" in frame.attrs["note"]
    assert "fallback_reason" not in frame.attrs
    with pytest.raises(ValueError, match="too short for prophet"):
        forecast(short, 24, model="prophet")


def test_seasonal_naive_repeats_the_last_season():
    idx = pd.date_range("2024-03-30", periods=48, freq="h", tz=TZ)
    history = pd.Series(np.arange(48.0), idx)
    out = seasonal_naive(history, 30, 24)
    assert out.tolist() == [*range(24, 48), *range(24, 30)]
    assert out.index[0] == idx[-1] + pd.Timedelta(hours=1)
    assert len(out) == 30


def test_baseline_forecast_is_the_last_week_with_an_interval(cons):
    frame = forecast(cons, 24, model="seasonal_naive_week")
    assert frame.attrs["model"] == "seasonal_naive_week"
    np.testing.assert_array_equal(frame["yhat"], cons.iloc[-168:-144].to_numpy())
    assert (frame["yhat_lower"] < frame["yhat"]).all()
    assert (frame["yhat"] < frame["yhat_upper"]).all()


def test_backtest_metrics_exact_for_a_known_error():
    # daily profile 0 (night) / 10 (day); the last day is 11 instead of 10
    idx = pd.date_range("2024-05-01", periods=10 * 24, freq="h", tz=TZ)
    y = np.where(idx.hour < 6, 0.0, 10.0)
    y[-24:][idx[-24:].hour >= 6] = 11.0
    result = backtest(pd.Series(y, idx), 24, folds=1, model="seasonal_naive_day")
    assert result["folds"] == 1
    assert result["mae"] == pytest.approx(18 / 24)
    assert result["rmse"] == pytest.approx(math.sqrt(18 / 24))
    assert result["mape"] == pytest.approx(1 / 11)  # the 6 zero actuals are ignored
    assert result["wape"] == pytest.approx(18 / (18 * 11))
    assert result["baselines"] == {
        "seasonal_naive_day": pytest.approx(0.75),
        "seasonal_naive_week": pytest.approx(0.75),
    }
    assert result["skill_vs_naive"] == 0.0


@pytest.mark.parametrize(
    ("history", "horizon", "message"),
    [
        (
            pd.Series(1.0, pd.date_range("2024-01-01", periods=72, freq="h")),
            24,
            "tz-aware",
        ),
        (
            pd.Series(
                1.0,
                pd.DatetimeIndex(
                    [
                        "2024-01-01 00:00",
                        "2024-01-01 01:00",
                        "2024-01-01 03:00",
                        "2024-01-01 04:00",
                    ],
                    tz="UTC",
                ),
            ),
            1,
            "regular",
        ),
        (
            pd.Series(1.0, pd.date_range("2024-01-01", periods=72, freq="h", tz="UTC")),
            0,
            "at least 1",
        ),
        (
            pd.Series(1.0, pd.date_range("2024-01-01", periods=72, freq="h", tz="UTC")),
            2.5,
            "integer",
        ),
    ],
    ids=["naive-index", "irregular-index", "horizon-0", "horizon-float"],
)
def test_invalid_input_raises_value_error(history, horizon, message):
    with pytest.raises(ValueError, match=message):
        forecast(history, horizon)
    with pytest.raises(ValueError, match=message):
        backtest(history, horizon)


def test_unknown_model_country_or_timeout_raise(cons):
    with pytest.raises(ValueError, match="unknown model"):
        forecast(cons, 24, model="arima")
    with pytest.raises(ValueError, match="unknown holiday country"):
        forecast(cons, 24, country="XX")
    with pytest.raises(ValueError, match="timeout"):
        forecast(cons, 24, timeout=0)


def test_explicit_ensemble_with_holidays(cons):
    result = backtest(cons, 24, folds=2, model="ensemble", country="DE")
    assert result["model"] == "ensemble" and result["folds"] == 2
    assert result["prophet_config"]["country"] == "DE"
    assert {"prophet", "ensemble", *BASELINES} == set(result["candidates"])
