"""Numbers with units and instants in the facility's local time, as the pages show them.

Every function is pure and total: ``None`` or NaN comes back as an em dash so a
missing sensor value never reads as ``nan kW``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_dash.domain.metrics import finite as _number

MISSING = "—"


def number(value: Any, digits: int = 1, unit: str = "") -> str:
    """``12.3 kW``: fixed decimals, a thin space-free unit suffix, ``—`` if missing."""
    v = _number(value)
    if v is None:
        return MISSING
    if round(v, digits) == 0:
        v = 0.0  # never show "-0.0"
    text = f"{v:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def kw(value: Any, digits: int = 1) -> str:
    """Power [kW]."""
    return number(value, digits, "kW")


def kwh(value: Any, digits: int = 1) -> str:
    """Energy [kWh]."""
    return number(value, digits, "kWh")


def volts(value: Any, digits: int = 1) -> str:
    """Voltage [V]."""
    return number(value, digits, "V")


def amps(value: Any, digits: int = 1) -> str:
    """Current [A]."""
    return number(value, digits, "A")


def hertz(value: Any, digits: int = 2) -> str:
    """Frequency [Hz]."""
    return number(value, digits, "Hz")


def pct(value: Any, digits: int = 1) -> str:
    """A percentage already scaled to 0–100 [%]."""
    v = _number(value)
    if v is None:
        return MISSING
    return f"{number(v, digits)} %"


def signed_pct(value: Any, digits: int = 1) -> str:
    """A change in percent with its sign: ``+12.5 %``, ``−3.0 %``."""
    v = _number(value)
    if v is None:
        return MISSING
    if round(v, digits) == 0:
        return f"{0:.{digits}f} %"
    sign = "+" if v > 0 else "−"
    return f"{sign}{abs(v):,.{digits}f} %"


def money(value: Any, currency: str, digits: int = 2) -> str:
    """An amount with its currency code (e.g. ``12.40 EUR``)."""
    return number(value, digits, currency)


def power_factor(value: Any) -> str:
    """Power factor, dimensionless, two decimals."""
    return number(value, 2)


def duration(seconds: Any) -> str:
    """``1 h 05 min``, ``4 min 10 s``, ``12 s``; ``ongoing`` when missing."""
    v = _number(seconds)
    if v is None:
        return "ongoing"
    total = int(round(v))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def to_local(moment: Any, tz: str) -> datetime | None:
    """A UTC instant (epoch ms, datetime, pandas Timestamp) in the zone ``tz``."""
    if moment is None:
        return None
    if isinstance(moment, int | float) and not isinstance(moment, bool):
        if not math.isfinite(moment):
            return None
        value = datetime.fromtimestamp(moment / 1000, UTC)
    else:
        if hasattr(moment, "to_pydatetime"):
            try:
                if moment != moment:  # NaT
                    return None
            except (TypeError, ValueError):
                pass
            moment = moment.to_pydatetime()
        if not isinstance(moment, datetime):
            return None
        value = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz))


def local_time(moment: Any, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``2025-03-30 03:15:00 CEST``: the instant in the facility's zone."""
    value = to_local(moment, tz)
    if value is None:
        return MISSING
    return f"{value.strftime(fmt)} {value.tzname()}"


def local_clock(moment: Any, tz: str) -> str:
    """``14:05`` in the facility's zone (tiles)."""
    value = to_local(moment, tz)
    return MISSING if value is None else value.strftime("%H:%M")


def local_date(moment: Any, tz: str) -> str:
    value = to_local(moment, tz)
    return MISSING if value is None else value.strftime("%Y-%m-%d")


def ago(moment_ms: Any, now_ms: float) -> str:
    """``2 min ago``: how long since an instant (both epoch ms)."""
    v = _number(moment_ms)
    if v is None:
        return "never"
    seconds = max(0.0, (now_ms - v) / 1000)
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86_400)} d ago"
