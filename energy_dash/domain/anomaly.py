"""Unusual consumption: is an hour's actual energy outside the 80 % interval of the
stored forecast that covered it? Pure judgement; the alert rows are written by
``energy_dash.services.forecasts.check_unusual_consumption``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from energy_dash.domain.times import HOUR

ANOMALY_LOOKBACK = pd.Timedelta(days=7)  # an open excursion's extreme is sought here


def anomaly_message(verdict: dict[str, Any], tz: str) -> str:
    hour = verdict["hour"]
    local = hour.tz_convert(tz)
    until = (hour + HOUR).tz_convert(tz)
    word = "above" if verdict["actual"] > verdict["upper"] else "below"
    return (
        f"Unusual consumption: {verdict['actual']:.2f} kWh on {local:%Y-%m-%d} "
        f"{local:%H:%M}–{until:%H:%M} {local.tzname()}, {word} the expected "
        f"{verdict['lower']:.2f}–{verdict['upper']:.2f} kWh (80 % forecast interval)"
    )


def distance(verdict: dict[str, Any]) -> float:
    """How far [kWh] an hour lies outside its interval (0 inside)."""
    a, lo, hi = verdict["actual"], verdict["lower"], verdict["upper"]
    return max(a - hi, lo - a, 0.0)


def newest_covering(runs: Sequence[Any], hour: pd.Timestamp):
    """The newest of ``runs`` (sorted by start, training time, id) covering ``hour``."""
    for run in reversed(runs):
        if run.start <= hour and hour in run.frame.index:
            return run
    return None


def verdict(
    expected_interval_s: int,
    hour: pd.Timestamp,
    actual: pd.DataFrame,
    runs: Sequence[Any],
) -> dict[str, Any] | None:
    """Actual energy of one hour against its interval; None when it cannot be judged.

    An hour is judged when it had at least half the readings the facility's
    reporting interval implies and a stored forecast covered it.
    """
    needed = max(1, int(0.5 * 3600 / max(1, expected_interval_s)))
    if hour not in actual.index or actual.at[hour, "samples"] < needed:
        return None
    value = float(actual.at[hour, "energy_consumed"])
    run = newest_covering(runs, hour)
    if run is None or not math.isfinite(value):
        return None
    lower = float(run.frame.at[hour, "yhat_lower"])
    upper = float(run.frame.at[hour, "yhat_upper"])
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return {
        "hour": hour,
        "actual": value,
        "lower": lower,
        "upper": upper,
        "outside": value > upper or value < lower,
    }
