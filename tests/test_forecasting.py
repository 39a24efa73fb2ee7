"""Forecasting: real MSTL and Prophet fits on synthetic series with known patterns.

The series are hourly in Europe/Berlin and cross the spring DST change
(2024-03-31 02:00 does not exist).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from energy_dash.forecasting import (
    BASELINES,
    FORECAST_MODELS,
    backtest,
    forecast,
    prophet_runner,
    seasonal_naive,
    warm_up,
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


def periodic(weeks: int = 5) -> pd.Series:
    """Noise-free: 5 + a daily sine, 1 lower on weekends (UTC, no DST)."""
    idx = pd.date_range("2024-05-06", periods=weeks * 168, freq="h", tz="UTC")
    y = 5 + np.sin(2 * np.pi * idx.hour.to_numpy() / 24)
    y = y - (idx.day_of_week.to_numpy() >= 5)
    return pd.Series(y, idx, name="consumed")


def solar_no_location(start: str = "2024-03-04", weeks: int = 6, seed: int = 2):
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


@pytest.fixture(scope="module")
def auto_backtest(cons) -> dict:
    return backtest(cons, 24, folds=7)


def test_model_names():
    assert BASELINES == ("seasonal_naive_day", "seasonal_naive_week")
    assert FORECAST_MODELS == (
        "auto", "prophet", "ensemble", *BASELINES, "mstl", "solar", "prophet_default",
        "mstl_default", "mstl_ets",
    )


def test_auto_backtest_is_out_of_sample_and_beats_the_baselines(cons, auto_backtest):
    result = auto_backtest
    assert result["folds"] == 7 and result["horizon"] == 24
    assert len(result["choices"]) == 7
    assert set(result["candidates"]) == {"mstl", "mstl_ets", "prophet", *BASELINES}
    best_baseline = min(result["baselines"].values())
    assert result["skill_vs_naive"] == pytest.approx(1 - result["mae"] / best_baseline)
    assert result["skill_vs_naive"] > 0.2
    assert result["mae"] < result["candidates"]["mstl"] * 1.05
    assert 0.7 <= result["coverage"] <= 0.9
    for name, metrics in result["candidate_metrics"].items():
        assert 0.7 <= metrics["coverage"] <= 0.9, name
    assert result["cutoffs"][-1] == cons.index[-24]
    assert result["cutoffs"][0] == cons.index[-24 * 7]
    assert result["prophet_config"]["daily_order"] == 11


def test_auto_forecast_continues_the_index_across_dst(cons):
    history = cons[: pd.Timestamp("2024-03-30 12:00", tz=TZ)]
    frame = forecast(history, 48)
    assert list(frame.columns) == ["yhat", "yhat_lower", "yhat_upper"]
    assert len(frame) == 48
    assert str(frame.index.tz) == TZ and frame.index.name == "timestamp"
    assert frame.index[0] == history.index[-1] + pd.Timedelta(hours=1)
    assert (np.diff(frame.index.asi8) == 3_600_000_000_000).all()
    # 2024-03-31 has no 02:00 local: 23 local hours that day
    day = frame.index[frame.index.tz_localize(None).normalize() == "2024-03-31"]
    assert len(day) == 23 and 2 not in day.hour
    attrs = frame.attrs
    assert attrs["model"] in FORECAST_MODELS
    assert attrs["backtest"]["folds"] == 7
    # never worse than the best baseline on the origins it chose on
    assert attrs["backtest"]["skill_vs_naive"] >= 0
    assert attrs["candidates"][attrs["model"]] <= min(
        attrs["candidates"][b] for b in BASELINES
    )
    assert (frame["yhat_lower"] <= frame["yhat"]).all()
    assert (frame["yhat"] <= frame["yhat_upper"]).all()
    assert frame.notna().all().all()


def test_mstl_reproduces_a_noise_free_daily_and_weekly_pattern():
    series = periodic()
    history, future = series.iloc[:-24], series.iloc[-24:]
    frame = forecast(history, 24, model="mstl")
    assert frame.attrs["model"] == "mstl"
    np.testing.assert_allclose(frame["yhat"].to_numpy(), future.to_numpy(), atol=0.02)
    result = backtest(series, 24, folds=3, model="mstl")
    assert result["mae"] < 0.02
    assert result["candidates"]["seasonal_naive_week"] == 0.0  # exact repetition
    assert result["model"] == "mstl"


def test_production_without_location_is_nonnegative_and_zero_at_night():
    frame = forecast(solar_no_location(), 48)
    assert frame.attrs["nonnegative"] is True and frame.attrs["location"] is False
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

    result = backtest(cons, 24, folds=2, model="prophet", timeout=0.001)
    assert result["model"] in BASELINES
    assert result["fallback_reason"] == "prophet fit timed out after 0.001 s"
    assert result["skill_vs_naive"] == 0.0


def test_prophet_failure_falls_back_and_says_why(cons, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("optimizer diverged")

    # timeout=None fits in this process, so the patched fitter is the one used
    monkeypatch.setattr(prophet_runner, "fit_predict", broken)
    frame = forecast(cons, 24, model="prophet", timeout=None)
    assert frame.attrs["model"] in BASELINES
    assert frame.attrs["fallback_reason"] == (
        "prophet failed: RuntimeError: optimizer diverged"
    )


def test_auto_with_under_three_weeks_uses_baselines_and_says_so(cons):
    short = cons[: 10 * 24]
    frame = forecast(short, 24)
    assert frame.attrs["model"] in BASELINES
    assert "mstl and prophet skipped" in frame.attrs["note"]
    assert "fallback_reason" not in frame.attrs
    with pytest.raises(ValueError, match="too short for prophet"):
        forecast(short, 24, model="prophet")


def test_one_day_of_history_repeats_it_and_says_the_band_is_uncalibrated(cons):
    frame = forecast(cons[:36], 24)
    assert frame.attrs["model"] == "seasonal_naive_day"
    assert "interval not calibrated yet" in frame.attrs["note"]
    np.testing.assert_array_equal(frame["yhat"], cons.iloc[12:36].to_numpy())


def test_seasonal_naive_repeats_the_last_season():
    idx = pd.date_range("2024-03-30", periods=48, freq="h", tz=TZ)
    history = pd.Series(np.arange(48.0), idx)
    out = seasonal_naive(history, 30, 24)
    assert out.tolist() == [*range(24, 48), *range(24, 30)]
    assert out.index[0] == idx[-1] + pd.Timedelta(hours=1)


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
    assert result["baselines"]["seasonal_naive_day"] == pytest.approx(0.75)
    assert result["skill_vs_naive"] == 0.0
    # a quarter zeros: taken for production, so coverage counts the 18 day hours
    # only, and the band learnt from perfect days is [yhat, yhat]: all 11s fall out
    assert result["coverage"] == 0.0


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


def test_unknown_model_country_timeout_or_location_raise(cons):
    with pytest.raises(ValueError, match="unknown model"):
        forecast(cons, 24, model="arima")
    with pytest.raises(ValueError, match="unknown holiday country"):
        forecast(cons, 24, country="XX")
    with pytest.raises(ValueError, match="timeout"):
        forecast(cons, 24, timeout=0)
    with pytest.raises(ValueError, match="latitude must be between -90 and 90"):
        forecast(cons, 24, location=(91.0, 13.4))
    with pytest.raises(ValueError, match=r"location must be \(latitude, longitude\)"):
        forecast(cons, 24, location="Berlin")
    with pytest.raises(ValueError, match="weather has none of the columns"):
        forecast(cons, 24, weather=pd.DataFrame({"wind": [1.0]}, index=cons.index[:1]))
    with pytest.raises(ValueError, match="needs location"):
        forecast(cons, 24, model="solar")


def test_explicit_ensemble_with_holidays(cons):
    result = backtest(cons, 24, folds=2, model="ensemble", country="DE")
    assert result["model"] == "ensemble" and result["folds"] == 2
    assert result["prophet_config"]["country"] == "DE"
    assert all("+" in choice for choice in result["choices"])
    assert {"prophet", "mstl", "mstl_ets", *BASELINES} == set(result["candidates"])


def test_warm_up_sets_a_disk_cache_for_compiled_code(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    seconds = warm_up(tmp_path / "numba")
    assert seconds > 0
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
    assert (tmp_path / "numba").is_dir()


def test_tuned_mstl_trend_fits_additive_errors_only(monkeypatch):
    """The tuned ETS trend searches the additive-error forms only (the
    multiplicative ones never won on load and cost a third of a refresh);
    MSTL as shipped keeps statsforecast's full search."""
    import statsforecast.models as sf

    forms: list[str] = []

    class Recording(sf.AutoETS):
        def __init__(self, *args, **kwargs):
            forms.append(kwargs.get("model", "ZZZ"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sf, "AutoETS", Recording)
    history = periodic()
    tuned = forecast(history, 24, model="mstl_ets", timeout=None)
    assert set(forms) == {"AZN"}
    assert tuned.attrs["model"] == "mstl_ets"
    # noise-free daily sine and weekend step: the seasons alone are exact
    expected = 5 + np.sin(2 * np.pi * tuned.index.hour.to_numpy() / 24)
    np.testing.assert_allclose(tuned["yhat"].to_numpy(), expected, atol=0.05)
    forms.clear()
    forecast(history, 24, model="mstl_default", timeout=None)
    assert set(forms) == {"ZZN"}
