"""Every query behind /dashboard, /historical, /voltage and /wall.

Pages, components and callbacks never touch SQLAlchemy; they call these functions.
Long ranges go through :func:`energy_dash.data.read_readings` with ``resample``
(aggregated in SQL, from the 15-minute rollups where the rule allows); the live
views read only the newest rows through the ``(facility_id, ts_ms)`` index.

Conventions
-----------
* Instants are UTC epoch milliseconds (``*_ms``) or tz-aware timestamps;
  intervals are half-open ``[start, end)``.
* Days and weeks are the facility's local calendar (DST-correct).
* Power [kW] = interval energy [kWh] / interval length [h] (CONTRACT §7).
* Percentages are 0–100; ``None`` means "undefined" (e.g. nothing consumed).
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, case, func, select, update
from sqlalchemy.orm import Session

from energy_dash.alerts import Thresholds
from energy_dash.db import get_engine, session_scope
from energy_dash.metrics import ratio_from_sums
from energy_dash.models import Alert, Facility, User

from . import read_readings
from . import readings as _readings

__all__ = [
    "FacilityView",
    "acknowledge_alert",
    "alert_log",
    "choose_resolution",
    "daily_energy",
    "daily_power",
    "dashboard_resolution",
    "day_bounds",
    "export_csv",
    "facility_view",
    "imbalance_pct",
    "latest_state",
    "live_signature",
    "local_midnight_ms",
    "local_today",
    "newest_ts",
    "now_ms",
    "open_alerts",
    "period_comparison",
    "power_series",
    "recent_alerts",
    "resolution_for",
    "today_totals",
    "usage_heatmap",
    "voltage_quality",
    "voltage_series",
    "wall_points",
    "wall_update",
    "week_bounds",
]

MAX_POINTS = 3000
"""No chart trace carries more points than this (the resolution rises instead)."""

RESOLUTION_STEPS: tuple[tuple[str, int], ...] = (
    ("15min", 900),
    ("1h", 3600),
    ("1D", 86_400),
)
RESOLUTION_LABELS = {"raw": "every reading", "15min": "15 min", "1h": "hourly",
                     "1D": "daily"}
ENERGY = ["energy_produced", "energy_consumed"]
ELECTRICAL = ["voltage", "current1", "current2", "current3", "frequency",
              "power_factor"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
R = _readings.TABLE


def now_ms() -> int:
    """The current instant [UTC epoch ms]."""
    return int(time.time() * 1000)


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


def _engine(database_url: str | None):
    return get_engine(database_url)


# ------------------------------------------------------------------ facility
@dataclass(frozen=True)
class FacilityView:
    """What the pages need to know about a facility (no ORM object leaves here)."""

    id: int
    name: str
    timezone: str
    expected_interval_s: int
    capacity_kw: float
    thresholds: Thresholds

    @property
    def nominal_voltage(self) -> float:
        return self.thresholds.nominal

    def bands(self) -> dict[str, float]:
        """Voltage band edges [V] (see :meth:`Thresholds.bands`)."""
        return self.thresholds.bands()

    def stale_after_ms(self) -> int:
        """A reading older than twice the expected interval means disconnected."""
        return 2 * max(1, int(self.expected_interval_s)) * 1000


def _facility_row(conn: Connection, facility_id: int) -> FacilityView | None:
    row = conn.execute(
        select(
            Facility.id, Facility.name, Facility.timezone, Facility.expected_interval_s,
            Facility.capacity_kw, Facility.nominal_voltage,
            Facility.voltage_warning_pct, Facility.voltage_critical_pct,
            Facility.voltage_hysteresis_pct,
        ).where(Facility.id == int(facility_id))
    ).first()
    if row is None:
        return None
    try:
        ZoneInfo(row.timezone or "UTC")
        zone = row.timezone or "UTC"
    except (KeyError, ValueError):  # a zone name the system does not know
        zone = "UTC"
    return FacilityView(
        id=row.id,
        name=row.name,
        timezone=zone,
        expected_interval_s=int(row.expected_interval_s or 300),
        capacity_kw=float(row.capacity_kw or 0.0),
        thresholds=Thresholds(
            float(row.nominal_voltage), float(row.voltage_warning_pct),
            float(row.voltage_critical_pct), float(row.voltage_hysteresis_pct),
        ),
    )


def facility_view(
    facility_id: int, *, database_url: str | None = None
) -> FacilityView | None:
    """The facility's name, zone, expected interval [s], capacity [kW] and bands."""
    with _engine(database_url).connect() as conn:
        return _facility_row(conn, facility_id)


