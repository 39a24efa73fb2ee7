"""The metric definitions (README "Metrics"), used by pages, API and data module
alike: net import, self-sufficiency, self-consumption, power, phase imbalance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def finite(value: Any) -> float | None:
    """A plain float, or None for a missing, non-numeric, NaN or infinite value."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def net_import(consumed: float, produced: float) -> float:
    """Net import [kWh]: consumed − produced; negative means exported."""
    return consumed - produced


def self_sufficiency(produced, consumed) -> float | None:
    """Σ min(produced, consumed) / Σ consumed, per interval then summed [0–1].

    ``None`` when nothing was consumed (the ratio is undefined, not zero).
    """
    self_used, _, total = _sums(produced, consumed)
    return ratio_from_sums(self_used, total)


def self_consumption(produced, consumed) -> float | None:
    """Σ min(produced, consumed) / Σ produced [0–1]; ``None`` without production."""
    self_used, total, _ = _sums(produced, consumed)
    return ratio_from_sums(self_used, total)


def _sums(produced, consumed) -> tuple[float, float, float]:
    """(Σ min(p, c), Σ p, Σ c) per interval, NaN counting as nothing."""
    p = np.asarray(produced, dtype=float)
    c = np.asarray(consumed, dtype=float)
    return (
        float(np.nansum(np.minimum(p, c))), float(np.nansum(p)), float(np.nansum(c))
    )


def power_kw(energy_kwh: float, interval_s: float) -> float:
    """Average power [kW] over an interval: energy [kWh] / interval length [h]."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    return energy_kwh / (interval_s / 3600.0)


def ratio_from_sums(self_used: float, total: float) -> float | None:
    """A ratio of two energy sums, ``None`` when the denominator is zero."""
    return None if total <= 0 else self_used / total


def add_metric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``net_import`` [kWh] and ``self_supplied`` [kWh] to a readings frame."""
    out = frame.copy()
    out["net_import"] = out["energy_consumed"] - out["energy_produced"]
    out["self_supplied"] = np.minimum(out["energy_produced"], out["energy_consumed"])
    return out


def imbalance_pct(i1: Any, i2: Any, i3: Any) -> Any:
    """Phase current imbalance [%]: max |Iᵢ − mean| / mean × 100.

    Works on scalars (returns ``float | None``) and on arrays/Series (NaN where
    a phase is missing or the mean current is zero).
    """
    scalar = np.ndim(i1) == 0 and np.ndim(i2) == 0 and np.ndim(i3) == 0
    stack = np.vstack([
        np.asarray(pd.to_numeric(pd.Series(np.atleast_1d(v)), errors="coerce"),
                   dtype="float64")
        for v in (i1, i2, i3)
    ])
    mean = stack.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.abs(stack - mean).max(axis=0) / mean * 100
    result = np.where(mean > 0, result, np.nan)
    if scalar:
        value = float(result[0])
        return None if np.isnan(value) else value
    if isinstance(i1, pd.Series):
        return pd.Series(result, index=i1.index, name="imbalance_pct")
    return result


def interval_power(energy: float | None, interval_s: float) -> float | None:
    """Power [kW] of an interval's energy [kWh] over its length [s]; None when
    either is missing."""
    if energy is None or interval_s <= 0:
        return None
    return power_kw(float(energy), interval_s)
