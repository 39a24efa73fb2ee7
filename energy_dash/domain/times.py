"""Instants and calendars: the one home of every time conversion.

Storage is UTC epoch milliseconds (``*_ms``); pages show the facility's local time;
days, weeks and months are the facility's local calendar (IANA zone, DST-correct).
Intervals are half-open ``[start, end)``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
HOUR = pd.Timedelta(hours=1)


def now_ms() -> int:
    """The current instant [UTC epoch ms]."""
    return int(time.time() * 1000)


def to_utc(value: Any) -> pd.Timestamp | None:
    """A UTC timestamp from str/datetime/Timestamp/epoch seconds; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return pd.Timestamp(value, unit="s", tz="UTC")
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


def to_ms(value: Any) -> int | None:
    """Epoch milliseconds of anything :func:`to_utc` accepts (None stays None)."""
    stamp = to_utc(value)
    return None if stamp is None else int(stamp.value // 1_000_000)


def from_ms(ms: int) -> pd.Timestamp:
    """The UTC timestamp of an epoch-millisecond instant."""
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


def instant(value: Any) -> pd.Timestamp:
    """A UTC timestamp where integers are epoch *milliseconds* (the app's unit)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return from_ms(int(value))
    stamp = to_utc(value)
    if stamp is None:
        raise ValueError("a time is required")
    return stamp


def now_or(now: Any = None) -> pd.Timestamp:
    """``now`` as a UTC timestamp (see :func:`instant`), or the current instant."""
    return instant(now) if now is not None else pd.Timestamp.now(tz="UTC")


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive UTC datetimes back: make them aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def ms_of(value: datetime | None) -> int | None:
    """Epoch milliseconds of a (possibly naive UTC) datetime."""
    if value is None:
        return None
    return int(aware(value).timestamp() * 1000)


def utc_index(ts_ms: np.ndarray | list, tz: str | None) -> pd.DatetimeIndex:
    """A ``timestamp`` index from epoch milliseconds, in ``tz`` (default UTC)."""
    index = pd.DatetimeIndex(
        pd.to_datetime(np.asarray(ts_ms, dtype="int64"), unit="ms", utc=True),
        name="timestamp",
    )
    return index.tz_convert(tz) if tz else index


_EPOCH = datetime(1970, 1, 1)


def iso_utc(value: Any, *, seconds: bool = False) -> str:
    """``2025-06-01T10:00:00Z`` (``.123`` milliseconds only when there are any).

    ``value`` is epoch milliseconds or any instant; ``seconds=True`` drops the
    milliseconds (for instants shown to people, such as training times).
    """
    if type(value) is int:  # the sensor API's answers: no pandas Timestamp needed
        whole = _EPOCH + timedelta(seconds=value // 1000)
        text = whole.isoformat() if whole.year >= 1000 else None
        millis = value % 1000
    else:
        text = None
    if text is None:
        stamp = instant(value)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
        millis = (stamp.value // 1_000_000) % 1000
    return f"{text}.{millis:03d}Z" if millis and not seconds else f"{text}Z"


def iso_utc_many(index: pd.DatetimeIndex) -> list[str]:
    """:func:`iso_utc` of every instant of an index (naive means UTC), vectorised."""
    index = pd.DatetimeIndex(index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    index = index.tz_convert("UTC")
    whole = index.strftime("%Y-%m-%dT%H:%M:%S")
    ms = (index.as_unit("ms").asi8 % 1000).tolist()
    pairs = zip(whole, ms, strict=True)
    return [f"{text}.{m:03d}Z" if m else f"{text}Z" for text, m in pairs]


def iso_local_many(index: pd.DatetimeIndex) -> np.ndarray:
    """``Timestamp.isoformat()`` of every instant of a tz-aware index, vectorised.

    Wall-clock time with its UTC offset (``2025-06-01T14:00:00+02:00``);
    microseconds only where there are any, as ``isoformat`` writes them.
    """
    if len(index) == 0:
        return np.array([], dtype=str)
    wall = index.tz_localize(None).as_unit("us").to_numpy()
    text = np.datetime_as_string(wall, unit="us")
    whole = index.microsecond == 0
    text = np.where(whole, np.char.ljust(text.astype("U19"), 19), text)
    utc = index.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy()
    offset_min = ((wall - utc) // np.timedelta64(1, "m")).astype("int64")
    offsets = {m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
               for m in np.unique(offset_min).tolist()}
    suffix = np.array([offsets[m] for m in offset_min.tolist()], dtype="U6")
    return np.char.add(text.astype(str), suffix)


def iso_local(ts_ms: int, zone: str) -> str:
    """The instant in the facility's zone, with its offset, to the second."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(ZoneInfo(zone))
    return moment.isoformat(timespec="seconds")


def valid_zone(name: str | None) -> str:
    """The zone name when the system knows it, else ``UTC``."""
    zone = name or "UTC"
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        return "UTC"
    return zone


def local_today(now: int | None, tz: str) -> date:
    """The facility's local calendar date at ``now`` [UTC epoch ms]."""
    moment = datetime.fromtimestamp((now if now is not None else now_ms()) / 1000, UTC)
    return moment.astimezone(ZoneInfo(tz)).date()


def local_midnight_ms(day: date, tz: str) -> int:
    """Start of a local calendar day [UTC epoch ms] (23 or 25 hours long at DST)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return int(start.timestamp() * 1000)


def local_midnight(day: date, tz: str) -> pd.Timestamp:
    """Start [UTC] of a local calendar day (23 or 25 hours long at DST)."""
    return from_ms(local_midnight_ms(day, tz))


def day_bounds(day: date, tz: str, days: int = 1) -> tuple[int, int]:
    """``[start, end)`` [UTC epoch ms] of ``days`` local days starting at ``day``."""
    return local_midnight_ms(day, tz), local_midnight_ms(day + timedelta(days=days), tz)


def week_bounds(day: date, tz: str) -> tuple[int, int]:
    """``[Monday 00:00, next Monday 00:00)`` local, of the week containing ``day``."""
    monday = day - timedelta(days=day.weekday())
    return day_bounds(monday, tz, 7)


def local_hour_start(now: Any, tz: str) -> pd.Timestamp:
    """Start [UTC] of the local clock hour containing ``now`` (DST-correct)."""
    stamp = instant(now)
    offset_s = int(stamp.tz_convert(tz).utcoffset().total_seconds())
    epoch_s = stamp.value // 1_000_000_000
    start = epoch_s - (epoch_s + offset_s) % 3600
    return pd.Timestamp(start, unit="s", tz="UTC")


def local_days_touched(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> int:
    """Local calendar days that ``[start, end)`` touches (ending at 00:00 touches
    not the next day)."""
    if end <= start:
        return 0
    first = start.tz_convert(tz).date()
    last = (end - pd.Timedelta(microseconds=1)).tz_convert(tz).date()
    return (last - first).days + 1


def hours_text(hours: Any) -> str:
    """[10, 11, 12, 18] -> '10:00–13:00, 18:00–19:00'."""
    runs: list[list[int]] = []
    for h in sorted(int(h) for h in hours):
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    return ", ".join(f"{a:02d}:00–{b:02d}:00" for a, b in runs)
