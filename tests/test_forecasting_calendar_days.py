"""The future index across daylight-saving changes (Europe/Berlin 2026: clocks go
forward on 29 March, back on 25 October).

Daily histories are local calendar days, so their future keeps the local wall
time; hourly and 15-minute histories are fixed steps in absolute time, so their
future has 23 or 25 local hours on a change day, as the input does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_dash.forecasting import forecast, seasonal_naive

TZ = "Europe/Berlin"


def daily(start: str, end: str, hour: int = 0) -> pd.Series:
    idx = pd.date_range(start, end, freq="D", tz=TZ) + pd.Timedelta(hours=hour)
    return pd.Series(np.arange(len(idx), dtype=float) % 7 + 10.0, idx, name="kwh")


def stamps(index: pd.DatetimeIndex) -> list[str]:
    return [t.isoformat() for t in index]


def test_daily_forecast_stays_at_local_midnight_after_the_spring_change():
    frame = forecast(daily("2026-02-01", "2026-03-27"), 5)
    assert stamps(frame.index) == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        "2026-03-31T00:00:00+02:00",
        "2026-04-01T00:00:00+02:00",
    ]
    assert str(frame.index.tz) == TZ


@pytest.mark.parametrize(
    ("history", "horizon", "expected"),
    [
        (
            daily("2026-09-01", "2026-10-23"),
            5,
            [
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
                "2026-10-27T00:00:00+01:00",
                "2026-10-28T00:00:00+01:00",
            ],
        ),
        (  # the history itself crosses the spring change
            daily("2026-03-20", "2026-10-23"),
            3,
            [
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
            ],
        ),
        (  # any fixed local wall time, not only midnight
            daily("2026-03-01", "2026-03-27", hour=6),
            3,
            [
                "2026-03-28T06:00:00+01:00",
                "2026-03-29T06:00:00+02:00",
                "2026-03-30T06:00:00+02:00",
            ],
        ),
    ],
    ids=["autumn", "history-crosses-a-change", "six-o-clock"],
)
def test_daily_future_keeps_the_local_wall_time(history, horizon, expected):
    out = seasonal_naive(history, horizon, 7)
    assert stamps(out.index) == expected
    np.testing.assert_array_equal(out.to_numpy(), history.iloc[-7:][:horizon])


def test_hourly_future_has_25_local_hours_on_the_autumn_change():
    idx = pd.date_range("2026-10-18", periods=7 * 24, freq="h", tz=TZ)
    out = seasonal_naive(pd.Series(np.arange(len(idx), dtype=float), idx), 48, 24)
    assert out.index[0].isoformat() == "2026-10-25T00:00:00+02:00"
    assert out.index[-1].isoformat() == "2026-10-26T22:00:00+01:00"
    assert (np.diff(out.index.asi8) == 3_600 * 10**9).all()
    day = out.index[out.index.tz_localize(None).normalize() == "2026-10-25"]
    assert list(day.hour) == [0, 1, 2, 2, *range(3, 24)]
    assert stamps(day[2:4]) == [
        "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00",
    ]


def test_quarter_hourly_future_has_23_local_hours_on_the_spring_change():
    idx = pd.date_range("2026-03-27", periods=2 * 96, freq="15min", tz=TZ)
    out = seasonal_naive(pd.Series(np.arange(len(idx), dtype=float), idx), 192, 96)
    assert out.index[0].isoformat() == "2026-03-29T00:00:00+01:00"
    assert out.index[-1].isoformat() == "2026-03-31T00:45:00+02:00"
    assert (np.diff(out.index.asi8) == 900 * 10**9).all()
    day = out.index[out.index.tz_localize(None).normalize() == "2026-03-29"]
    assert len(day) == 92 and 2 not in day.hour
