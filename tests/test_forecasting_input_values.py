"""Values the forecasting module refuses: infinite history values and weather
outside physical bounds. Both raise before any model runs, naming the problem
and the first offending timestamp; NaN (missing) stays allowed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from energy_dash.forecasting import backtest, forecast

TZ = "Europe/Berlin"


def three_weeks() -> pd.Series:
    idx = pd.date_range("2026-03-01", periods=21 * 24, freq="h", tz=TZ)
    return pd.Series(5 + np.sin(2 * np.pi * idx.hour.to_numpy() / 24), idx)


def weather_for(history: pd.Series, horizon: int = 24) -> pd.DataFrame:
    step = history.index[1] - history.index[0]
    idx = pd.date_range(history.index[0], periods=len(history) + horizon,
                        freq=step)
    return pd.DataFrame(
        {"ghi": 100.0, "cloud_cover": 50.0, "temperature": 10.0}, index=idx
    )


@pytest.mark.parametrize("value", [np.inf, -np.inf], ids=["inf", "-inf"])
@pytest.mark.parametrize(
    "call",
    [
        lambda s: forecast(s, 24),
        lambda s: forecast(s, 24, model="seasonal_naive_day"),
        lambda s: backtest(s, 24, folds=2),
        lambda s: backtest(s, 24, folds=2, model="seasonal_naive_day"),
    ],
    ids=["forecast-auto", "forecast-naive", "backtest-auto", "backtest-naive"],
)
def test_infinite_history_value_is_refused_with_its_timestamp(call, value):
    history = three_weeks()
    history.iloc[-3] = value
    history.iloc[-2] = value
    expected = (
        f"history values must be finite or NaN (missing): {value} at "
        "2026-03-21 21:00:00+01:00"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        call(history)


@pytest.mark.parametrize(
    ("column", "when", "value", "message"),
    [
        ("cloud_cover", "2026-03-10 08:00", 500.0,
         "weather cloud_cover must be from 0 to 100 % (NaN if missing): 500 at "
         "2026-03-10 08:00:00+01:00"),
        ("ghi", "2026-03-22 12:00", -5.0,  # in the horizon
         "weather ghi must be from 0 to 1500 W/m² (NaN if missing): -5 at "
         "2026-03-22 12:00:00+01:00"),
        ("ghi", "2026-03-05 13:00", 1500.5,
         "weather ghi must be from 0 to 1500 W/m² (NaN if missing): 1500.5 at "
         "2026-03-05 13:00:00+01:00"),
        ("temperature", "2026-03-02 00:00", 70.0,
         "weather temperature must be from -90 to 60 °C (NaN if missing): 70 at "
         "2026-03-02 00:00:00+01:00"),
        ("temperature", "2026-03-02 01:00", -np.inf,
         "weather temperature must be from -90 to 60 °C (NaN if missing): -inf at "
         "2026-03-02 01:00:00+01:00"),
    ],
    ids=["cloud-500", "ghi-negative", "ghi-too-high", "temperature-70",
         "temperature-minus-inf"],
)
def test_weather_out_of_physical_range_is_refused(column, when, value, message):
    history = three_weeks()
    weather = weather_for(history)
    weather.loc[pd.Timestamp(when, tz=TZ), column] = value
    weather.loc[pd.Timestamp("2026-03-23 10:00", tz=TZ), column] = value  # later
    pattern = f"^{re.escape(message)}$"
    with pytest.raises(ValueError, match=pattern):
        forecast(history, 24, model="seasonal_naive_day", weather=weather)
    with pytest.raises(ValueError, match=pattern):
        backtest(history, 24, folds=2, model="seasonal_naive_day", weather=weather)


def test_weather_at_its_bounds_or_missing_is_used():
    history = three_weeks()
    weather = weather_for(history)
    weather.iloc[:4] = [[0.0, 0.0, -90.0], [1500.0, 100.0, 60.0],
                        [np.nan, np.nan, np.nan], [-0.0, 100.0, 59.5]]
    frame = forecast(history, 24, model="seasonal_naive_day", weather=weather)
    assert frame.attrs["weather"] == ["ghi", "cloud_cover", "temperature"]
    np.testing.assert_array_equal(frame["yhat"], history.iloc[-24:].to_numpy())


def test_weather_outside_the_forecast_timestamps_is_not_checked():
    history = three_weeks()
    weather = weather_for(history)
    before = pd.DataFrame({"ghi": [-5.0], "cloud_cover": [500.0]},
                          index=[history.index[0] - pd.Timedelta(hours=1)])
    frame = forecast(history, 24, model="seasonal_naive_day",
                     weather=pd.concat([before, weather]))
    assert frame.attrs["weather"] == ["ghi", "cloud_cover", "temperature"]