# ---------------------------------------------------------------------- time
def local_today(now: int | None, tz: str) -> date:
    """The facility's local calendar date at ``now`` [UTC epoch ms]."""
    moment = datetime.fromtimestamp((now if now is not None else now_ms()) / 1000, UTC)
    return moment.astimezone(ZoneInfo(tz)).date()


def local_midnight_ms(day: date, tz: str) -> int:
    """Start of a local calendar day [UTC epoch ms] (23 or 25 hours long at DST)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return int(start.timestamp() * 1000)


def day_bounds(day: date, tz: str, days: int = 1) -> tuple[int, int]:
    """``[start, end)`` [UTC epoch ms] of ``days`` local days starting at ``day``."""
    return local_midnight_ms(day, tz), local_midnight_ms(day + timedelta(days=days), tz)


def week_bounds(day: date, tz: str) -> tuple[int, int]:
    """``[Monday 00:00, next Monday 00:00)`` local, of the week containing ``day``."""
    monday = day - timedelta(days=day.weekday())
    return day_bounds(monday, tz, 7)


# ------------------------------------------------------------------ readings
def newest_ts(facility_id: int, *, database_url: str | None = None) -> int | None:
    """Timestamp of the facility's newest reading [UTC epoch ms], or None."""
    with _engine(database_url).connect() as conn:
        return _newest_ts(conn, facility_id)


def _newest_ts(conn: Connection, facility_id: int) -> int | None:
    value = conn.execute(
        select(R.c.ts_ms)
        .where(R.c.facility_id == int(facility_id))
        .order_by(R.c.ts_ms.desc())
        .limit(1)
    ).scalar()
    return None if value is None else int(value)


def _previous_ts(conn: Connection, facility_id: int, device: str, before_ms: int):
    value = conn.execute(
        select(R.c.ts_ms)
        .where(R.c.facility_id == facility_id, R.c.device_id == device,
               R.c.ts_ms < before_ms)
        .order_by(R.c.ts_ms.desc())
        .limit(1)
    ).scalar()
    return None if value is None else int(value)


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


def _power(energy: float | None, interval_s: float) -> float | None:
    if energy is None or interval_s <= 0:
        return None
    return float(energy) / (interval_s / 3600.0)


