"""Unit scaling and axis ticks: one rule for tiles, tables, charts and mail.

Power is stored in kW and energy in kWh; people read ``512 W``, ``16.4 MW`` or
``1.23 MWh`` as Home Assistant and Grafana show them: the largest prefix that
keeps the number at or above 1, printed with a fixed number of significant
digits so a tile's width does not jump with the value.
"""

from __future__ import annotations

import math
from typing import Any

from energy_dash.domain.metrics import finite

MISSING = "—"
SIGNIFICANT = 3

# (symbol, size of one unit in the stored unit)
POWER_UNITS: tuple[tuple[str, float], ...] = (
    ("W", 1e-3), ("kW", 1.0), ("MW", 1e3), ("GW", 1e6),
)
ENERGY_UNITS: tuple[tuple[str, float], ...] = (
    ("Wh", 1e-3), ("kWh", 1.0), ("MWh", 1e3), ("GWh", 1e6),
)
MAX_DECIMALS = 2


def _decimals(value: float, significant: int) -> int:
    """Decimals that leave ``significant`` digits for ``value`` (never negative)."""
    if value == 0:
        return 0
    exponent = math.floor(math.log10(abs(value)))
    return min(MAX_DECIMALS, max(0, significant - 1 - exponent))


def choose_unit(magnitude: float, units: tuple[tuple[str, float], ...]
                ) -> tuple[str, float]:
    """The largest unit in which ``magnitude`` (stored unit) is at least 1."""
    chosen = units[0]
    for unit in units:
        if abs(magnitude) >= unit[1]:
            chosen = unit
    return chosen


def scale(value: Any, units: tuple[tuple[str, float], ...],
          significant: int = SIGNIFICANT) -> tuple[str, str]:
    """(number text, unit) of a stored value in its natural unit.

    ``scale(16416, POWER_UNITS)`` is ``("16.4", "MW")``; ``scale(0.5124,
    POWER_UNITS)`` is ``("512", "W")``; a value that rounds up to the next
    prefix moves there (``999.7 W`` is ``1.00 kW``). Missing or non-finite
    values give ``("—", "")``.
    """
    v = finite(value)
    if v is None:
        return MISSING, ""
    if v == 0:
        return "0", units[0][0]
    symbol, size = choose_unit(v, units)
    scaled = v / size
    digits = _decimals(scaled, significant)
    rounded = round(scaled, digits)
    index = [u[0] for u in units].index(symbol)
    if abs(rounded) >= 1000 and index + 1 < len(units):
        symbol, size = units[index + 1]
        scaled = v / size
        digits = _decimals(scaled, significant)
        rounded = round(scaled, digits)
    if rounded == 0:
        rounded = 0.0  # never "-0.00"
    return f"{rounded:,.{digits}f}", symbol


def power_text(kw: Any, significant: int = SIGNIFICANT) -> str:
    """Power given in kW as ``512 W``, ``5.12 kW``, ``16.4 MW``; ``—`` if missing."""
    text, unit = scale(kw, POWER_UNITS, significant)
    return text if not unit else f"{text} {unit}"


def energy_text(kwh: Any, significant: int = SIGNIFICANT) -> str:
    """Energy given in kWh as ``850 Wh``, ``12.3 kWh``, ``1.23 MWh``."""
    text, unit = scale(kwh, ENERGY_UNITS, significant)
    return text if not unit else f"{text} {unit}"


def axis_unit(values: Any, units: tuple[tuple[str, float], ...]
              ) -> tuple[str, float]:
    """(unit, size) for a chart whose largest absolute value is in ``values``.

    A chart keeps one unit for all its points; the largest point decides, so
    ``[0.2, 3.5]`` kW stays in kW and ``[120, 16416]`` kW is drawn in MW.
    """
    sizes = [abs(v) for v in (finite(x) for x in values) if v is not None]
    if not sizes or max(sizes) == 0:
        return units[1]
    return choose_unit(max(sizes), units)


def nice_step(span: float, max_ticks: int = 6) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k step giving at most ``max_ticks``
    intervals over ``span`` (> 0)."""
    if not span > 0:
        return 1.0
    raw = span / max(1, max_ticks)
    exponent = math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = factor * 10.0 ** exponent
        if step >= raw * (1 - 1e-9):
            return _clean(step)
    return _clean(10.0 ** (exponent + 1))


def _clean(value: float) -> float:
    """Drop binary noise (``0.30000000000000004`` → ``0.3``)."""
    return float(f"{value:.12g}")


def nice_ticks(low: float, high: float, max_ticks: int = 6) -> list[float]:
    """Round tick values covering ``[low, high]``: first ≤ low, last ≥ high.

    ``nice_ticks(0.71, 0.98)`` is ``[0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]``;
    ``nice_ticks(6.7, 9.1)`` is ``[6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5]``. A flat range
    is widened around its value so there is always more than one tick.
    """
    lo, hi = float(min(low, high)), float(max(low, high))
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, max_ticks)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    count = int(round((last - first) / step))
    return [_clean(first + k * step) for k in range(count + 1)]
