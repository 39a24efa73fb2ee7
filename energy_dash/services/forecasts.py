"""Forecast use cases: the hourly history a refresh fits on, the stored runs that
pages and ``/api/predictions`` show, day accuracy, weekday profiles and the
unusual-consumption alert. Each function opens its own short session.

Conventions
-----------
* Instants are tz-aware ``pandas.Timestamp`` (UTC unless stated), epoch
  milliseconds, or anything :func:`energy_dash.domain.times.to_utc` accepts;
  naive values are UTC. Intervals are half-open ``[start, end)``.
* Hours, days and weekdays are the facility's local calendar (IANA zone,
  DST-correct). Hourly buckets start at local clock hours.
* Energies are kWh; a forecast point is the energy of one hour [kWh per hour].

How runs are stored: ``energy_dash.storage.forecasts``. How they are made (the
refresh job): ``energy_dash.services.forecast_refresh``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from energy_dash.db import connected, reading_session, session_scope
from energy_dash.domain.alerts import ANOMALY_KIND
from energy_dash.domain.anomaly import (
    ANOMALY_LOOKBACK,
    anomaly_message,
    distance,
    verdict,
)
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.times import (
    HOUR,
    aware,
    hours_text,
    instant,
    iso_utc,
    local_hour_start,
    local_midnight,
    now_or,
)
from energy_dash.services.facilities import facility_ids, facility_info
from energy_dash.services.readings import read_readings
from energy_dash.storage import alerts as alert_rows
from energy_dash.storage import forecasts as runs_store
from energy_dash.storage.facilities import all_infos
from energy_dash.storage.forecasts import TARGETS, ForecastRun, check_target

__all__ = [
    "ANOMALY_KIND",
    "FacilityInfo",
    "ForecastRun",
    "HORIZON_HOURS",
    "HOUR",
    "MIN_HISTORY_HOURS",
    "PROPHET_HISTORY_HOURS",
    "TARGETS",
    "check_unusual_consumption",
    "day_accuracy",
    "facility_ids",
    "facility_info",
    "forecast_for_day",
    "history_status",
    "hourly_actuals",
    "hourly_history",
    "iso_utc",
    "latest_forecast",
    "local_hour_start",
    "local_midnight",
    "not_enough_history_message",
    "peak_hours",
    "save_forecast",
    "weekday_profile",
]

HORIZON_HOURS = 24
HISTORY_DAYS = 90
MIN_HISTORY_HOURS = 48  # 2 days: below this nothing is stored
PROPHET_HISTORY_HOURS = 14 * 24  # below this: seasonal-naive baselines only
MAX_FILLED_GAP_HOURS = 3  # missing hours in runs up to this long are interpolated
PROFILE_WEEKS = 8
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ENERGY = ["energy_produced", "energy_consumed"]


# -------------------------------------------------------------------- history
def _fill_short_gaps(series: pd.Series, max_gap: int) -> pd.Series:
    """Interpolate runs of at most ``max_gap`` missing values between known ones."""
    missing = series.isna()
    if not missing.any():
        return series
    runs = (missing != missing.shift()).cumsum()
    run_length = missing.groupby(runs).transform("sum")
    inside = series.interpolate(method="linear", limit_area="inside")
    fill = missing & (run_length <= max_gap) & inside.notna()
    return series.where(~fill, inside)


def hourly_history(
    facility_id: int,
    *,
    end: Any = None,
    days: int = HISTORY_DAYS,
    database_url: str | None = None,
    tz: str | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """Hourly energy of the last ``days`` days on a regular local-hour grid.

    Parameters
    ----------
    facility_id : int
        The facility.
    end : instant, optional
        The history ends at the start of the local hour containing ``end``
        (default now): only complete hours.
    days : int
        Length of the window [d]; the grid starts at the first hour with data.
    tz : str, optional
        The facility's zone (looked up when omitted).

    Returns
    -------
    pandas.DataFrame
        ``energy_consumed`` and ``energy_produced`` [kWh per hour] indexed by the
        hour start in the facility's zone (``timestamp``), one row per hour.
        Missing hours in gaps of at most ``MAX_FILLED_GAP_HOURS`` are linearly
        interpolated; longer gaps stay NaN. ``attrs``: ``hours_with_data``
        (hours that had readings), ``filled_hours``, ``end`` (UTC).
    """
    if tz is None:
        info = facility_info(facility_id, database_url=database_url, conn=conn)
        if info is None:
            raise LookupError(f"facility {facility_id} does not exist")
        tz = info.timezone
    stop = local_hour_start(now_or(end), tz)
    start = stop - pd.Timedelta(days=days)
    frame = read_readings(
        facility_id, start, stop, columns=ENERGY, resample="1h",
        database_url=database_url, conn=conn,
    )
    frame = frame[frame["samples"] > 0] if len(frame) else frame
    columns = ["energy_consumed", "energy_produced"]
    if frame.empty:
        out = pd.DataFrame(
            {c: pd.Series(dtype="float64") for c in columns},
            index=pd.DatetimeIndex([], tz=tz, name="timestamp"),
        )
        out.attrs.update(hours_with_data=0, filled_hours=0, end=stop)
        return out
    grid = pd.date_range(frame.index[0], stop - HOUR, freq="h", name="timestamp")
    raw = frame[columns].reindex(grid)
    out = raw.apply(lambda s: _fill_short_gaps(s, MAX_FILLED_GAP_HOURS))
    out.index = grid.tz_convert(tz)
    out.attrs.update(
        hours_with_data=int(raw["energy_consumed"].notna().sum()),
        filled_hours=int(
            (raw["energy_consumed"].isna() & out["energy_consumed"].notna()).sum()
        ),
        end=stop,
    )
    return out


def not_enough_history_message(hours: int) -> str:
    """The explanation shown (page, CLI, job summary) when nothing can be stored."""
    unit = "hour" if hours == 1 else "hours"
    return (
        "Forecasts need at least 2 days of readings; this facility has "
        f"{hours} {unit}"
    )


def history_status(
    facility_id: int, *, now: Any = None, database_url: str | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """How much hourly history the forecasts can use.

    Returns ``{"hours": n, "enough": n >= 48, "prophet": n >= 336, "message"}``
    where ``n`` counts the hours with readings in the last 90 days and
    ``message`` is the explanation when there are not enough (else None).
    """
    history = hourly_history(facility_id, end=now, database_url=database_url,
                             conn=conn)
    hours = int(history.attrs["hours_with_data"])
    enough = hours >= MIN_HISTORY_HOURS
    return {
        "hours": hours,
        "enough": enough,
        "prophet": hours >= PROPHET_HISTORY_HOURS,
        "message": None if enough else not_enough_history_message(hours),
    }


def hourly_actuals(
    facility_id: int,
    start: Any,
    end: Any,
    *,
    database_url: str | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """Actual energy per local hour in ``[start, end)``: hours with readings only.

    Returns ``energy_consumed``, ``energy_produced`` [kWh] and ``samples`` (readings
    in the hour), indexed by the hour start (UTC).
    """
    frame = read_readings(
        facility_id, instant(start), instant(end), columns=ENERGY, resample="1h",
        database_url=database_url, conn=conn,
    )
    if len(frame):
        frame = frame[frame["samples"] > 0]
    return frame[["energy_consumed", "energy_produced", "samples"]]


def save_forecast(
    facility_id: int,
    target: str,
    frame: pd.DataFrame,
    *,
    database_url: str | None = None,
    **details: Any,
) -> int:
    """Store one forecast run in its own session; returns its id. ``details``
    (``model``, ``trained_at``, ``metrics``, ``note``, ``slot``) as in
    :func:`energy_dash.storage.forecasts.save_forecast`."""
    with session_scope(database_url) as session:
        return runs_store.save_forecast(session, facility_id, target, frame, **details)


def page_signature(
    facility_id: int, *, now: Any = None, database_url: str | None = None,
    conn: Connection | None = None,
) -> dict[str, Any] | None:
    """What /forecast shows changes only when this does (two indexed reads).

    The newest run of each target, the local hour (actuals are whole hours, the
    day before turns at midnight, a run expires on an hour) and the zone; only
    the "now" line moves in between. JSON-native for a ``dcc.Store``; None for
    an unknown facility.
    """
    with connected(database_url, conn) as conn:
        info = facility_info(facility_id, conn=conn)
        if info is None:
            return None
        with reading_session(conn=conn) as session:
            runs = {}
            for target in TARGETS:
                row = runs_store.latest_row(session, facility_id, target)
                runs[target] = None if row is None else int(row.id)
    hour = local_hour_start(now_or(now), info.timezone)
    return {"facility": int(facility_id), "runs": runs, "zone": info.timezone,
            "hour": hour.isoformat()}


def latest_forecast(
    facility_id: int, target: str = "consumption", *, database_url: str | None = None,
    conn: Connection | None = None,
) -> ForecastRun | None:
    """The newest stored run of ``target`` (by training time), or None."""
    with reading_session(database_url, conn) as session:
        return runs_store.latest_forecast(session, facility_id, target)


def forecast_for_day(
    facility_id: int,
    target: str,
    day: date,
    tz: str,
    *,
    database_url: str | None = None,
    conn: Connection | None = None,
) -> ForecastRun | None:
    """The stored run that covered the local day ``day`` best.

    The run with the most forecast hours inside the day wins (a run made at the
    day's first hour covers all of it); among equals, the newest. Every stored
    run forecasts only hours after its own history ended, so whichever run is
    chosen, the comparison with what happened is out of sample.
    """
    check_target(target)
    lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    with reading_session(database_url, conn) as session:
        runs = runs_store.runs_starting(
            session, facility_id, target, lo - pd.Timedelta(hours=HORIZON_HOURS), hi
        )
    best, best_key = None, None
    for run in runs:
        inside = int(((run.frame.index >= lo) & (run.frame.index < hi)).sum())
        if inside == 0:
            continue
        key = (inside, run.trained_at, run.id)
        if best_key is None or key > best_key:
            best, best_key = run, key
    return best


def day_accuracy(
    run: ForecastRun | None,
    actual: pd.Series,
    start: Any = None,
    end: Any = None,
) -> dict[str, Any]:
    """MAE [kWh per hour] and WAPE [fraction] of a run against actual hourly energy.

    Only hours present in both (and inside ``[start, end)`` when given) count.
    Returns ``{"mae", "wape", "hours"}`` (None without common hours; WAPE None
    when the actual total is 0).
    """
    if run is None or run.frame.empty or actual is None or actual.empty:
        return {"mae": None, "wape": None, "hours": 0}
    predicted = run.frame["yhat"]
    actual = actual.copy()
    actual.index = pd.DatetimeIndex(actual.index).tz_convert("UTC")
    joined = pd.concat({"a": actual, "p": predicted}, axis=1, join="inner").dropna()
    if start is not None:
        joined = joined[joined.index >= instant(start)]
    if end is not None:
        joined = joined[joined.index < instant(end)]
    if joined.empty:
        return {"mae": None, "wape": None, "hours": 0}
    error = (joined["a"] - joined["p"]).abs()
    total = float(joined["a"].abs().sum())
    return {
        "mae": float(error.mean()),
        "wape": float(error.sum() / total) if total > 0 else None,
        "hours": int(len(joined)),
    }


# --------------------------------------------------------------------- profiles
def weekday_profile(
    facility_id: int,
    *,
    now: Any = None,
    weeks: int = PROFILE_WEEKS,
    target: str = "consumption",
    database_url: str | None = None,
    conn: Connection | None = None,
) -> pd.DataFrame:
    """Average energy per local hour by weekday over the last ``weeks`` weeks.

    Returns a 7 × 24 frame [kWh per hour]: rows ``Mon`` … ``Sun``, columns the
    local hour 0 … 23; NaN where no hour had readings.
    """
    column = TARGETS[check_target(target)]
    info = facility_info(facility_id, database_url=database_url, conn=conn)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    end = local_hour_start(now_or(now), info.timezone)
    frame = read_readings(
        facility_id, end - pd.Timedelta(weeks=weeks), end, columns=[column],
        resample="1h", tz=info.timezone, database_url=database_url, conn=conn,
    )
    grid = pd.DataFrame(np.nan, index=list(WEEKDAYS), columns=list(range(24)))
    if len(frame):
        frame = frame[frame["samples"] > 0]
    if frame.empty:
        return grid
    means = frame[column].groupby([frame.index.day_of_week, frame.index.hour]).mean()
    for (weekday, hour), value in means.items():
        grid.iat[int(weekday), int(hour)] = float(value)
    return grid


def peak_hours(profile: pd.DataFrame, top: int = 3) -> dict[str, Any] | None:
    """The busiest hours of an average day and the busiest weekday hour.

    Returns ``{"hours": [h, ...], "hours_text": "11:00–14:00", "mean_kwh": x,
    "peak_day": "Tue", "peak_hour": 12, "peak_kwh": y}`` or None without data.
    ``mean_kwh`` is the average energy in those hours [kWh per hour].
    """
    if profile is None or profile.isna().all().all():
        return None
    by_hour = profile.mean(axis=0, skipna=True).dropna()
    ranked = by_hour.sort_values(ascending=False, kind="mergesort")
    hours = sorted(int(h) for h in ranked.index[:top])
    stacked = profile.stack().dropna()
    (day, hour) = stacked.idxmax()
    return {
        "hours": hours,
        "hours_text": hours_text(hours),
        "mean_kwh": float(by_hour[hours].mean()),
        "peak_day": str(day),
        "peak_hour": int(hour),
        "peak_kwh": float(stacked.max()),
    }


# ------------------------------------------------------------------ anomaly alerts
def check_unusual_consumption(
    database_url: str | None = None,
    now: Any = None,
    *,
    min_hours: int = 1,
    facility_id: int | None = None,
) -> list[tuple[str, int, int]]:
    """Open or close "unusual consumption" alerts from the stored forecasts.

    For each facility, the last ``min_hours`` complete local hours before ``now``
    are compared with the newest stored consumption forecast covering each hour
    (a stored run only forecasts hours after its history ended). When all of
    them lie outside their 80 % interval an ``unusual_consumption`` alert (level
    ``warning``) opens, starting at the first of those hours. ``extreme_value``
    is the actual energy [kWh] of the hour furthest outside its interval since
    the alert started (at most 7 days back), and the message names that hour
    and its expected range. The alert stays open (one alert per excursion)
    until a complete hour lies inside its interval again; it then closes with
    ``ended_at`` = the start of that hour. Hours without enough readings or
    without a forecast change nothing (the offline alert covers silence).

    Returns
    -------
    list of (event, facility_id, alert_id)
        ``event`` is ``opened``, ``updated`` (a new extreme) or ``closed``.
    """
    if min_hours < 1:
        raise ValueError("min_hours must be at least 1")
    moment = now_or(now)
    events: list[tuple[str, int, int]] = []
    with session_scope(database_url, write=True) as session:
        for info in all_infos(session, facility_id):
            event = _check_facility(session, info, moment, min_hours, database_url)
            if event is not None:
                events.append(event)
    return events


def _check_facility(
    session, info: FacilityInfo, moment: pd.Timestamp, min_hours: int, url
) -> tuple[str, int, int] | None:
    end = local_hour_start(moment, info.timezone)
    recent = [end - HOUR * k for k in range(min_hours, 0, -1)]
    current = alert_rows.open_alert_of_kind(session, info.id, ANOMALY_KIND)
    first = recent[0]
    if current is not None:
        started = pd.Timestamp(aware(current.started_at)).tz_convert("UTC")
        first = min(first, max(started, end - ANOMALY_LOOKBACK))
    actual = hourly_actuals(info.id, first, end, database_url=url)
    runs = runs_store.runs_starting(
        session, info.id, "consumption",
        first - pd.Timedelta(hours=HORIZON_HOURS - 1), end,
    )
    step = info.expected_interval_s
    verdicts = [verdict(step, hour, actual, runs) for hour in recent]
    if any(v is None for v in verdicts):
        return None
    if current is None:
        if not all(v["outside"] for v in verdicts):
            return None
        worst = max(verdicts, key=distance)
        alert_id = alert_rows.open_alert(
            session, info.id, ANOMALY_KIND, "warning",
            started_at=verdicts[0]["hour"].to_pydatetime(),
            extreme_value=worst["actual"],
            message=anomaly_message(worst, info.timezone),
        )
        return ("opened", info.id, alert_id)
    if not verdicts[-1]["outside"]:
        current.ended_at = verdicts[-1]["hour"].to_pydatetime()
        return ("closed", info.id, current.id)
    hours = pd.date_range(first, end - HOUR, freq="h")
    judged = [v for h in hours if (v := verdict(step, h, actual, runs)) is not None]
    worst = max((v for v in judged if v["outside"]), key=distance)
    message = anomaly_message(worst, info.timezone)
    if current.extreme_value == worst["actual"] and current.message == message:
        return None
    current.extreme_value = worst["actual"]
    current.message = message
    return ("updated", info.id, current.id)
