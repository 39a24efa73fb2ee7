"""What /historical and the history parts of /voltage show: daily energy and power,
the weekday × hour heatmap, period comparisons, voltage series and EN 50160-style
voltage quality. Each function reads on the connection it is given (``conn``: a
page request reads everything on one), else on a short one of its own; long ranges
come from the rollups through :func:`energy_dash.services.readings.read_readings`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from energy_dash.db import connected
from energy_dash.db.statements import BUCKET_MS
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.metrics import imbalance_pct
from energy_dash.domain.series import bucket_power
from energy_dash.domain.times import day_bounds, from_ms, local_midnight_ms, now_ms
from energy_dash.services import live
from energy_dash.services.live import facility_view
from energy_dash.services.readings import read_readings
from energy_dash.storage import alerts as alert_rows
from energy_dash.storage import readings
from energy_dash.storage.facilities import load_info

__all__ = [
    "daily_energy",
    "daily_power",
    "period_comparison",
    "usage_heatmap",
    "voltage_quality",
    "voltage_series",
]

ENERGY = ["energy_produced", "energy_consumed"]
ELECTRICAL = ["voltage", "current1", "current2", "current3", "frequency",
              "power_factor"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def daily_energy(
    facility_id: int,
    first_day: date,
    days: int,
    *,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """One row per local day (every day of the range, NaN where nothing was stored).

    Columns ``produced_kwh``, ``consumed_kwh``, ``net_import_kwh``,
    ``self_used_kwh`` [kWh], ``self_sufficiency_pct`` [%] and ``samples``
    (readings); indexed by local midnight. Local midnights fall on 15-minute
    rollup edges, so the days are sums of rollup rows (a fortnight: 1 344 rows,
    added up in numpy; every dashboard tick draws this).
    """
    with connected(database_url, conn) as conn:
        if facility is None:
            facility = facility_view(facility_id, conn=conn)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        tz = facility.timezone
        wanted = [first_day + timedelta(days=k) for k in range(days + 1)]
        edges = np.array([local_midnight_ms(d, tz) for d in wanted], dtype="int64")
        if np.any(edges % BUCKET_MS):  # an old zone offset off the 15-minute grid
            return _daily_from_frame(facility, first_day, days, conn)
        rows = readings.fetch_rollups(conn, facility.id, int(edges[0]),
                                      int(edges[-1]), ENERGY, self_supplied=True)
    values = np.array(rows, dtype="float64").reshape(-1, 9)  # None -> NaN
    day = np.searchsorted(edges, values[:, 1] * BUCKET_MS, side="right") - 1

    def per_day(column: int) -> np.ndarray:
        return np.bincount(day, weights=np.nan_to_num(values[:, column]),
                           minlength=days)[:days]

    samples = per_day(2).astype("int64")
    produced_n, consumed_n = per_day(4), per_day(6)
    has = samples > 0
    return _daily_table(
        tz, wanted[:days], samples,
        np.where(has & (produced_n > 0), per_day(3), np.nan),
        np.where(has & (consumed_n > 0), per_day(5), np.nan),
        np.where(has, per_day(7), np.nan),
    )


def _daily_from_frame(facility, first_day, days, conn) -> pd.DataFrame:
    """:func:`daily_energy` through the resampling reader (any zone offset)."""
    tz = facility.timezone
    start, end = day_bounds(first_day, tz, days)
    frame = read_readings(
        facility.id, from_ms(start), from_ms(end), columns=ENERGY, resample="1D",
        tz=tz, conn=conn,
    )
    by_day = {stamp.date(): i for i, stamp in enumerate(frame.index)}
    wanted = [first_day + timedelta(days=k) for k in range(days)]
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
    return _daily_table(tz, wanted, samples, produced, consumed, self_used)


def _daily_table(tz, wanted, samples, produced, consumed, self_used) -> pd.DataFrame:
    index = pd.DatetimeIndex(
        [pd.Timestamp(d).tz_localize(tz) for d in wanted], name="timestamp"
    )
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
    daily: pd.DataFrame, facility: FacilityInfo, end_ms: int, *, now: int | None = None
) -> pd.DataFrame:
    """Average power [kW] per local day from :func:`daily_energy` (no query).

    The same figures as ``power_series(..., "1D")``: a day's energy over its
    length (23, 24 or 25 h), the running day over its elapsed part.
    """
    now = now_ms() if now is None else int(now)
    daily = daily[daily["samples"] > 0]
    return bucket_power(
        daily.index, daily["produced_kwh"].to_numpy(),
        daily["consumed_kwh"].to_numpy(), daily["samples"].to_numpy(), "1D",
        end_ms, now, facility.expected_interval_s,
    )


def usage_heatmap(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    *,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """Average consumption [kW] by local weekday (rows Mon–Sun) and hour (0–23).

    Each local clock hour's kWh is its average power; cells average over the
    hours with readings (NaN where none).
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url, conn=conn)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id, from_ms(start_ms), from_ms(end_ms), columns=["energy_consumed"],
        resample="1h", tz=facility.timezone, database_url=database_url, conn=conn,
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
    first = start_ms // BUCKET_MS
    last = -(-until // BUCKET_MS)
    total = last - first
    if total <= 0:
        return 0.0
    covered = readings.covered_buckets(conn, facility_id, start_ms, until)
    return min(100.0, covered / total * 100)


def period_comparison(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    previous_start_ms: int,
    *,
    database_url: str | None = None,
    now: int | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Totals of ``[start, end)`` and ``[previous_start, start)`` and their change.

    Returns ``{"current": totals, "previous": totals, "change_pct": {...},
    "coverage": {"current": %, "previous": %}, "comparable": bool,
    "comparable_pct": COMPARABLE_PCT}`` where totals are ``produced_kwh``,
    ``consumed_kwh``, ``net_import_kwh`` [kWh] and ``self_sufficiency_pct`` [%].
    Coverage is the share of each period (so far) with readings. A change is
    ``(current − previous) / |previous| × 100`` (for self-sufficiency the
    difference in percentage points), and only when both periods are at least
    ``COMPARABLE_PCT`` covered: a change against a period that holds one day of
    thirty would be a number nobody should trust.
    """
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        current = live.totals(conn, facility_id, start_ms, end_ms)
        previous = live.totals(conn, facility_id, previous_start_ms, start_ms)
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


def voltage_series(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    resolution: str,
    *,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """Voltage [V], phase currents [A], imbalance [%], frequency [Hz] and PF.

    Raw readings or bucket means (``resolution`` as in :func:`power_series`),
    indexed by local time.
    """
    if facility is None:
        facility = facility_view(facility_id, database_url=database_url, conn=conn)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id, from_ms(start_ms), from_ms(end_ms), columns=ELECTRICAL,
        resample=None if resolution == "raw" else resolution,
        tz=facility.timezone, database_url=database_url, conn=conn,
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
    conn: Connection | None = None,
) -> dict[str, Any]:
    """EN 50160-style figures of ``[start, end)`` (usually one local week).

    Returns ``readings`` (with a voltage), ``within`` (inside nominal ± ``band_pct``
    %, edges included), ``within_pct`` [%] (None without readings) and the
    numbers of ``sags`` / ``swells`` / ``outages``: alerts of kind
    ``voltage_low`` / ``voltage_high`` / ``outage`` that started in the range.
    """
    with connected(database_url, conn) as conn:
        facility = load_info(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        nominal = facility.nominal_voltage
        low, high = nominal * (1 - band_pct / 100), nominal * (1 + band_pct / 100)
        total, within = readings.voltage_within(
            conn, facility.id, start_ms, end_ms, low, high
        )
        kinds = alert_rows.kind_counts(conn, facility.id, start_ms, end_ms)
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
