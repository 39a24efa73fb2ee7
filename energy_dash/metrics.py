"""The metric definitions of CONTRACT §7, used by pages, API and data module alike."""

from __future__ import annotations

import numpy as np
import pandas as pd


def net_import(consumed: float, produced: float) -> float:
    """Net import [kWh]: consumed − produced; negative means exported."""
    return consumed - produced


def self_sufficiency(produced, consumed) -> float | None:
    """Σ min(produced, consumed) / Σ consumed, per interval then summed [0–1].

    ``None`` when nothing was consumed (the ratio is undefined, not zero).
    """
    p = np.asarray(produced, dtype=float)
    c = np.asarray(consumed, dtype=float)
    total = np.nansum(c)
    if total <= 0:
        return None
    return float(np.nansum(np.minimum(p, c)) / total)


def self_consumption(produced, consumed) -> float | None:
    """Σ min(produced, consumed) / Σ produced [0–1]; ``None`` without production."""
    p = np.asarray(produced, dtype=float)
    c = np.asarray(consumed, dtype=float)
    total = np.nansum(p)
    if total <= 0:
        return None
    return float(np.nansum(np.minimum(p, c)) / total)


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