def latest_state(
    facility_id: int, *, now: int | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """The live figures of the dashboard and the wall.

    Returns
    -------
    dict
        ``last_ms`` (newest reading [UTC epoch ms] or None), ``device_id``,
        ``interval_s`` (newest minus previous reading of that device [s], else the
        expected interval), ``production_kw``/``consumption_kw``/``net_import_kw``
        [kW], ``load_pct`` [%], ``voltage`` [V], ``current1..3`` [A],
        ``imbalance_pct`` [%], ``frequency`` [Hz], ``power_factor``,
        ``connected`` (newest reading younger than twice the expected interval)
        and ``age_s`` [s].
    """
    now = now_ms() if now is None else int(now)
    with _engine(database_url).connect() as conn:
        facility = _facility_row(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return _latest_state(conn, facility, now)


def _latest_state(conn: Connection, facility: FacilityView, now: int) -> dict[str, Any]:
    row = _readings.last_reading(conn, facility.id)
    state: dict[str, Any] = {
        "facility_id": facility.id, "last_ms": None, "device_id": None,
        "interval_s": float(facility.expected_interval_s), "production_kw": None,
        "consumption_kw": None, "net_import_kw": None, "load_pct": None,
        "voltage": None, "current1": None, "current2": None, "current3": None,
        "imbalance_pct": None, "frequency": None, "power_factor": None,
        "connected": False, "age_s": None,
    }
    if row is None:
        return state
    last = int(row.ts_ms)
    previous = _previous_ts(conn, facility.id, row.device_id, last)
    interval = (last - previous) / 1000 if previous is not None else float(
        facility.expected_interval_s
    )
    production = _power(row.energy_produced, interval)
    consumption = _power(row.energy_consumed, interval)
    state.update(
        last_ms=last, device_id=row.device_id, interval_s=interval,
        production_kw=production, consumption_kw=consumption,
        net_import_kw=None if production is None or consumption is None
        else consumption - production,
        load_pct=row.current_load, voltage=row.voltage, current1=row.current1,
        current2=row.current2, current3=row.current3,
        imbalance_pct=imbalance_pct(row.current1, row.current2, row.current3),
        frequency=row.frequency, power_factor=row.power_factor,
        age_s=max(0.0, (now - last) / 1000),
        connected=now - last < facility.stale_after_ms(),
    )
    return state


def today_totals(
    facility_id: int, *, now: int | None = None, day: date | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """kWh produced and consumed on one local calendar day (default: today).

    Returns ``produced_kwh``, ``consumed_kwh``, ``net_import_kwh`` [kWh],
    ``self_sufficiency_pct`` [%] (Σ min(p, c) / Σ c per reading; None without
    consumption), ``day`` and the day's ``start_ms``/``end_ms``.
    """
    with _engine(database_url).connect() as conn:
        facility = _facility_row(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return _day_totals(conn, facility, now, day)


def _day_totals(conn, facility: FacilityView, now, day=None) -> dict[str, Any]:
    day = day or local_today(now, facility.timezone)
    start, end = day_bounds(day, facility.timezone)
    totals = _totals(conn, facility.id, start, end)
    totals.update(day=day.isoformat(), start_ms=start, end_ms=end)
    return totals


def _totals(conn, facility_id: int, start: int, end: int) -> dict[str, Any]:
    sums = _readings.energy_totals(conn, facility_id, start, end)
    ratio = ratio_from_sums(sums["self_used"], sums["consumed"])
    return {
        "produced_kwh": sums["produced"],
        "consumed_kwh": sums["consumed"],
        "net_import_kwh": sums["consumed"] - sums["produced"],
        "self_used_kwh": sums["self_used"],
        "self_sufficiency_pct": None if ratio is None else ratio * 100,
    }


# ------------------------------------------------------------ power series
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
    for rule, step in RESOLUTION_STEPS:
        if span_s / step <= max_points:
            return rule
    return "1D"


def _bucket_lengths_h(
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
    stops = index + offset
    limit = _ts(min(end, now)).tz_convert(index.tz)
    cut = np.asarray(stops > limit)
    hours = (stops - index).total_seconds().to_numpy() / 3600.0
    elapsed = (limit - index).total_seconds().to_numpy() / 3600.0
    covered = np.asarray(samples, dtype="float64") * float(interval_s) / 3600.0
    hours = np.where(cut, np.maximum(elapsed, covered), hours)
    return np.where(hours > 0, hours, np.nan)


def _raw_power(frame: pd.DataFrame, expected_s: float) -> pd.DataFrame:
    """Per-reading kW, interval since the device's previous reading in the frame."""
    if frame.empty:
        return pd.DataFrame(
            {"production_kw": [], "consumption_kw": []},
            index=frame.index, dtype="float64",
        )
    stamps = pd.Series(frame.index.as_unit("ms").asi8, index=frame.index)
    gaps = stamps.groupby(frame["device_id"].to_numpy()).diff() / 1000.0
    hours = gaps.fillna(float(expected_s)).to_numpy() / 3600.0
    out = pd.DataFrame(
        {
            "production_kw": frame["energy_produced"].to_numpy() / hours,
            "consumption_kw": frame["energy_consumed"].to_numpy() / hours,
        },
        index=frame.index,
    )
    return out.groupby(level=0).sum(min_count=1)


def power_series(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    resolution: str,
    *,
    now: int | None = None,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> pd.DataFrame:
    """Average production and consumption power [kW] per bucket (or per reading).

    ``resolution`` is ``"raw"`` (one point per reading: its energy over the time
    since the device's previous reading) or a pandas rule (``"5min"``,
    ``"15min"``, ``"1h"``, ``"1D"``): bucket energy over bucket length, where the
    bucket still running at ``now`` counts only its elapsed part. Indexed by
    local time (the facility's zone), columns ``production_kw``,
    ``consumption_kw``, ``net_import_kw``.
    """
    now = now_ms() if now is None else int(now)
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    tz = facility.timezone
    if resolution == "raw":
        frame = read_readings(
            facility.id, _ts(start_ms), _ts(end_ms), columns=ENERGY, tz=tz,
            database_url=database_url,
        )
        out = _raw_power(frame, facility.expected_interval_s)
    else:
        frame = read_readings(
            facility.id, _ts(start_ms), _ts(end_ms), columns=ENERGY,
            resample=resolution, tz=tz, database_url=database_url,
        )
        hours = _bucket_lengths_h(
            frame.index, frame["samples"].to_numpy(), resolution, end_ms, now,
            facility.expected_interval_s,
        )
        out = pd.DataFrame(
            {
                "production_kw": frame["energy_produced"].to_numpy() / hours,
                "consumption_kw": frame["energy_consumed"].to_numpy() / hours,
            },
            index=frame.index,
        )
    out["net_import_kw"] = out["consumption_kw"] - out["production_kw"]
    out.index.name = "timestamp"
    return out


def daily_energy(
    facility_id: int,
    first_day: date,
    days: int,
    *,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> pd.DataFrame:
    """One row per local day (every day of the range, NaN where nothing was stored).

    Columns ``produced_kwh``, ``consumed_kwh``, ``net_import_kwh``,
    ``self_used_kwh`` [kWh], ``self_sufficiency_pct`` [%] and ``samples``
    (readings); indexed by local midnight.
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    tz = facility.timezone
    start, end = day_bounds(first_day, tz, days)
    frame = read_readings(
        facility.id, _ts(start), _ts(end), columns=ENERGY, resample="1D", tz=tz,
        database_url=database_url,
    )
    by_day = {stamp.date(): i for i, stamp in enumerate(frame.index)}
    wanted = [first_day + timedelta(days=k) for k in range(days)]
    index = pd.DatetimeIndex(
        [pd.Timestamp(d).tz_localize(tz) for d in wanted], name="timestamp"
    )
    produced = np.full(days, np.nan)
    consumed = np.full(days, np.nan)
    self_used = np.full(days, np.nan)
    samples = np.zeros(days, dtype="int64")
    for k, d in enumerate(wanted):
        i = by_day.get(d)
        if i is not None:
            produced[k] = frame["energy_produced"].iloc[i]
            consumed[k] = frame["energy_consumed"].iloc[i]
            self_used[k] = frame["self_supplied"].iloc[i]
            samples[k] = frame["samples"].iloc[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(consumed > 0, self_used / consumed * 100, np.nan)
    return pd.DataFrame(
        {
            "produced_kwh": produced,
            "consumed_kwh": consumed,
            "net_import_kwh": consumed - produced,
            "self_sufficiency_pct": ratio,
            "self_used_kwh": self_used,
            "samples": samples,
        },
        index=index,
    )


def daily_power(
    daily: pd.DataFrame, facility: FacilityView, end_ms: int, *, now: int | None = None
) -> pd.DataFrame:
    """Average power [kW] per local day from :func:`daily_energy` (no query).

    The same figures as ``power_series(..., "1D")``: a day's energy over its
    length (23, 24 or 25 h), the running day over its elapsed part.
    """
    now = now_ms() if now is None else int(now)
    daily = daily[daily["samples"] > 0]
    hours = _bucket_lengths_h(
        daily.index, daily["samples"].to_numpy(), "1D", end_ms, now,
        facility.expected_interval_s,
    )
    out = pd.DataFrame(
        {
            "production_kw": daily["produced_kwh"].to_numpy() / hours,
            "consumption_kw": daily["consumed_kwh"].to_numpy() / hours,
        },
        index=daily.index,
    )
    out["net_import_kw"] = out["consumption_kw"] - out["production_kw"]
    return out


def usage_heatmap(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    *,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> pd.DataFrame:
    """Average consumption [kW] by local weekday (rows Mon–Sun) and hour (0–23).

    Each local clock hour's kWh is its average power; cells average over the
    hours with readings (NaN where none).
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id, _ts(start_ms), _ts(end_ms), columns=["energy_consumed"],
        resample="1h", tz=facility.timezone, database_url=database_url,
    )
    grid = pd.DataFrame(np.nan, index=list(WEEKDAYS), columns=list(range(24)))
    frame = frame[frame["samples"] > 0]
    if frame.empty:
        return grid
    kw = frame["energy_consumed"].groupby(
        [frame.index.day_of_week, frame.index.hour]
    ).mean()
    for (weekday, hour), value in kw.items():
        grid.iat[int(weekday), int(hour)] = float(value)
    return grid


COMPARABLE_PCT = 90.0  # both periods need this much data for a % change


def coverage_pct(conn, facility_id: int, start_ms: int, end_ms: int,
                 now: int) -> float:
    """Share [%] of the elapsed part of ``[start, end)`` whose 15-minute buckets
    hold readings (0 when nothing of it has elapsed)."""
    until = min(end_ms, now)
    first = start_ms // _readings.BUCKET_MS
    last = -(-until // _readings.BUCKET_MS)
    total = last - first
    if total <= 0:
        return 0.0
    covered = _readings.covered_buckets(conn, facility_id, start_ms, until)
    return min(100.0, covered / total * 100)


def period_comparison(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    previous_start_ms: int,
    *,
    database_url: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """Totals of ``[start, end)`` and ``[previous_start, start)`` and their change.

    Returns ``{"current": totals, "previous": totals, "change_pct": {...},
    "coverage": {"current": %, "previous": %}, "comparable": bool}`` where totals
    are ``produced_kwh``, ``consumed_kwh``, ``net_import_kwh`` [kWh] and
    ``self_sufficiency_pct`` [%]. Coverage is the share of each period (so far)
    with readings. A change is ``(current − previous) / |previous| × 100`` (for
    self-sufficiency the difference in percentage points), and only when both
    periods are at least ``COMPARABLE_PCT`` covered: a change against a period
    that holds one day of thirty would be a number nobody should trust.
    """
    now = now_ms() if now is None else int(now)
    with _engine(database_url).connect() as conn:
        current = _totals(conn, facility_id, start_ms, end_ms)
        previous = _totals(conn, facility_id, previous_start_ms, start_ms)
        coverage = {
            "current": coverage_pct(conn, facility_id, start_ms, end_ms, now),
            "previous": coverage_pct(conn, facility_id, previous_start_ms,
                                     start_ms, now),
        }
    comparable = min(coverage.values()) >= COMPARABLE_PCT
    change: dict[str, float | None] = {}
    for key in ("produced_kwh", "consumed_kwh", "net_import_kwh"):
        before, after = previous[key], current[key]
        change[key] = (None if not before or not comparable
                       else (after - before) / abs(before) * 100)
    a, b = current["self_sufficiency_pct"], previous["self_sufficiency_pct"]
    change["self_sufficiency_pct"] = (None if a is None or b is None
                                      or not comparable else a - b)
    return {"current": current, "previous": previous, "change_pct": change,
            "coverage": coverage, "comparable": comparable,
            "comparable_pct": COMPARABLE_PCT}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    *,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> str:
    """Every reading of ``[start, end)`` as CSV, timestamps in the facility's zone.

    Columns: ``timestamp`` (ISO 8601 with offset), ``device_id``, then every
    reading field with its unit in the name (``energy_produced_kwh``, …).
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id, _ts(start_ms), _ts(end_ms), tz=facility.timezone,
        database_url=database_url,
    )
    units = {
        "energy_produced": "energy_produced_kwh",
        "energy_consumed": "energy_consumed_kwh",
        "current_load": "current_load_pct",
        "voltage": "voltage_v",
        "current": "current_a",
        "current1": "current1_a",
        "current2": "current2_a",
        "current3": "current3_a",
        "frequency": "frequency_hz",
        "power_factor": "power_factor",
    }
    out = frame.drop(columns=["facility_id"]).rename(columns=units)
    out["device_id"] = out["device_id"].map(_csv_safe)
    out.index = out.index.map(lambda t: t.isoformat())
    out.index.name = "timestamp"
    buffer = io.StringIO()
    out.to_csv(buffer, float_format="%.6g", lineterminator="\n")
    return buffer.getvalue()


# ---------------------------------------------------------------- voltage
def voltage_series(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    resolution: str,
    *,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> pd.DataFrame:
    """Voltage [V], phase currents [A], imbalance [%], frequency [Hz] and PF.

    Raw readings or bucket means (``resolution`` as in :func:`power_series`),
    indexed by local time.
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id, _ts(start_ms), _ts(end_ms), columns=ELECTRICAL,
        resample=None if resolution == "raw" else resolution,
        tz=facility.timezone, database_url=database_url,
    )
    out = frame[ELECTRICAL].copy()
    out["imbalance_pct"] = imbalance_pct(
        out["current1"], out["current2"], out["current3"]
    )
    out.index.name = "timestamp"
    return out


def voltage_quality(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    *,
    database_url: str | None = None,
    band_pct: float = 10.0,
) -> dict[str, Any]:
    """EN 50160-style figures of ``[start, end)`` (usually one local week).

    Returns ``readings`` (with a voltage), ``within`` (inside nominal ± ``band_pct``
    %, edges included), ``within_pct`` [%] (None without readings) and the
    numbers of ``sags`` / ``swells`` / ``outages``: alerts of kind
    ``voltage_low`` / ``voltage_high`` / ``outage`` that started in the range.
    """
    with _engine(database_url).connect() as conn:
        facility = _facility_row(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        nominal = facility.nominal_voltage
        low, high = nominal * (1 - band_pct / 100), nominal * (1 + band_pct / 100)
        inside = case((and_(R.c.voltage >= low, R.c.voltage <= high), 1), else_=0)
        total, within = conn.execute(
            select(func.count(R.c.voltage), func.coalesce(func.sum(inside), 0)).where(
                R.c.facility_id == facility.id, R.c.ts_ms >= start_ms,
                R.c.ts_ms < end_ms, R.c.voltage.is_not(None),
            )
        ).one()
        kinds = dict(
            conn.execute(
                select(Alert.kind, func.count())
                .where(
                    Alert.facility_id == facility.id,
                    Alert.started_at >= _ts(start_ms).to_pydatetime(),
                    Alert.started_at < _ts(end_ms).to_pydatetime(),
                )
                .group_by(Alert.kind)
            ).all()
        )
    total, within = int(total), int(within)
    return {
        "readings": total,
        "within": within,
        "within_pct": within / total * 100 if total else None,
        "band_low": round(low, 3),
        "band_high": round(high, 3),
        "sags": int(kinds.get("voltage_low", 0)),
        "swells": int(kinds.get("voltage_high", 0)),
        "outages": int(kinds.get("outage", 0)),
    }


# ----------------------------------------------------------------- alerts
def _ms_of(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _alert_query():
    return select(
        Alert.id, Alert.kind, Alert.level, Alert.started_at, Alert.ended_at,
        Alert.extreme_value, Alert.message, Alert.device_id, Alert.acknowledged_at,
        User.username.label("acknowledged_by"),
    ).outerjoin(User, User.id == Alert.acknowledged_by)


def _alert_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        started, ended = _ms_of(row.started_at), _ms_of(row.ended_at)
        out.append({
            "id": int(row.id),
            "kind": row.kind,
            "level": row.level,
            "started_ms": started,
            "ended_ms": ended,
            "duration_s": None if ended is None else (ended - started) / 1000,
            "extreme_value": row.extreme_value,
            "message": row.message or "",
            "device_id": row.device_id,
            "acknowledged_ms": _ms_of(row.acknowledged_at),
            "acknowledged_by": row.acknowledged_by,
        })
    return out


def open_alerts(
    facility_id: int, *, limit: int = 20, database_url: str | None = None
) -> list[dict[str, Any]]:
    """Alerts still open (no end), newest first, as plain dicts."""
    with _engine(database_url).connect() as conn:
        return _open_alerts(conn, facility_id, limit)


def _open_alerts(conn, facility_id: int, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        _alert_query()
        .where(Alert.facility_id == int(facility_id), Alert.ended_at.is_(None))
        .order_by(Alert.started_at.desc(), Alert.id.desc())
        .limit(limit)
    ).all()
    return _alert_dicts(rows)


def alert_log(
    facility_id: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    limit: int = 200,
    database_url: str | None = None,
) -> list[dict[str, Any]]:
    """Alerts active at any moment of ``[start, end)``, newest first.

    Each: ``id``, ``kind``, ``level``, ``started_ms``, ``ended_ms`` (None while
    open), ``duration_s``, ``extreme_value`` [V], ``message``, ``device_id``,
    ``acknowledged_ms`` and ``acknowledged_by`` (a username).
    """
    with _engine(database_url).connect() as conn:
        return _alert_log(conn, facility_id, start_ms, end_ms, limit)


def _alert_log(conn, facility_id, start_ms, end_ms, limit) -> list[dict[str, Any]]:
    stmt = _alert_query().where(Alert.facility_id == int(facility_id))
    if end_ms is not None:
        stmt = stmt.where(Alert.started_at < _ts(end_ms).to_pydatetime())
    if start_ms is not None:
        stmt = stmt.where(
            Alert.ended_at.is_(None) | (Alert.ended_at >= _ts(start_ms).to_pydatetime())
        )
    rows = conn.execute(
        stmt.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit)
    ).all()
    return _alert_dicts(rows)


def recent_alerts(
    facility_id: int, *, now: int | None = None, hours: int = 24, limit: int = 10,
    database_url: str | None = None,
) -> list[dict[str, Any]]:
    """Open alerts first, then those of the last ``hours`` that ended (the ticker)."""
    now = now_ms() if now is None else int(now)
    with _engine(database_url).connect() as conn:
        return _recent_alerts(conn, facility_id, now, hours, limit)


def _recent_alerts(conn, facility_id, now, hours, limit):
    log = _alert_log(conn, facility_id, now - hours * 3_600_000, None, limit)
    return sorted(log, key=lambda a: (a["ended_ms"] is not None, -a["started_ms"]))


def acknowledge_alert(
    target: Session | str | None,
    facility_id: int,
    alert_id: int,
    user_id: int,
    *,
    now: datetime | None = None,
) -> bool:
    """Record who acknowledged an alert and when.

    ``target`` is an open session or a database URL. Only an alert of
    ``facility_id`` that is not yet acknowledged changes; returns True when it
    did (False for another facility's alert, an unknown id, or a repeat).
    The caller checks that the user may write to the facility.
    """
    stmt = (
        update(Alert)
        .where(Alert.id == int(alert_id), Alert.facility_id == int(facility_id),
               Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now or datetime.now(UTC), acknowledged_by=int(user_id))
    )
    if isinstance(target, Session):
        return target.execute(stmt).rowcount == 1
    with session_scope(target, write=True) as session:
        return session.execute(stmt).rowcount == 1


# ------------------------------------------------------------------- wall
def wall_points(
    facility_id: int,
    since_ms: int,
    *,
    limit: int = 500,
    database_url: str | None = None,
    facility: FacilityView | None = None,
) -> list[tuple[int, float | None, float | None]]:
    """Readings newer than ``since_ms`` as ``(ts_ms, production_kw, consumption_kw)``.

    Each reading's power uses the time since the same device's previous reading
    (looked up before ``since_ms`` too), else the expected interval; readings of
    several devices at one instant are summed. At most ``limit`` oldest first.
    """
    with _engine(database_url).connect() as conn:
        if facility is None:
            facility = _facility_row(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return _wall_points(conn, facility, since_ms, limit)


def _wall_points(conn, facility: FacilityView, since_ms: int, limit: int,
                 until_ms: int | None = None):
    stmt = select(
        R.c.ts_ms, R.c.device_id, R.c.energy_produced, R.c.energy_consumed
    ).where(R.c.facility_id == facility.id, R.c.ts_ms > since_ms)
    if until_ms is not None:
        stmt = stmt.where(R.c.ts_ms <= until_ms)
    rows = conn.execute(stmt.order_by(R.c.ts_ms).limit(limit)).all()
    previous: dict[str, int | None] = {}
    summed: dict[int, list[float]] = {}
    for ts, device, produced, consumed in rows:
        if device not in previous:
            previous[device] = _previous_ts(conn, facility.id, device, ts)
        before = previous[device]
        interval = (ts - before) / 1000 if before is not None else float(
            facility.expected_interval_s
        )
        previous[device] = ts
        acc = summed.setdefault(int(ts), [0.0, 0.0])
        acc[0] += _power(produced, interval) or 0.0
        acc[1] += _power(consumed, interval) or 0.0
    return [(ts, p, c) for ts, (p, c) in sorted(summed.items())]


def wall_update(
    facility_id: int,
    since_ms: int | None,
    *,
    now: int | None = None,
    limit: int = 500,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Everything one wall tick needs, over a single connection.

    Returns ``facility`` (:class:`FacilityView`), ``state`` (:func:`latest_state`),
    ``today`` (:func:`today_totals`), ``alerts`` (:func:`recent_alerts`) and
    ``points``: readings newer than ``since_ms`` up to the newest one in
    ``state`` (see :func:`wall_points`; empty when ``since_ms`` is None) and
    ``complete``: False when more than ``limit`` readings arrived (redraw).
    """
    now = now_ms() if now is None else int(now)
    with _engine(database_url).connect() as conn:
        facility = _facility_row(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        state = _latest_state(conn, facility, now)
        points = (
            _wall_points(conn, facility, since_ms, limit + 1, state["last_ms"])
            if since_ms is not None and state["last_ms"] is not None
            and state["last_ms"] > since_ms
            else []
        )
        return {
            "facility": facility,
            "state": state,
            "today": _day_totals(conn, facility, now),
            "alerts": _recent_alerts(conn, facility.id, now, 24, 10),
            "points": points[:limit],
            "complete": len(points) <= limit,
        }


def live_signature(
    facility_id: int, *, now: int | None = None, database_url: str | None = None
) -> dict[str, Any] | None:
    """What a live page shows changes only when this changes (three indexed reads).

    ``{"facility", "last_ms", "alerts": [[id, level, acknowledged, open]], "day",
    "connected"}`` — JSON-native so it can be kept in a ``dcc.Store`` and
    compared; None for an unknown facility.
    """
    now = now_ms() if now is None else int(now)
    with _engine(database_url).connect() as conn:
        facility = _facility_row(conn, facility_id)
        if facility is None:
            return None
        last = _newest_ts(conn, facility.id)
        alerts = conn.execute(
            select(Alert.id, Alert.level, Alert.acknowledged_at.is_not(None))
            .where(Alert.facility_id == facility.id, Alert.ended_at.is_(None))
            .order_by(Alert.id)
        ).all()
    return {
        "facility": facility.id,
        "last_ms": last,
        "alerts": [[int(a), str(b), bool(c)] for a, b, c in alerts],
        "day": local_today(now, facility.timezone).isoformat(),
        "connected": last is not None and now - last < facility.stale_after_ms(),
        "settings": [facility.timezone, facility.expected_interval_s,
                     *facility.bands().values()],
    }


def resolution_for(
    facility: FacilityView, start_ms: int, end_ms: int, *,
    database_url: str | None = None, max_points: int = MAX_POINTS,
) -> str:
    """The finest resolution with at most ``max_points`` per trace for this range.

    Raw readings are chosen only when they are actually few enough (a device may
    report faster than the facility's expected interval).
    """
    span_s = max(0, end_ms - start_ms) / 1000
    rule = choose_resolution(span_s, facility.expected_interval_s, max_points)
    if rule != "raw":
        return rule
    with _engine(database_url).connect() as conn:
        count = conn.execute(
            select(func.count()).where(
                R.c.facility_id == facility.id, R.c.ts_ms >= start_ms,
                R.c.ts_ms < end_ms,
            )
        ).scalar_one()
    if count <= max_points:
        return "raw"
    for candidate, step in RESOLUTION_STEPS:
        if span_s / step <= max_points:
            return candidate
    return "1D"
