"""Forecasts, tariffs, costs, recommendations and unusual-consumption alerts.

Every query behind the forecast refresh job, ``/api/predictions``, the /forecast
page, the tariff settings, the cost figures and the recommendations panels lives
here. Pages, components and callbacks call these functions and never import
SQLAlchemy.

Conventions
-----------
* Instants are tz-aware ``pandas.Timestamp`` (UTC unless stated), epoch
  milliseconds, or anything :func:`energy_dash.data.to_utc` accepts; naive
  values are UTC. Intervals are half-open ``[start, end)``.
* Hours, days, weekdays and months are the facility's local calendar (IANA zone,
  DST-correct). Hourly buckets start at local clock hours.
* Energies are kWh; a forecast point is the energy of one hour [kWh per hour].
* Money is in the tariff's currency; prices are [currency/kWh], the standing
  charge is [currency/day].

Stored forecasts
----------------
One ``forecasts`` row per refresh and target (``consumption`` or
``production``): ``start`` is the first forecast hour (UTC), ``points`` holds
``{"timestamp": [ISO 8601 UTC strings], "yhat": [...], "yhat_lower": [...],
"yhat_upper": [...]}`` (24 hourly values [kWh per hour], an 80 % interval) and
``metrics`` the rolling-origin backtest of the chosen model (``mae`` [kWh per
hour], ``wape``, ``coverage``, ``skill_vs_naive`` as fractions, ``folds``,
``baseline`` (the best seasonal-naive baseline), ``baseline_mae``,
``candidates``, ``history_hours``). Runs are kept, so the forecast that covered a
past day can be compared with what happened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select

from energy_dash.db import session_scope
from energy_dash.models import Alert, Facility, Forecast, Tariff
from energy_dash.recommendations import (
    ALL_DAYS,
    Recommendation,
    TouWindow,
    recommend,
)
from energy_dash.recommendations import Tariff as TariffModel

from . import forecast_frame, read_readings, to_utc

__all__ = [
    "ANOMALY_KIND",
    "FacilityInfo",
    "ForecastRun",
    "HORIZON_HOURS",
    "MIN_HISTORY_HOURS",
    "PROPHET_HISTORY_HOURS",
    "TARGETS",
    "TariffError",
    "check_unusual_consumption",
    "clean_tariff",
    "cost_of_range",
    "day_accuracy",
    "default_tariff",
    "facility_ids",
    "facility_info",
    "facility_recommendations",
    "forecast_for_day",
    "get_tariff",
    "history_status",
    "hourly_actuals",
    "hourly_history",
    "iso_utc",
    "latest_forecast",
    "local_hour_start",
    "local_midnight",
    "month_cost",
    "not_enough_history_message",
    "peak_hours",
    "save_forecast",
    "set_tariff",
    "tariff_model",
    "weekday_profile",
]

TARGETS: dict[str, str] = {
    "consumption": "energy_consumed",
    "production": "energy_produced",
}
"""Forecast target -> the reading column it forecasts [kWh]."""

HORIZON_HOURS = 24
HISTORY_DAYS = 90
MIN_HISTORY_HOURS = 48  # 2 days: below this nothing is stored
PROPHET_HISTORY_HOURS = 14 * 24  # below this: seasonal-naive baselines only
MAX_FILLED_GAP_HOURS = 3  # missing hours in runs up to this long are interpolated
PROFILE_WEEKS = 8
RECOMMENDATION_DAYS = 30
ANOMALY_KIND = "unusual_consumption"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOUR = pd.Timedelta(hours=1)
ENERGY = ["energy_produced", "energy_consumed"]
RECOMMENDATION_COLUMNS = [
    "energy_produced",
    "energy_consumed",
    "voltage",
    "current1",
    "current2",
    "current3",
    "power_factor",
]


# ------------------------------------------------------------------------ helpers
def _ts(value: Any) -> pd.Timestamp:
    """A UTC timestamp; epoch milliseconds (int) are accepted as well."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return pd.Timestamp(int(value), unit="ms", tz="UTC")
    stamp = to_utc(value)
    if stamp is None:
        raise ValueError("a time is required")
    return stamp


