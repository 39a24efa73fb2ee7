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
    interval_s: float, running_covered_s: float | None = None,
) -> np.ndarray:
    """Hours of energy each bucket holds.

    A whole bucket holds its calendar length (23 or 25 h for a DST day). The
    bucket still running at ``now`` (or cut by ``end``) holds the elapsed part,
    but at least the intervals of its readings: a reading's energy covers the
    interval before its timestamp, which may start before the bucket.
    ``running_covered_s`` is that sum for the running bucket
    (:func:`covered_since_s`, each reading's real interval); without it every
    reading counts one expected interval.
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
    running = _running_position(index, stops, limit)
    if running is not None and running_covered_s is not None:
        covered[running] = running_covered_s / 3600.0
    hours = np.where(cut, np.maximum(elapsed, covered), hours)
    return np.where(hours > 0, hours, np.nan)


def _running_position(index: pd.DatetimeIndex, stops, limit) -> int | None:
    inside = np.flatnonzero(np.asarray((index <= limit) & (stops > limit)))
    return int(inside[0]) if len(inside) else None


def running_bucket_ms(index: pd.DatetimeIndex, rule: str, end: int, now: int
                      ) -> int | None:
    """Start [UTC epoch ms] of the bucket running at ``min(end, now)``, if any."""
    if len(index) == 0:
        return None
    offset = pd.tseries.frequencies.to_offset(rule)
    if isinstance(offset, pd.offsets.Day):
        offset = pd.DateOffset(days=offset.n)
    limit = from_ms(min(end, now)).tz_convert(index.tz)
    position = _running_position(index, index + offset, limit)
    if position is None:
        return None
    return int(index[position].value // 1_000_000)


def lookback_ms(expected_s: float) -> int:
    """How far before a bucket a reading's previous one still shortens its
    interval (the cap of the interval rule)."""
    return int(INTERVAL_CAP * float(expected_s) * 1000)


def reading_intervals_s(frame: pd.DataFrame, expected_s: float) -> np.ndarray:
    """Each reading's interval [s]: the time since the same device's previous
    reading in the frame, capped at twice the expected interval; the expected
    interval without one (:func:`energy_dash.domain.registers.reading_interval_s`,
    vectorised)."""
    stamps = pd.Series(frame.index.as_unit("ms").asi8, index=frame.index)
    gaps = stamps.groupby(frame["device_id"].to_numpy()).diff() / 1000.0
    gaps = gaps.clip(upper=INTERVAL_CAP * float(expected_s))
    return gaps.fillna(float(expected_s)).to_numpy()


def covered_since_s(frame: pd.DataFrame, since_ms: int, expected_s: float) -> float:
    """Seconds of energy the readings at or after ``since_ms`` hold: their real
    intervals summed. ``frame`` (raw readings with ``device_id``) starts
    :func:`lookback_ms` before ``since_ms`` so each reading finds its previous."""
    if frame.empty:
        return 0.0
    intervals = reading_intervals_s(frame, expected_s)
    held = frame.index.as_unit("ms").asi8 >= since_ms
    return float(intervals[held].sum())


def raw_power(frame: pd.DataFrame, expected_s: float) -> pd.DataFrame:
    """Per-reading kW, interval since the device's previous reading in the frame
    (capped at twice the expected interval)."""
    if frame.empty:
        return pd.DataFrame(
            {"production_kw": [], "consumption_kw": []},
            index=frame.index, dtype="float64",
        )
    hours = reading_intervals_s(frame, expected_s) / 3600.0
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
    running_covered_s: float | None = None,
) -> pd.DataFrame:
    """Average power [kW] per bucket: its energy over :func:`bucket_lengths_h`.

    Columns ``production_kw``, ``consumption_kw`` and ``net_import_kw``.
    """
    hours = bucket_lengths_h(index, samples, rule, end, now, interval_s,
                             running_covered_s)
    out = pd.DataFrame(
        {
            "production_kw": np.asarray(produced_kwh, dtype="float64") / hours,
            "consumption_kw": np.asarray(consumed_kwh, dtype="float64") / hours,
        },
        index=index,
    )
    out["net_import_kw"] = out["consumption_kw"] - out["production_kw"]
    return out
