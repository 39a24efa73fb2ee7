"""Chart series rules: how fine a trace may be, and power from bucket energy.

Power [kW] = interval energy [kWh] / interval length [h] (README "Metrics"); a
bucket's length is its calendar length (23 or 25 h for a DST day), and the bucket
still running holds only its elapsed part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_dash.domain.registers import INTERVAL_CAP
from energy_dash.domain.times import from_ms

MAX_POINTS = 3000
"""No chart trace carries more points than this (the resolution rises instead)."""


RESOLUTION_STEPS: tuple[tuple[str, int], ...] = (
    ("15min", 900),
    ("1h", 3600),
    ("1D", 86_400),
)


RESOLUTION_LABELS = {"raw": "every reading", "15min": "15 min", "1h": "hourly",
                     "1D": "daily"}


def dashboard_resolution(expected_interval_s: int) -> str:
    """5, 10 or 15 minutes: the finest bucket that still holds a reading."""
    if expected_interval_s <= 300:
        return "5min"
    if expected_interval_s <= 600:
        return "10min"
    return "15min"


def choose_resolution(
    span_s: float, interval_s: float, max_points: int = MAX_POINTS
) -> str:
    """``raw``, ``15min``, ``1h`` or ``1D``: the finest with at most ``max_points``."""
    if span_s / max(1.0, float(interval_s)) <= max_points:
        return "raw"
    return bucket_resolution(span_s, max_points)


def bucket_resolution(span_s: float, max_points: int = MAX_POINTS) -> str:
    """``15min``, ``1h`` or ``1D``: the finest bucket with at most ``max_points``."""
    for rule, step in RESOLUTION_STEPS:
        if span_s / step <= max_points:
            return rule
    return "1D"


def bucket_lengths_h(
    index: pd.DatetimeIndex, samples: np.ndarray, rule: str, end: int, now: int,
    interval_s: float,
) -> np.ndarray:
    """Hours of energy each bucket holds.

    A whole bucket holds its calendar length (23 or 25 h for a DST day). The
    bucket still running at ``now`` (or cut by ``end``) holds the elapsed part,
    but at least one expected interval per reading: a reading's energy covers
    the interval before its timestamp, which may start before the bucket.
    """
    offset = pd.tseries.frequencies.to_offset(rule)
    if isinstance(offset, pd.offsets.Day):  # a calendar day, 23-25 h (pandas < 3
        offset = pd.DateOffset(days=offset.n)  # takes "1D" as a fixed 24 h)
    stops = index + offset
    limit = from_ms(min(end, now)).tz_convert(index.tz)
    cut = np.asarray(stops > limit)
    hours = (stops - index).total_seconds().to_numpy() / 3600.0
    elapsed = (limit - index).total_seconds().to_numpy() / 3600.0
    covered = np.asarray(samples, dtype="float64") * float(interval_s) / 3600.0
    hours = np.where(cut, np.maximum(elapsed, covered), hours)
    return np.where(hours > 0, hours, np.nan)


def raw_power(frame: pd.DataFrame, expected_s: float) -> pd.DataFrame:
    """Per-reading kW, interval since the device's previous reading in the frame
    (capped at twice the expected interval)."""
    if frame.empty:
        return pd.DataFrame(
            {"production_kw": [], "consumption_kw": []},
            index=frame.index, dtype="float64",
        )
    stamps = pd.Series(frame.index.as_unit("ms").asi8, index=frame.index)
    gaps = stamps.groupby(frame["device_id"].to_numpy()).diff() / 1000.0
    # the one interval rule (domain.registers.reading_interval_s), vectorised
    gaps = gaps.clip(upper=INTERVAL_CAP * float(expected_s))
    hours = gaps.fillna(float(expected_s)).to_numpy() / 3600.0
    out = pd.DataFrame(
        {
            "production_kw": frame["energy_produced"].to_numpy() / hours,
            "consumption_kw": frame["energy_consumed"].to_numpy() / hours,
        },
        index=frame.index,
    )
    return out.groupby(level=0).sum(min_count=1)


def bucket_power(
    index: pd.DatetimeIndex,
    produced_kwh: np.ndarray,
    consumed_kwh: np.ndarray,
    samples: np.ndarray,
    rule: str,
    end: int,
    now: int,
    interval_s: float,
) -> pd.DataFrame:
    """Average power [kW] per bucket: its energy over :func:`bucket_lengths_h`.

    Columns ``production_kw``, ``consumption_kw`` and ``net_import_kw``.
    """
    hours = bucket_lengths_h(index, samples, rule, end, now, interval_s)
    out = pd.DataFrame(
        {
            "production_kw": np.asarray(produced_kwh, dtype="float64") / hours,
            "consumption_kw": np.asarray(consumed_kwh, dtype="float64") / hours,
        },
        index=index,
    )
    out["net_import_kw"] = out["consumption_kw"] - out["production_kw"]
    return out