def _now(now: Any = None) -> pd.Timestamp:
    return _ts(now) if now is not None else pd.Timestamp.now(tz="UTC")


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive UTC datetimes back: make them aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _finite(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json_safe(value: Any) -> Any:
    """Plain JSON values (NaN -> None, numpy -> Python, timestamps -> ISO UTC)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _finite(value)
    if isinstance(value, pd.Timestamp | datetime):
        return iso_utc(value)
    return value


def iso_utc(value: Any) -> str:
    """``2025-06-01T10:00:00Z`` for any instant."""
    return _ts(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_hour_start(now: Any, tz: str) -> pd.Timestamp:
    """Start [UTC] of the local clock hour containing ``now`` (DST-correct)."""
    stamp = _ts(now)
    offset_s = int(stamp.tz_convert(tz).utcoffset().total_seconds())
    epoch_s = stamp.value // 1_000_000_000
    start = epoch_s - (epoch_s + offset_s) % 3600
    return pd.Timestamp(start, unit="s", tz="UTC")


def local_midnight(day: date, tz: str) -> pd.Timestamp:
    """Start [UTC] of a local calendar day (23 or 25 hours long at DST)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return pd.Timestamp(start).tz_convert("UTC")


# ----------------------------------------------------------------------- facility
@dataclass(frozen=True)
class FacilityInfo:
    """What forecasting needs to know about a facility."""

    id: int
    name: str
    timezone: str
    country: str | None
    nominal_voltage: float
    expected_interval_s: int


def _info(row: Facility) -> FacilityInfo:
    zone = row.timezone or "UTC"
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        zone = "UTC"
    return FacilityInfo(
        id=row.id,
        name=row.name,
        timezone=zone,
        country=(row.country or None),
        nominal_voltage=float(row.nominal_voltage or 230.0),
        expected_interval_s=int(row.expected_interval_s or 300),
    )


def facility_info(
    facility_id: int, *, database_url: str | None = None
) -> FacilityInfo | None:
    """Zone, holiday country, nominal voltage [V] and reporting interval [s]."""
    with session_scope(database_url) as session:
        row = session.get(Facility, int(facility_id))
        return _info(row) if row is not None else None


def facility_ids(*, database_url: str | None = None) -> list[int]:
    """Every facility id, ascending."""
    with session_scope(database_url) as session:
        return list(session.scalars(select(Facility.id).order_by(Facility.id)))


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
        info = facility_info(facility_id, database_url=database_url)
        if info is None:
            raise LookupError(f"facility {facility_id} does not exist")
        tz = info.timezone
    stop = local_hour_start(_now(end), tz)
    start = stop - pd.Timedelta(days=days)
    frame = read_readings(
        facility_id, start, stop, columns=ENERGY, resample="1h",
        database_url=database_url,
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
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """How much hourly history the forecasts can use.

    Returns ``{"hours": n, "enough": n >= 48, "prophet": n >= 336, "message"}``
    where ``n`` counts the hours with readings in the last 90 days and
    ``message`` is the explanation when there are not enough (else None).
    """
    history = hourly_history(facility_id, end=now, database_url=database_url)
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
) -> pd.DataFrame:
    """Actual energy per local hour in ``[start, end)``: hours with readings only.

    Returns ``energy_consumed``, ``energy_produced`` [kWh] and ``samples`` (readings
    in the hour), indexed by the hour start (UTC).
    """
    frame = read_readings(
        facility_id, _ts(start), _ts(end), columns=ENERGY, resample="1h",
        database_url=database_url,
    )
    if len(frame):
        frame = frame[frame["samples"] > 0]
    return frame[["energy_consumed", "energy_produced", "samples"]]


# ---------------------------------------------------------------- stored forecasts
@dataclass(frozen=True)
class ForecastRun:
    """One stored forecast run (a plain copy; safe after the session closed)."""

    id: int
    facility_id: int
    target: str
    model: str
    trained_at: datetime
    start: datetime
    metrics: dict[str, Any]
    note: str | None
    frame: pd.DataFrame = field(repr=False)

    @property
    def end(self) -> pd.Timestamp:
        """End of the last forecast hour [UTC]."""
        if self.frame.empty:
            return pd.Timestamp(self.start)
        return self.frame.index[-1] + HOUR


def _run(row: Forecast) -> ForecastRun:
    return ForecastRun(
        id=row.id,
        facility_id=row.facility_id,
        target=row.target,
        model=row.model,
        trained_at=_aware(row.trained_at),
        start=_aware(row.start),
        metrics=dict(row.metrics or {}),
        note=row.note,
        frame=forecast_frame(row),
    )


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError("target must be 'consumption' or 'production'")
    return target


def save_forecast(
    facility_id: int,
    target: str,
    frame: pd.DataFrame,
    *,
    model: str,
    trained_at: Any = None,
    metrics: dict[str, Any] | None = None,
    note: str | None = None,
    slot: datetime | None = None,
    database_url: str | None = None,
) -> int:
    """Store one forecast run; returns its id.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``yhat``, ``yhat_lower``, ``yhat_upper`` [kWh per hour] on a tz-aware
        hourly index (the hour starts).
    model : str
        The model that produced the numbers.
    trained_at : instant, optional
        When it was computed (default now).
    metrics : dict, optional
        Backtest figures (see the module docstring); NaN is stored as null.
    note : str, optional
        Plain-words remarks (baselines only, fallback after a timeout, ...).
    slot : datetime, optional
        The scheduled refresh slot this run belongs to: a second run of the same
        facility, target and slot raises ``sqlalchemy.exc.IntegrityError`` and
        stores nothing (redelivered tasks stay harmless).
    """
    _check_target(target)
    if frame.empty:
        raise ValueError("a forecast needs at least one point")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        raise ValueError("forecast index must be tz-aware")
    index = index.tz_convert("UTC")
    points = {
        "timestamp": [iso_utc(t) for t in index],
        **{
            column: [_finite(v) for v in frame[column].to_numpy(dtype=float)]
            for column in ("yhat", "yhat_lower", "yhat_upper")
        },
    }
    row = Forecast(
        facility_id=int(facility_id),
        target=target,
        model=model,
        trained_at=_now(trained_at).to_pydatetime(),
        start=index[0].to_pydatetime(),
        metrics=_json_safe(metrics or {}),
        points=points,
        note=note,
        slot=slot,
    )
    with session_scope(database_url) as session:
        session.add(row)
        session.flush()
        return row.id


def latest_forecast(
    facility_id: int, target: str = "consumption", *, database_url: str | None = None
) -> ForecastRun | None:
    """The newest stored run of ``target`` (by training time), or None."""
    _check_target(target)
    with session_scope(database_url) as session:
        row = session.scalars(
            select(Forecast)
            .where(Forecast.facility_id == int(facility_id), Forecast.target == target)
            .order_by(Forecast.trained_at.desc(), Forecast.id.desc())
            .limit(1)
        ).first()
        return _run(row) if row is not None else None


def _runs_starting(
    session, facility_id: int, target: str, lo: pd.Timestamp, hi: pd.Timestamp
) -> list[ForecastRun]:
    """Runs whose ``start`` lies in ``[lo, hi)``."""
    rows = session.scalars(
        select(Forecast)
        .where(
            Forecast.facility_id == int(facility_id),
            Forecast.target == target,
            Forecast.start >= lo.to_pydatetime(),
            Forecast.start < hi.to_pydatetime(),
        )
        .order_by(Forecast.start, Forecast.trained_at, Forecast.id)
    ).all()
    return [_run(r) for r in rows]


def forecast_for_day(
    facility_id: int,
    target: str,
    day: date,
    tz: str,
    *,
    database_url: str | None = None,
) -> ForecastRun | None:
    """The stored run that covered the local day ``day`` best.

    The run with the most forecast hours inside the day wins (a run made at the
    day's first hour covers all of it); among equals, the newest. Every stored
    run forecasts only hours after its own history ended, so whichever run is
    chosen, the comparison with what happened is out of sample.
    """
    _check_target(target)
    lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    with session_scope(database_url) as session:
        runs = _runs_starting(
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
        joined = joined[joined.index >= _ts(start)]
    if end is not None:
        joined = joined[joined.index < _ts(end)]
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
) -> pd.DataFrame:
    """Average energy per local hour by weekday over the last ``weeks`` weeks.

    Returns a 7 × 24 frame [kWh per hour]: rows ``Mon`` … ``Sun``, columns the
    local hour 0 … 23; NaN where no hour had readings.
    """
    column = TARGETS[_check_target(target)]
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    end = local_hour_start(_now(now), info.timezone)
    frame = read_readings(
        facility_id, end - pd.Timedelta(weeks=weeks), end, columns=[column],
        resample="1h", tz=info.timezone, database_url=database_url,
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


def _hours_text(hours: Iterable[int]) -> str:
    """[10, 11, 12, 18] -> '10:00–13:00, 18:00–19:00'."""
    runs: list[list[int]] = []
    for h in sorted(hours):
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    return ", ".join(f"{a:02d}:00–{b:02d}:00" for a, b in runs)


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
        "hours_text": _hours_text(hours),
        "mean_kwh": float(by_hour[hours].mean()),
        "peak_day": str(day),
        "peak_hour": int(hour),
        "peak_kwh": float(stacked.max()),
    }


# ------------------------------------------------------------------------ tariffs
class TariffError(ValueError):
    """A refused tariff value: ``field`` names it, the message explains."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


MAX_PRICE = 1000.0
MAX_TOU_WINDOWS = 12
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def default_tariff() -> dict[str, Any]:
    """The tariff used until a facility stores its own (the model's defaults)."""
    return {
        "currency": "EUR",
        "import_price": 0.30,
        "export_price": 0.08,
        "standing_charge": 0.0,
        "tou": [],
        "configured": False,
    }


def _price(raw: Any, name: str, label: str, *, required: bool = True) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise TariffError(name, f"{label} is required.")
        return 0.0
    if isinstance(raw, bool):
        raise TariffError(name, f"{label} must be a number.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TariffError(name, f"{label} must be a number.") from None
    if not math.isfinite(value):
        raise TariffError(name, f"{label} must be a finite number.")
    if value < 0:
        raise TariffError(name, f"{label} must be 0 or more.")
    if value > MAX_PRICE:
        raise TariffError(name, f"{label} must be at most {MAX_PRICE:g}.")
    return value


def _whole(raw: Any, name: str, label: str, low: int, high: int) -> int:
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw):
        raise TariffError(name, f"{label} is required.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TariffError(name, f"{label} must be a whole number.") from None
    if not math.isfinite(value) or value != int(value):
        raise TariffError(name, f"{label} must be a whole number.")
    if not low <= value <= high:
        raise TariffError(name, f"{label} must be between {low} and {high}.")
    return int(value)


def _window(raw: Any, k: int) -> dict[str, Any]:
    prefix = f"tou[{k}]"
    label = f"Time-of-use window {k + 1}"
    if not isinstance(raw, dict):
        raise TariffError(prefix, f"{label} must be an object.")
    start = _whole(raw.get("start_hour"), f"{prefix}.start_hour",
                   f"{label}: start hour", 0, 23)
    end = _whole(raw.get("end_hour"), f"{prefix}.end_hour",
                 f"{label}: end hour", 1, 24)
    if start == end:
        raise TariffError(f"{prefix}.end_hour",
                          f"{label}: start and end hour must differ.")
    price = _price(raw.get("price"), f"{prefix}.price", f"{label}: price")
    days_raw = raw.get("weekdays", list(ALL_DAYS))
    if days_raw is None or isinstance(days_raw, str | bytes) or not isinstance(
        days_raw, Iterable
    ):
        raise TariffError(f"{prefix}.weekdays",
                          f"{label}: weekdays must be a list of 0 (Mon) … 6 (Sun).")
    days = sorted({_whole(d, f"{prefix}.weekdays", f"{label}: weekday", 0, 6)
                   for d in days_raw})
    if not days:
        raise TariffError(f"{prefix}.weekdays",
                          f"{label}: choose at least one weekday.")
    return {"start_hour": start, "end_hour": end, "price": price, "weekdays": days}


def clean_tariff(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a tariff; raises :class:`TariffError` naming the first bad field.

    Fields: ``import_price``, ``export_price`` [currency/kWh] (finite, 0 … 1000),
    ``standing_charge`` [currency/day] (optional, default 0), ``currency`` (a
    three-letter code such as ``EUR``; default EUR) and ``tou``: a list of at
    most 12 windows ``{"start_hour": 0–23, "end_hour": 1–24, "price",
    "weekdays": [0 (Mon) … 6 (Sun)]}`` in local time (start > end wraps past
    midnight; the first matching window sets the import price).
    """
    if not isinstance(values, dict):
        raise TariffError("tariff", "A tariff must be an object.")
    currency = values.get("currency")
    currency = "EUR" if currency is None else str(currency).strip().upper()
    if not CURRENCY_RE.match(currency):
        raise TariffError(
            "currency", "Currency must be a three-letter code such as EUR or USD."
        )
    clean = {
        "import_price": _price(values.get("import_price"), "import_price",
                               "Import price"),
        "export_price": _price(values.get("export_price"), "export_price",
                               "Export price"),
        "standing_charge": _price(values.get("standing_charge"), "standing_charge",
                                  "Standing charge", required=False),
        "currency": currency,
    }
    windows = values.get("tou") or []
    if isinstance(windows, dict):
        windows = windows.get("windows") or []
    if not isinstance(windows, list | tuple):
        raise TariffError("tou", "Time-of-use windows must be a list.")
    if len(windows) > MAX_TOU_WINDOWS:
        raise TariffError("tou", f"At most {MAX_TOU_WINDOWS} time-of-use windows.")
    clean["tou"] = [_window(w, k) for k, w in enumerate(windows)]
    return clean


def _tariff_dict(row: Tariff | None) -> dict[str, Any]:
    if row is None:
        return default_tariff()
    tou = row.tou or {}
    windows = tou.get("windows", []) if isinstance(tou, dict) else list(tou)
    return {
        "currency": row.currency or "EUR",
        "import_price": float(row.import_price),
        "export_price": float(row.export_price),
        "standing_charge": float(row.standing_charge or 0.0),
        "tou": [dict(w) for w in windows],
        "configured": True,
    }


def get_tariff(facility_id: int, *, database_url: str | None = None) -> dict[str, Any]:
    """The facility's tariff (``configured`` False: the defaults, none stored).

    Keys: ``currency``, ``import_price``, ``export_price`` [currency/kWh],
    ``standing_charge`` [currency/day], ``tou`` (list of windows, see
    :func:`clean_tariff`), ``configured``.
    """
    with session_scope(database_url) as session:
        row = session.scalars(
            select(Tariff).where(Tariff.facility_id == int(facility_id))
        ).first()
        return _tariff_dict(row)


def set_tariff(
    facility_id: int, values: dict[str, Any], *, database_url: str | None = None
) -> dict[str, Any]:
    """Validate (:func:`clean_tariff`) and store the facility's tariff.

    Returns the stored tariff as :func:`get_tariff` does. Raises
    :class:`TariffError` for a refused value and ``LookupError`` for an unknown
    facility. Permissions are the caller's business (callbacks check the role).
    """
    clean = clean_tariff(values)
    with session_scope(database_url, write=True) as session:
        if session.get(Facility, int(facility_id)) is None:
            raise LookupError(f"facility {facility_id} does not exist")
        row = session.scalars(
            select(Tariff).where(Tariff.facility_id == int(facility_id))
        ).first()
        if row is None:
            row = Tariff(facility_id=int(facility_id))
            session.add(row)
        row.currency = clean["currency"]
        row.import_price = clean["import_price"]
        row.export_price = clean["export_price"]
        row.standing_charge = clean["standing_charge"]
        row.tou = {"windows": clean["tou"]}
        session.flush()
        return _tariff_dict(row)


def tariff_model(tariff: dict[str, Any]) -> TariffModel:
    """A :class:`energy_dash.recommendations.Tariff` from a tariff dict."""
    windows = tuple(
        TouWindow(
            int(w["start_hour"]),
            int(w["end_hour"]),
            float(w["price"]),
            tuple(int(d) for d in w.get("weekdays", ALL_DAYS)),
        )
        for w in tariff.get("tou") or []
    )
    return TariffModel(
        import_price=float(tariff["import_price"]),
        export_price=float(tariff["export_price"]),
        standing_charge=float(tariff.get("standing_charge") or 0.0),
        tou=windows,
        currency=tariff.get("currency") or "EUR",
    )


# -------------------------------------------------------------------------- costs
def _days_touched(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> int:
    if end <= start:
        return 0
    first = start.tz_convert(tz).date()
    last = (end - pd.Timedelta(microseconds=1)).tz_convert(tz).date()
    return (last - first).days + 1


def cost_of_range(
    facility_id: int,
    start: Any,
    end: Any,
    *,
    database_url: str | None = None,
    tariff: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Energy cost of ``[start, end)`` under the facility's tariff.

    Import and export are per reading (CONTRACT §7): import = consumed −
    min(produced, consumed), export = produced − min(produced, consumed), summed
    per local hour (from the 15-minute rollups). Each hour's import is priced at
    the tariff's price for that local hour and weekday (time-of-use windows);
    export is credited at the export price; the standing charge is due for every
    local calendar day the range touches (a range ending at midnight does not
    touch the next day).

    Returns
    -------
    dict
        ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``, ``export_credit``,
        ``standing`` and ``total`` = import_cost − export_credit + standing
        [currency], ``days`` [-] and ``currency``.
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    tariff = tariff or get_tariff(facility_id, database_url=database_url)
    model = tariff_model(tariff)
    lo, hi = _ts(start), _ts(end)
    frame = read_readings(
        facility_id, lo, hi, columns=ENERGY, resample="1h", tz=info.timezone,
        database_url=database_url,
    ) if hi > lo else pd.DataFrame()
    if len(frame):
        self_used = frame["self_supplied"].fillna(0.0).to_numpy(dtype=float)
        consumed = frame["energy_consumed"].fillna(0.0).to_numpy(dtype=float)
        produced = frame["energy_produced"].fillna(0.0).to_numpy(dtype=float)
        imports = np.clip(consumed - self_used, 0.0, None)
        exports = np.clip(produced - self_used, 0.0, None)
        prices = model.import_prices(
            frame.index.hour.to_numpy(), frame.index.day_of_week.to_numpy()
        )
        import_kwh = float(imports.sum())
        export_kwh = float(exports.sum())
        import_cost = float((imports * prices).sum())
    else:
        import_kwh = export_kwh = import_cost = 0.0
    export_credit = export_kwh * model.export_price
    days = _days_touched(lo, hi, info.timezone)
    standing = days * model.standing_charge
    return {
        "import_kwh": import_kwh,
        "export_kwh": export_kwh,
        "import_cost": import_cost,
        "export_credit": export_credit,
        "standing": standing,
        "total": import_cost - export_credit + standing,
        "days": days,
        "currency": model.currency,
    }


def month_cost(
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """This local calendar month's cost so far, and today's.

    Returns :func:`cost_of_range` of ``[first of the month 00:00 local, now)``
    plus ``today`` (the same for ``[today 00:00 local, now)``), ``month_start``
    (UTC), ``tariff`` (the tariff dict used).
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    moment = _now(now)
    local = moment.tz_convert(info.timezone)
    month_start = local_midnight(local.date().replace(day=1), info.timezone)
    today_start = local_midnight(local.date(), info.timezone)
    tariff = get_tariff(facility_id, database_url=database_url)
    out = cost_of_range(facility_id, month_start, moment, database_url=database_url,
                        tariff=tariff)
    out["today"] = cost_of_range(facility_id, today_start, moment,
                                 database_url=database_url, tariff=tariff)
    out["month_start"] = month_start
    out["tariff"] = tariff
    return out


# ---------------------------------------------------------------- recommendations
def _recommendation_dict(rec: Recommendation, currency: str) -> dict[str, Any]:
    return {
        "key": rec.key,
        "title": rec.title,
        "detail": rec.detail,
        "kwh_per_month": float(rec.kwh_per_month),
        "money_per_month": float(rec.money_per_month),
        "currency": currency,
    }


def facility_recommendations(
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """Recommendations from the facility's own last 30 days and stored forecast.

    Readings of the last 30 days (15-minute buckets, local calendar), the
    facility's tariff and nominal voltage, and the newest stored production
    forecast when it still reaches into the future, go to
    :func:`energy_dash.recommendations.recommend`. Deterministic: the same data
    gives the same advice.

    Returns
    -------
    dict
        ``items`` (ranked by money per month: ``key``, ``title``, ``detail``,
        ``kwh_per_month`` [kWh/month], ``money_per_month`` [currency/month],
        ``currency``), ``currency``, ``days`` (hours with readings / 24),
        ``tariff`` (the tariff dict), ``start``, ``end`` (UTC).
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    moment = _now(now)
    end = local_hour_start(moment, info.timezone)
    start = end - pd.Timedelta(days=RECOMMENDATION_DAYS)
    readings = read_readings(
        facility_id, start, end, columns=RECOMMENDATION_COLUMNS, resample="15min",
        database_url=database_url,
    )
    if len(readings):
        readings = readings[readings["samples"] > 0]
    tariff = get_tariff(facility_id, database_url=database_url)
    model = tariff_model(tariff)
    forecast = None
    run = latest_forecast(facility_id, "production", database_url=database_url)
    if run is not None and not run.frame.empty and run.end > moment:
        forecast = run.frame[run.frame.index + HOUR > moment]
    recs = recommend(
        readings[RECOMMENDATION_COLUMNS] if len(readings) else readings,
        info.timezone,
        model,
        nominal_voltage=info.nominal_voltage,
        forecast=forecast,
    )
    days = 0.0
    if len(readings):  # hours with readings / 24
        covered = readings.index[readings["energy_consumed"].notna()]
        days = float(covered.floor("h").nunique() / 24.0)
    return {
        "items": [_recommendation_dict(r, model.currency) for r in recs],
        "currency": model.currency,
        "days": days,
        "tariff": tariff,
        "start": start,
        "end": end,
    }


# ------------------------------------------------------------------ anomaly alerts
ANOMALY_LOOKBACK = pd.Timedelta(days=7)  # an open excursion's extreme is sought here


def _anomaly_message(verdict: dict[str, Any], tz: str) -> str:
    hour = verdict["hour"]
    local = hour.tz_convert(tz)
    until = (hour + HOUR).tz_convert(tz)
    word = "above" if verdict["actual"] > verdict["upper"] else "below"
    return (
        f"Unusual consumption: {verdict['actual']:.2f} kWh on {local:%Y-%m-%d} "
        f"{local:%H:%M}–{until:%H:%M} {local.tzname()}, {word} the expected "
        f"{verdict['lower']:.2f}–{verdict['upper']:.2f} kWh (80 % forecast interval)"
    )


def _distance(verdict: dict[str, Any]) -> float:
    """How far [kWh] an hour lies outside its interval (0 inside)."""
    a, lo, hi = verdict["actual"], verdict["lower"], verdict["upper"]
    return max(a - hi, lo - a, 0.0)


def _newest_covering(runs: Sequence[ForecastRun], hour: pd.Timestamp):
    """The newest of ``runs`` (sorted by start, training time, id) covering ``hour``."""
    for run in reversed(runs):
        if run.start <= hour and hour in run.frame.index:
            return run
    return None


def _verdict(
    info: FacilityInfo,
    hour: pd.Timestamp,
    actual: pd.DataFrame,
    runs: Sequence[ForecastRun],
) -> dict[str, Any] | None:
    """Actual energy of one hour against its interval; None when it cannot be judged.

    An hour is judged when it had at least half the readings the facility's
    reporting interval implies and a stored forecast covered it.
    """
    needed = max(1, int(0.5 * 3600 / max(1, info.expected_interval_s)))
    if hour not in actual.index or actual.at[hour, "samples"] < needed:
        return None
    value = float(actual.at[hour, "energy_consumed"])
    run = _newest_covering(runs, hour)
    if run is None or not math.isfinite(value):
        return None
    lower = float(run.frame.at[hour, "yhat_lower"])
    upper = float(run.frame.at[hour, "yhat_upper"])
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return {
        "hour": hour,
        "actual": value,
        "lower": lower,
        "upper": upper,
        "outside": value > upper or value < lower,
    }


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
    moment = _now(now)
    events: list[tuple[str, int, int]] = []
    with session_scope(database_url, write=True) as session:
        stmt = select(Facility).order_by(Facility.id)
        if facility_id is not None:
            stmt = stmt.where(Facility.id == int(facility_id))
        for info in [_info(f) for f in session.scalars(stmt)]:
            event = _check_facility(session, info, moment, min_hours, database_url)
            if event is not None:
                events.append(event)
    return events


def _check_facility(
    session, info: FacilityInfo, moment: pd.Timestamp, min_hours: int, url
) -> tuple[str, int, int] | None:
    end = local_hour_start(moment, info.timezone)
    recent = [end - HOUR * k for k in range(min_hours, 0, -1)]
    current = session.scalars(
        select(Alert)
        .where(
            Alert.facility_id == info.id,
            Alert.kind == ANOMALY_KIND,
            Alert.ended_at.is_(None),
        )
        .order_by(Alert.started_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()
    first = recent[0]
    if current is not None:
        started = pd.Timestamp(_aware(current.started_at)).tz_convert("UTC")
        first = min(first, max(started, end - ANOMALY_LOOKBACK))
    actual = hourly_actuals(info.id, first, end, database_url=url)
    runs = _runs_starting(
        session, info.id, "consumption",
        first - pd.Timedelta(hours=HORIZON_HOURS - 1), end,
    )
    verdicts = [_verdict(info, hour, actual, runs) for hour in recent]
    if any(v is None for v in verdicts):
        return None
    if current is None:
        if not all(v["outside"] for v in verdicts):
            return None
        worst = max(verdicts, key=_distance)
        alert = Alert(
            facility_id=info.id,
            kind=ANOMALY_KIND,
            level="warning",
            started_at=verdicts[0]["hour"].to_pydatetime(),
            extreme_value=worst["actual"],
            message=_anomaly_message(worst, info.timezone),
        )
        session.add(alert)
        session.flush()
        return ("opened", info.id, alert.id)
    if not verdicts[-1]["outside"]:
        current.ended_at = verdicts[-1]["hour"].to_pydatetime()
        return ("closed", info.id, current.id)
    hours = pd.date_range(first, end - HOUR, freq="h")
    judged = [v for h in hours if (v := _verdict(info, h, actual, runs)) is not None]
    worst = max((v for v in judged if v["outside"]), key=_distance)
    message = _anomaly_message(worst, info.timezone)
    if current.extreme_value == worst["actual"] and current.message == message:
        return None
    current.extreme_value = worst["actual"]
    current.message = message
    return ("updated", info.id, current.id)
