"""Production forecasts from the sun's geometry (pvlib) at a location.

Synthetic roofs in Berlin: clear-sky irradiance from pvlib times a known
cloudiness per day; the checks of "sun below the horizon" use pvlib directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pvlib.solarposition import get_solarposition

from energy_dash.domain.solar import check_location, clear_sky
from energy_dash.forecasting import backtest, forecast

TZ = "Europe/Berlin"
BERLIN = (52.52, 13.40)


def roof(start: str, days: int, seed: int = 3, cloud: np.ndarray | None = None):
    """Hourly energy [kWh] of a 10 kWp roof: clear-sky GHI x (1 - 0.75 cloud)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=days * 24, freq="h", tz=TZ, name="timestamp")
    sky = clear_sky(idx, idx + pd.Timedelta(hours=1), *BERLIN)["ghi_clear"]
    day = (idx.tz_localize(None).normalize() - idx[0].tz_localize(None)).days
    if cloud is None:
        cloud = rng.uniform(0.0, 0.8, day.max() + 1)[day]
    y = 10.0 * sky.to_numpy() / 1000.0 * (1 - 0.75 * cloud)
    return pd.Series(np.round(y, 4), idx, name="produced"), cloud


def sun_below_horizon_all_hour(index: pd.DatetimeIndex) -> np.ndarray:
    """pvlib's own verdict at the start, every 10 minutes and the end of each hour."""
    below = np.ones(len(index), dtype=bool)
    for minutes in range(0, 61, 10):
        times = index + pd.Timedelta(minutes=minutes)
        elevation = get_solarposition(times, *BERLIN)["apparent_elevation"].to_numpy()
        below &= elevation <= 0
    return below


@pytest.fixture(scope="module")
def june():
    return roof("2024-05-10", 42)[0]


def test_production_is_exactly_zero_whenever_pvlib_says_the_sun_is_down(june):
    frame = forecast(june, 48, location=BERLIN)
    assert frame.attrs["location"] is True and frame.attrs["nonnegative"] is True
    assert frame.attrs["model"] in ("solar", "ensemble")
    down = sun_below_horizon_all_hour(frame.index)
    assert down.sum() >= 10  # short June nights still have hours of darkness
    assert (frame[down] == 0.0).all().all()
    assert (frame >= 0.0).all().all()
    noon = frame[frame.index.hour == 13]
    assert (noon["yhat"] > 2.0).all()
    assert (noon["yhat_upper"] > noon["yhat_lower"]).all()


def test_solar_beats_same_time_yesterday_with_a_calibrated_interval(june):
    result = backtest(june, 24, folds=7, location=BERLIN)
    naive = result["candidate_metrics"]["seasonal_naive_day"]
    solar = result["candidate_metrics"]["solar"]
    assert solar["wape"] <= 0.8 * naive["wape"]
    assert result["wape"] <= 0.8 * naive["wape"]
    assert 0.7 <= result["coverage"] <= 0.9
    assert 0.7 <= solar["coverage"] <= 0.9


def test_first_day_of_history_already_has_the_daily_shape_and_the_season():
    history, _ = roof("2024-06-20", 1, cloud=np.zeros(24))
    frame = forecast(history, 24, location=BERLIN)
    assert frame.attrs["model"] == "solar"
    assert "interval not calibrated yet" in frame.attrs["note"]
    down = sun_below_horizon_all_hour(frame.index)
    assert (frame[down] == 0.0).all().all()
    # a clear day follows a clear day: the same midsummer curve, to within 1 %
    np.testing.assert_allclose(frame["yhat"].to_numpy(), history.to_numpy(),
                               rtol=0.01, atol=0.01)
    assert frame["yhat"].idxmax().hour == 13  # 13:00-14:00 CEST holds solar noon


def test_dst_change_keeps_zeros_on_the_sun_not_on_the_clock():
    history, _ = roof("2024-03-05", 30)
    assert history.index[-1].utcoffset() == pd.Timedelta(hours=2)  # after 31 March
    frame = forecast(history, 24, location=BERLIN)
    down = sun_below_horizon_all_hour(frame.index)
    assert (frame[down] == 0.0).all().all()
    assert (frame[~down]["yhat"] > 0).sum() >= 12


def test_cloud_cover_forecast_is_used_and_helps():
    history, cloud = roof("2024-05-10", 42, seed=5)
    index = history.index
    weather = pd.DataFrame({"cloud_cover": 100 * cloud}, index=index)
    train, actual = history.iloc[:-24], history.iloc[-24:]
    with_weather = forecast(train, 24, location=BERLIN, weather=weather)
    without = forecast(train, 24, location=BERLIN)
    assert with_weather.attrs["weather"] == ["cloud_cover"]
    assert without.attrs["weather"] == []

    def wape(frame):
        return float(np.abs(frame["yhat"] - actual).sum() / actual.sum())

    assert wape(with_weather) < 0.05
    assert wape(with_weather) < 0.5 * wape(without)


def test_weather_that_misses_the_horizon_is_ignored(june):
    weather = pd.DataFrame({"cloud_cover": 50.0}, index=june.index)  # history only
    frame = forecast(june, 24, location=BERLIN, weather=weather)
    assert frame.attrs["weather"] == []


def test_clear_sky_of_an_hour_is_zero_only_when_the_sun_never_rises_in_it():
    idx = pd.date_range("2024-06-21", periods=24, freq="h", tz=TZ)
    sky = clear_sky(idx, idx + pd.Timedelta(hours=1), *BERLIN)
    down = sun_below_horizon_all_hour(idx)
    np.testing.assert_array_equal(~sky["sun_up"].to_numpy(), down)
    assert (sky.loc[~sky["sun_up"], "ghi_clear"] == 0).all()
    assert sky["ghi_clear"].max() > 700  # midsummer noon in Berlin [W/m²]


@pytest.mark.parametrize(
    ("location", "message"),
    [((52.5, 200.0), "longitude"), ((float("nan"), 13.4), "latitude"),
     ((1.0,), "location must be")],
)
def test_check_location_names_the_bad_part(location, message):
    with pytest.raises(ValueError, match=message):
        check_location(location)
