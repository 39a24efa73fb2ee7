"""What the live pages show (/dashboard, /wall, the live parts of /voltage and the
session API): newest state, today's totals, power series, the wall tick, the live
signature and the alert lists. Each function reads on the connection it is given
(``conn``: a page tick reads everything on one), else on a short one of its own.

Conventions
-----------
* Instants are UTC epoch milliseconds (``*_ms``) or tz-aware timestamps;
  intervals are half-open ``[start, end)``.
* Days and weeks are the facility's local calendar (``energy_dash.domain.times``).
* Power [kW] = interval energy [kWh] / interval length [h] (README "Metrics").
* "Connected" is ``energy_dash.domain.connectivity``.
* Percentages are 0–100; ``None`` means "undefined" (e.g. nothing consumed).
"""

from __future__ import annotations

import itertools
import math
import os
from collections import OrderedDict
from datetime import date, datetime, timedelta
from threading import Lock
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from energy_dash.db import connected, session_scope
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.metrics import imbalance_pct, interval_power, ratio_from_sums
from energy_dash.domain.registers import reading_interval_s
from energy_dash.domain.series import (
    MAX_POINTS,
    RESOLUTION_LABELS,
    bucket_power,
    bucket_resolution,
    choose_resolution,
    covered_since_s,
    dashboard_resolution,
    lookback_ms,
    raw_power,
    running_bucket_ms,
)
from energy_dash.domain.times import (
    day_bounds,
    from_ms,
    local_midnight_ms,
    local_today,
    now_ms,
    utc_index,
    week_bounds,
)
from energy_dash.services.readings import read_readings
from energy_dash.storage import alerts as alert_rows
from energy_dash.storage import readings
from energy_dash.storage.facilities import load_info

__all__ = [
    "MAX_POINTS",
    "RESOLUTION_LABELS",
    "acknowledge_alert",
    "alert_log",
    "choose_resolution",
    "dashboard_update",
    "dashboard_resolution",
    "dashboard_power",
    "dashboard_trend",
    "day_bounds",
    "facility_view",
    "imbalance_pct",
    "latest_state",
    "live_signature",
    "local_midnight_ms",
    "local_today",
    "newest_ts",
    "now_ms",
    "open_alerts",
    "power_series",
    "recent_alerts",
    "resolution_for",
    "today_totals",
    "wall_points",
    "wall_update",
    "week_bounds",
]

ENERGY = ["energy_produced", "energy_consumed"]


# ------------------------------------------------------------------ facility
def facility_view(
    facility_id: int, *, database_url: str | None = None,
    conn: Connection | None = None,
) -> FacilityInfo | None:
    """The facility's name, zone, expected interval [s], capacity [kW] and bands."""
    with connected(database_url, conn) as conn:
        return load_info(conn, facility_id)


def newest_ts(
    facility_id: int, *, database_url: str | None = None,
    conn: Connection | None = None,
) -> int | None:
    """Timestamp of the facility's newest reading [UTC epoch ms], or None."""
    with connected(database_url, conn) as conn:
        return readings.newest_ts(conn, facility_id)


def latest_state(
    facility_id: int, *, now: int | None = None, database_url: str | None = None,
    conn: Connection | None = None, facility: FacilityInfo | None = None,
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
    with connected(database_url, conn) as conn:
        facility = _facility(conn, facility_id, facility)
        return latest_state_of(conn, facility, now)


def _facility(conn: Connection, facility_id: int,
              known: FacilityInfo | None = None) -> FacilityInfo:
    """``known`` when the caller read it already in this request (a live tick
    reads it once for its signature and every figure), else a fresh read."""
    if known is not None and known.id == facility_id:
        return known
    facility = load_info(conn, facility_id)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    return facility


def latest_state_of(
    conn: Connection, facility: FacilityInfo, now: int
) -> dict[str, Any]:
    row = readings.last_reading(conn, facility.id)
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
    previous = readings.previous_ts(conn, facility.id, row.device_id, last)
    interval = reading_interval_s(previous, last, facility.expected_interval_s)
    production = interval_power(row.energy_produced, interval)
    consumption = interval_power(row.energy_consumed, interval)
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
        connected=facility.connected(last, now),
    )
    return state


def latest_state_and_row(
    facility_id: int, *, now: int | None = None, database_url: str | None = None,
    conn: Connection | None = None,
) -> tuple[dict[str, Any], Any]:
    """:func:`latest_state` and the newest reading row (all fields), one connection."""
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        facility = load_info(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return latest_state_of(conn, facility, now), readings.last_reading(
            conn, facility.id
        )


def readings_since(
    facility_id: int, since_ms: int, *, database_url: str | None = None,
    conn: Connection | None = None,
) -> int:
    """How many readings arrived since ``since_ms`` [UTC epoch ms]."""
    with connected(database_url, conn) as conn:
        return int(readings.count_since(conn, facility_id, since_ms))


def today_totals(
    facility_id: int, *, now: int | None = None, day: date | None = None,
    database_url: str | None = None, conn: Connection | None = None,
) -> dict[str, Any]:
    """kWh produced and consumed on one local calendar day (default: today).

    Returns ``produced_kwh``, ``consumed_kwh``, ``net_import_kwh`` [kWh],
    ``self_sufficiency_pct`` [%] (Σ min(p, c) / Σ c per reading; None without
    consumption), ``day`` and the day's ``start_ms``/``end_ms``.
    """
    with connected(database_url, conn) as conn:
        facility = load_info(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return day_totals(conn, facility, now, day)


def day_totals(conn, facility: FacilityInfo, now, day=None) -> dict[str, Any]:
    day = day or local_today(now, facility.timezone)
    start, end = day_bounds(day, facility.timezone)
    out = totals(conn, facility.id, start, end)
    out.update(day=day.isoformat(), start_ms=start, end_ms=end)
    return out


def totals(conn, facility_id: int, start: int, end: int) -> dict[str, Any]:
    """kWh produced, consumed, net import and self-used, and self-sufficiency [%]."""
    sums = readings.energy_totals(conn, facility_id, start, end)
    ratio = ratio_from_sums(sums["self_used"], sums["consumed"])
    return {
        "produced_kwh": sums["produced"],
        "consumed_kwh": sums["consumed"],
        "net_import_kwh": sums["consumed"] - sums["produced"],
        "self_used_kwh": sums["self_used"],
        "self_sufficiency_pct": None if ratio is None else ratio * 100,
    }


def power_series(
    facility_id: int,
    start_ms: int,
    end_ms: int,
    resolution: str,
    *,
    now: int | None = None,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    conn: Connection | None = None,
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
        facility = facility_view(facility_id, database_url=database_url, conn=conn)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    tz = facility.timezone
    if resolution == "raw":
        frame = read_readings(
            facility.id, from_ms(start_ms), from_ms(end_ms), columns=ENERGY, tz=tz,
            database_url=database_url, conn=conn,
        )
        out = raw_power(frame, facility.expected_interval_s)
        out["net_import_kw"] = out["consumption_kw"] - out["production_kw"]
    else:
        frame = read_readings(
            facility.id, from_ms(start_ms), from_ms(end_ms), columns=ENERGY,
            resample=resolution, tz=tz, database_url=database_url, conn=conn,
        )
        out = _bucket_series(
            facility, frame.index, frame["energy_produced"].to_numpy(),
            frame["energy_consumed"].to_numpy(), frame["samples"].to_numpy(),
            resolution, end_ms, now, database_url, conn,
        )
    out.index.name = "timestamp"
    return out


def _bucket_series(facility, index, produced, consumed, samples, resolution,
                   end_ms, now, database_url=None, conn=None) -> pd.DataFrame:
    """Bucket energies to power, the running bucket over its readings' intervals."""
    expected = facility.expected_interval_s
    tail = running_bucket_ms(index, resolution, end_ms, now)
    covered = None if tail is None else covered_since_s(read_readings(
        facility.id, from_ms(tail - lookback_ms(expected)), from_ms(end_ms),
        columns=ENERGY, database_url=database_url, conn=conn), tail, expected)
    return bucket_power(index, produced, consumed, samples, resolution, end_ms,
                        now, expected, covered)


def _aligned_power(facility: FacilityInfo, start_ms: int, end_ms: int,
                   rule: str, step: int, now: int, conn: Connection) -> pd.DataFrame:
    """:func:`power_series` where the local buckets are UTC multiples of ``step``
    (checked by the caller): the SQL bucket sums go straight to power, without
    the resampling reader's frames (a few buckets, every tick)."""
    rows = readings.fetch_buckets(conn, [facility.id], start_ms, end_ms, ENERGY,
                                  step)
    values = np.array(rows, dtype="float64").reshape(-1, 7)  # None -> NaN
    index = utc_index(values[:, 1].astype("int64") * step, facility.timezone)
    out = _bucket_series(
        facility, index, np.where(values[:, 4] > 0, values[:, 3], np.nan),
        np.where(values[:, 6] > 0, values[:, 5], np.nan),
        values[:, 2].astype("int64"), rule, end_ms, now, conn=conn,
    )
    out.index.name = "timestamp"
    return out


# ------------------------------------------------------- dashboard tick caches
DAY_MS = 86_400_000
CACHE_SIZE = 64  # facilities whose dashboard work one worker keeps
_QUARTER_MS = 900_000
_cache: OrderedDict[tuple, tuple] = OrderedDict()
_cache_lock = Lock()
_lineages = itertools.count(1)


def _cached(key: tuple) -> tuple | None:
    with _cache_lock:
        value = _cache.get(key)
        if value is not None:
            _cache.move_to_end(key)
        return value


def _keep(key: tuple, value: tuple) -> None:
    with _cache_lock:
        _cache[key] = value
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every kept dashboard prefix (the next tick recomputes everything)."""
    with _cache_lock:
        _cache.clear()


def _quarters(start_ms: int, end_ms: int) -> tuple[int, int]:
    """The 15-minute rollup range that holds ``[start, end)``."""
    return (start_ms // _QUARTER_MS * _QUARTER_MS,
            -(-end_ms // _QUARTER_MS) * _QUARTER_MS)


def dashboard_power(
    facility: FacilityInfo, now: int, end_ms: int, *, conn: Connection,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """:func:`power_series` of the dashboard's 24 hours (``dashboard_resolution``
    buckets up to ``end_ms``), equal to a fresh one, with the closed buckets kept.

    A new reading changes only the last few buckets (the running one, the ones
    closed in the last quarter hour, any ahead of ``now``); the buckets before
    them are kept per worker while the rollups under them sum to the same (one
    aggregate query checks; a late reading or a rewrite there recomputes all).
    Returns the frame and ``{"lineage", "split"}``: buckets before ``split`` are
    the same as in every earlier frame of that lineage (None: nothing kept).
    """
    rule = dashboard_resolution(facility.expected_interval_s)
    step = {"5min": 300_000, "10min": 600_000, "15min": 900_000}[rule]
    start = (now - DAY_MS) // step * step
    quantum = math.lcm(step, _QUARTER_MS)  # on bucket and rollup edges both
    split = (now // step * step - step) // quantum * quantum
    offset = from_ms(split).tz_convert(facility.timezone).utcoffset()
    if split <= start or (split + offset // timedelta(milliseconds=1)) % step:
        # (a zone whose local buckets do not start on the quarter hours)
        return power_series(facility.id, start, end_ms, rule, now=now,
                            facility=facility, conn=conn), None
    key = ("power", str(conn.engine.url), facility.id, rule, facility.timezone,
           facility.expected_interval_s)
    kept = _cached(key)
    head, lineage = None, None
    if kept is not None and kept[0] <= split:
        kept_split, kept_start, signature, frame, lineage = kept
        if readings.rollup_signature(
            conn, facility.id, *_quarters(kept_start, kept_split)
        ) == signature:
            head = frame
            if kept_split < split:  # buckets closed since: add them once
                head = pd.concat([head, power_series(
                    facility.id, kept_split, split, rule, now=now,
                    facility=facility, conn=conn)])
    if head is None or head is not kept[3]:
        if head is None:
            head = power_series(facility.id, start, split, rule, now=now,
                                facility=facility, conn=conn)
            lineage = f"{os.getpid()}-{next(_lineages)}"
        head = head[head.index >= from_ms(start)]
        _keep(key, (split, start, readings.rollup_signature(
            conn, facility.id, *_quarters(start, split)), head, lineage))
    head = head[head.index >= from_ms(start)]
    tail = _aligned_power(facility, split, end_ms, rule, step, now, conn)
    drawn = {"lineage": lineage, "split": split}
    if tail.empty:
        return head.copy(), drawn
    if head.empty:
        return tail, drawn
    return pd.concat([head, tail]), drawn


def dashboard_trend(
    facility: FacilityInfo, now: int, days: int, *, conn: Connection,
) -> pd.DataFrame:
    """:func:`energy_dash.services.history.daily_energy` of the ``days`` local days
    up to today, equal to a fresh one: the closed days are kept per worker for the
    local date while their rollups sum to the same; only today's is read again."""
    from energy_dash.services.history import daily_energy  # (history imports us)

    tz = facility.timezone
    today = local_today(now, tz)
    first = today - timedelta(days=days - 1)
    key = ("trend", str(conn.engine.url), facility.id, tz, first.isoformat(), days)
    bounds = (local_midnight_ms(first, tz), local_midnight_ms(today, tz))
    signature = readings.rollup_signature(conn, facility.id, *_quarters(*bounds))
    kept = _cached(key)
    if kept is not None and kept[0] == signature:
        closed = kept[1]
    else:
        closed = daily_energy(facility.id, first, days - 1, facility=facility,
                              conn=conn)
        _keep(key, (signature, closed))
    now_day = daily_energy(facility.id, today, 1, facility=facility, conn=conn)
    return pd.concat([closed, now_day])


def wall_points(
    facility_id: int,
    since_ms: int,
    *,
    limit: int = 500,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    conn: Connection | None = None,
) -> list[tuple[int, float | None, float | None]]:
    """Readings newer than ``since_ms`` as ``(ts_ms, production_kw, consumption_kw)``.

    Each reading's power uses the time since the same device's previous reading
    (looked up before ``since_ms`` too), else the expected interval; readings of
    several devices at one instant are summed. At most ``limit`` oldest first.
    """
    with connected(database_url, conn) as conn:
        if facility is None:
            facility = load_info(conn, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return wall_points_of(conn, facility, since_ms, limit)


def wall_points_of(conn, facility: FacilityInfo, since_ms: int, limit: int,
                 until_ms: int | None = None):
    rows = readings.energy_points(conn, facility.id, since_ms, limit, until_ms)
    previous: dict[str, int | None] = {}
    summed: dict[int, list[float]] = {}
    for ts, device, produced, consumed in rows:
        if device not in previous:
            previous[device] = readings.previous_ts(conn, facility.id, device, ts)
        before = previous[device]
        interval = reading_interval_s(before, ts, facility.expected_interval_s)
        previous[device] = ts
        acc = summed.setdefault(int(ts), [0.0, 0.0])
        acc[0] += interval_power(produced, interval) or 0.0
        acc[1] += interval_power(consumed, interval) or 0.0
    return [(ts, p, c) for ts, (p, c) in sorted(summed.items())]


def wall_update(
    facility_id: int,
    since_ms: int | None,
    *,
    now: int | None = None,
    limit: int = 500,
    database_url: str | None = None,
    conn: Connection | None = None,
    facility: FacilityInfo | None = None,
) -> dict[str, Any]:
    """Everything one wall tick needs, over a single connection.

    Returns ``facility`` (:class:`FacilityInfo`), ``state`` (:func:`latest_state`),
    ``today`` (:func:`today_totals`), ``alerts`` (:func:`recent_alerts`) and
    ``points``: readings newer than ``since_ms`` up to the newest one in
    ``state`` (see :func:`wall_points`; empty when ``since_ms`` is None) and
    ``complete``: False when more than ``limit`` readings arrived (redraw).
    """
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        facility = _facility(conn, facility_id, facility)
        state = latest_state_of(conn, facility, now)
        points = (
            wall_points_of(conn, facility, since_ms, limit + 1, state["last_ms"])
            if since_ms is not None and state["last_ms"] is not None
            and state["last_ms"] > since_ms
            else []
        )
        return {
            "facility": facility,
            "state": state,
            "today": day_totals(conn, facility, now),
            "alerts": alert_rows.recent_alerts(conn, facility.id, now, 24, 10),
            "points": points[:limit],
            "complete": len(points) <= limit,
        }


def dashboard_update(
    facility_id: int, *, now: int | None = None, database_url: str | None = None,
    conn: Connection | None = None, facility: FacilityInfo | None = None,
) -> dict[str, Any]:
    """The dashboard's figures that need no series, over a single connection.

    Returns ``facility`` (:class:`FacilityInfo`), ``state`` (:func:`latest_state`),
    ``today`` (:func:`today_totals`) and ``alerts`` (:func:`open_alerts`): one
    facility read instead of one per figure.
    """
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        facility = _facility(conn, facility_id, facility)
        return {
            "facility": facility,
            "state": latest_state_of(conn, facility, now),
            "today": day_totals(conn, facility, now),
            "alerts": alert_rows.open_alerts(conn, facility.id, 20),
        }


def live_signature(
    facility_id: int, *, now: int | None = None, database_url: str | None = None,
    conn: Connection | None = None, facility: FacilityInfo | None = None,
) -> dict[str, Any] | None:
    """What a live page shows changes only when this changes (three indexed reads).

    ``{"facility", "last_ms", "alerts": [[id, level, acknowledged, open]], "day",
    "connected"}`` — JSON-native so it can be kept in a ``dcc.Store`` and
    compared; None for an unknown facility.
    """
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        try:
            facility = _facility(conn, facility_id, facility)
        except LookupError:
            return None
        last = readings.newest_ts(conn, facility.id)
        alerts = alert_rows.open_alert_signature(conn, facility.id)
    return {
        "facility": facility.id,
        "last_ms": last,
        "alerts": alerts,
        "day": local_today(now, facility.timezone).isoformat(),
        "connected": facility.connected(last, now),
        "settings": [facility.timezone, facility.expected_interval_s,
                     *facility.bands().values()],
    }


def resolution_for(
    facility: FacilityInfo, start_ms: int, end_ms: int, *,
    database_url: str | None = None, max_points: int = MAX_POINTS,
    conn: Connection | None = None,
) -> str:
    """The finest resolution with at most ``max_points`` per trace for this range.

    Raw readings are chosen only when they are actually few enough (a device may
    report faster than the facility's expected interval).
    """
    span_s = max(0, end_ms - start_ms) / 1000
    rule = choose_resolution(span_s, facility.expected_interval_s, max_points)
    if rule != "raw":
        return rule
    with connected(database_url, conn) as conn:
        count = readings.count_between(conn, facility.id, start_ms, end_ms)
    if count <= max_points:
        return "raw"
    return bucket_resolution(span_s, max_points)


# ----------------------------------------------------------------- alerts
def open_alerts(
    facility_id: int, *, limit: int = 20, database_url: str | None = None,
    conn: Connection | None = None,
) -> list[dict[str, Any]]:
    """Alerts still open (no end), newest first, as plain dicts."""
    with connected(database_url, conn) as conn:
        return alert_rows.open_alerts(conn, facility_id, limit)


def alert_log(
    facility_id: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    limit: int = 200,
    database_url: str | None = None,
    conn: Connection | None = None,
) -> list[dict[str, Any]]:
    """Alerts active at any moment of ``[start, end)``, newest first (see
    :func:`energy_dash.storage.alerts.alert_log`)."""
    with connected(database_url, conn) as conn:
        return alert_rows.alert_log(conn, facility_id, start_ms, end_ms, limit)


def recent_alerts(
    facility_id: int, *, now: int | None = None, hours: int = 24, limit: int = 10,
    database_url: str | None = None, conn: Connection | None = None,
) -> list[dict[str, Any]]:
    """Open alerts first, then those of the last ``hours`` that ended (the ticker)."""
    now = now_ms() if now is None else int(now)
    with connected(database_url, conn) as conn:
        return alert_rows.recent_alerts(conn, facility_id, now, hours, limit)


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
    if isinstance(target, Session):
        return alert_rows.acknowledge_alert(target, facility_id, alert_id, user_id, now)
    with session_scope(target, write=True) as session:
        return alert_rows.acknowledge_alert(
            session, facility_id, alert_id, user_id, now
        )
