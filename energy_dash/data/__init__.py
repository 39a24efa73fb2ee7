"""Energy Dash data API (CONTRACT §8): tidy, tz-aware frames for notebooks and the app.

Importing this module starts no server, no Dash app and no scheduler. Every
function opens its own short session on ``database_url`` (default: the
``DATABASE_URL`` environment variable, else the embedded SQLite database).

Examples
--------
>>> from energy_dash import data
>>> hourly = data.read_readings(1, "2025-06-01", "2025-06-08", resample="1h")
>>> hourly[["energy_produced", "energy_consumed"]].plot()
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from sqlalchemy import select

from energy_dash.db import get_engine, session_scope
from energy_dash.models import (
    ENERGY_FIELDS,
    READING_FIELDS,
    Alert,
    Facility,
    Forecast,
)
from energy_dash.storage.columnar import ReadingColumns, store_columns
from energy_dash.validation import (
    MAX_FUTURE_S,
    MIN_TIMESTAMP_S,
    NUMBER_FIELDS,
    validate_reading,
)

from . import readings as _readings

__all__ = [
    "list_facilities",
    "read_readings",
    "write_readings",
    "read_forecast",
    "read_alerts",
]

DAY_MS = 86_400_000
ELECTRICAL_FIELDS = tuple(f for f in READING_FIELDS if f not in ENERGY_FIELDS)
FACILITY_COLUMNS = (
    "id", "name", "location", "country", "timezone", "capacity_kw", "panel_count",
    "nominal_voltage", "expected_interval_s", "voltage_warning_pct",
    "voltage_critical_pct", "voltage_hysteresis_pct",
)


# ----------------------------------------------------------------------------- time
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


def _ms(value: Any) -> int | None:
    stamp = to_utc(value)
    return None if stamp is None else int(stamp.value // 1_000_000)


def _index(ts_ms: np.ndarray | list, tz: str | None) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(
        pd.to_datetime(np.asarray(ts_ms, dtype="int64"), unit="ms", utc=True),
        name="timestamp",
    )
    return index.tz_convert(tz) if tz else index


# ---------------------------------------------------------------------- facilities
def list_facilities(*, database_url: str | None = None) -> pd.DataFrame:
    """All facilities, one row each (id, name, time zone, capacity [kW], bands [%])."""
    with session_scope(database_url) as session:
        rows = session.scalars(select(Facility).order_by(Facility.id)).all()
        records = [{c: getattr(f, c) for c in FACILITY_COLUMNS} for f in rows]
    return pd.DataFrame.from_records(records, columns=list(FACILITY_COLUMNS))


def _facility_zones(session, facility_ids: Sequence[int] | None) -> dict[int, str]:
    stmt = select(Facility.id, Facility.timezone)
    if facility_ids is not None:
        stmt = stmt.where(Facility.id.in_(list(facility_ids)))
    return dict(session.execute(stmt).all())


# ------------------------------------------------------------------------ readings
def read_readings(
    facility_id: int | None = None,
    start: Any = None,
    end: Any = None,
    *,
    columns: Sequence[str] | None = None,
    resample: str | None = None,
    tz: str | None = None,
    database_url: str | None = None,
) -> pd.DataFrame:
    """Readings of one facility (or all) in the half-open interval ``[start, end)``.

    Parameters
    ----------
    facility_id : int, optional
        The facility; ``None`` reads every facility.
    start, end : str, datetime or pandas.Timestamp, optional
        Interval bounds; naive values are taken as UTC.
    columns : sequence of str, optional
        Fields to return (default: all of ``energy_produced`` [kWh],
        ``energy_consumed`` [kWh], ``current_load`` [%], ``voltage`` [V],
        ``current``/``current1..3`` [A], ``frequency`` [Hz], ``power_factor``).
    resample : str, optional
        A pandas frequency (``"15min"``, ``"1h"``, ``"1D"``, ``"W"``, ``"MS"``).
        Energies are summed [kWh per bucket], the rest averaged; ``samples``
        counts the readings and ``self_supplied`` [kWh] sums
        ``min(produced, consumed)`` per reading (for self-sufficiency). Aggregation
        runs in SQL; days and longer follow the facility's local calendar.
    tz : str, optional
        IANA zone of the returned index (default UTC).

    Returns
    -------
    pandas.DataFrame
        Indexed by a tz-aware ``DatetimeIndex`` named ``timestamp`` (bucket start
        when resampled), with a ``facility_id`` column and one column per field.
    """
    fields = list(columns) if columns is not None else list(READING_FIELDS)
    unknown = [c for c in fields if c not in READING_FIELDS]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; choose from {READING_FIELDS}")
    if tz is not None:
        ZoneInfo(tz)  # raises for an unknown zone before touching the database
    start_ms, end_ms = _ms(start), _ms(end)
    ids = None if facility_id is None else [int(facility_id)]
    with get_engine(database_url).connect() as conn:
        if resample is None:
            rows = _readings.fetch_raw(conn, ids, start_ms, end_ms, fields)
            return _raw_frame(rows, fields, tz)
        zones = _facility_zones(conn, ids)
        frames = [
            _resampled(conn, fid, zone, start_ms, end_ms, fields, resample, tz)
            for fid, zone in sorted(zones.items())
        ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_resampled(fields, tz)
    return pd.concat(frames) if len(frames) > 1 else frames[0]


def _raw_frame(rows: list[tuple], fields: list[str], tz: str | None) -> pd.DataFrame:
    names = ["facility_id", "ts_ms", "device_id", *fields]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    frame = pd.DataFrame(
        {
            "facility_id": np.asarray(columns[0], dtype="int64"),
            "device_id": np.asarray(columns[2], dtype=object),
            **{name: np.asarray(columns[3 + i], dtype="float64")
               for i, name in enumerate(fields)},
        },
        index=_index(np.asarray(columns[1], dtype="int64"), tz or "UTC"),
    )
    return frame


def _empty_resampled(fields: list[str], tz: str | None) -> pd.DataFrame:
    extra = ["self_supplied"] if set(ENERGY_FIELDS) <= set(fields) else []
    frame = pd.DataFrame(columns=["facility_id", *fields, *extra, "samples"])
    frame.index = _index([], tz or "UTC")
    return frame.astype("float64").astype({"facility_id": "int64", "samples": "int64"})


def _zone_offsets_ms(zone: str, start_ms: int | None, end_ms: int | None) -> set[int]:
    """UTC offsets the zone takes within the interval (sampled twice a year)."""
    info = ZoneInfo(zone)
    now_year = datetime.now(UTC).year
    first = datetime.fromtimestamp(start_ms / 1000, UTC).year if start_ms else 2000
    last = datetime.fromtimestamp(end_ms / 1000, UTC).year if end_ms else now_year
    offsets = set()
    for year in range(first, max(first, last) + 1):
        for month in (1, 4, 7, 10):
            moment = datetime(year, month, 1, tzinfo=UTC).astimezone(info)
            offsets.add(int(moment.utcoffset().total_seconds() * 1000))
    return offsets


def _resampled(conn, facility_id, zone, start_ms, end_ms, fields, rule, tz):
    """Aggregate one facility: SQL gives sums and counts, pandas only relabels.

    Rules that are whole multiples of 15 minutes (hours, days, weeks, months) read
    the 15-minute rollups, plus raw readings for unaligned edges of the interval;
    finer rules bucket raw readings in SQL. Buckets are then combined on the
    facility's local calendar, so days are local days (23 or 25 hours at DST).
    """
    offset = to_offset(rule)
    try:
        tick_ms = int(pd.Timedelta(offset).total_seconds() * 1000)
    except (TypeError, ValueError):
        tick_ms = None  # calendar offsets: W, MS, ME, …
    with_self = set(ENERGY_FIELDS) <= set(fields)
    sql_fields = fields + (["_self"] if with_self else [])
    if tick_ms is not None and tick_ms % _readings.BUCKET_MS:
        offsets = _zone_offsets_ms(zone, start_ms, end_ms)
        base = math.gcd(tick_ms, _readings.BUCKET_MS)
        if len({o % tick_ms for o in offsets}) == 1:
            base = tick_ms  # every local bucket edge is a fixed UTC shift away
        shift = next(iter(offsets)) % base
        rows = _readings.fetch_buckets(
            conn, [facility_id], start_ms, end_ms, fields, base, shift,
            self_supplied=with_self,
        )
        frame = _bucket_frame(rows, sql_fields, base, shift)
    else:
        frame = _bucket_frame(
            _quarter_hour_rows(conn, facility_id, start_ms, end_ms, fields, with_self),
            sql_fields, _readings.BUCKET_MS, 0,
        )
    if frame.empty:
        return _finish(frame, facility_id, fields, with_self, tz)
    frame.index = frame.index.tz_convert(zone)
    summed = frame.resample(offset).sum(min_count=1)
    summed = summed[summed["samples"] > 0]
    summed.index = summed.index.tz_convert("UTC")
    summed.index.name = "timestamp"
    return _finish(summed, facility_id, fields, with_self, tz)


def _quarter_hour_rows(conn, facility_id, start_ms, end_ms, fields, with_self):
    """15-minute sums: rollups for whole buckets, raw readings for partial edges."""
    step = _readings.BUCKET_MS

    def raw(lo, hi):
        return _readings.fetch_buckets(
            conn, [facility_id], lo, hi, fields, step, 0, self_supplied=with_self
        )

    first = None if start_ms is None else -(-start_ms // step) * step
    last = None if end_ms is None else end_ms // step * step
    if first is not None and last is not None and first > last:
        return raw(start_ms, end_ms)  # the whole interval lies inside one bucket
    rows = []
    if start_ms is not None and first != start_ms:
        rows += raw(start_ms, first)
    rows += _readings.fetch_rollups(
        conn, facility_id, first, last, fields, self_supplied=with_self
    )
    if end_ms is not None and last != end_ms:
        rows += raw(last, end_ms)
    return rows


def _bucket_frame(rows, sql_fields, bucket_ms, shift) -> pd.DataFrame:
    names = ["facility_id", "bucket", "samples"]
    for name in sql_fields:
        names += [f"{name}__sum", f"{name}__n"]
    values = np.array(rows, dtype="float64").reshape(-1, len(names))  # None -> NaN
    starts = values[:, 1].astype("int64") * bucket_ms - shift
    frame = pd.DataFrame(values[:, 2:], columns=names[2:], index=_index(starts, "UTC"))
    return frame.sort_index()


def _finish(frame, facility_id, fields, with_self, tz) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    out["facility_id"] = np.int64(facility_id)
    for name in fields:
        total = frame.get(f"{name}__sum", pd.Series(dtype="float64"))
        count = frame.get(f"{name}__n", pd.Series(dtype="float64"))
        if name in ENERGY_FIELDS:
            out[name] = total.where(count > 0)
        else:
            out[name] = total / count.where(count > 0)
    if with_self:
        out["self_supplied"] = frame.get("_self__sum", pd.Series(dtype="float64"))
    out["samples"] = frame.get("samples", pd.Series(dtype="float64")).astype("int64")
    out.index.name = "timestamp"
    if tz:
        out.index = out.index.tz_convert(tz)
    return out


def write_readings(
    frame: pd.DataFrame,
    facility_id: int,
    *,
    device_id: str = "notebook",
    database_url: str | None = None,
) -> dict[str, Any]:
    """Store readings with the sensor API's validation; duplicates are skipped.

    Parameters
    ----------
    frame : pandas.DataFrame
        Indexed by timestamps (or with a ``timestamp`` column; naive means UTC),
        with the reading fields as columns (``energy_produced`` [kWh], …).
        An optional ``device_id`` column overrides ``device_id``.
    facility_id : int
        Target facility; a ``facility_id`` column, if present, must match it.

    Returns
    -------
    dict
        ``{"accepted": n, "duplicates": m, "rejected": [{"index": i, "details":
        [...]}]}`` where ``index`` is the row's position in ``frame``.
    """
    columns, rejected = frame_to_columns(frame, facility_id, device_id)
    with session_scope(database_url, write=True) as session:
        facility = session.get(Facility, int(facility_id))
        if facility is None:
            raise ValueError(f"facility {facility_id} does not exist")
        result = store_columns(session, facility, columns)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": rejected,
    }


def frame_to_columns(
    frame: pd.DataFrame, facility_id: int, device_id: str
) -> tuple[ReadingColumns, list[dict[str, Any]]]:
    """Vectorised validation; rows that fail are re-checked one by one for details.

    The valid rows stay columns (NaN where a field is absent): no dict per row.
    """
    if "timestamp" in frame.columns:
        stamps = pd.to_datetime(frame["timestamp"], utc=False, errors="coerce")
    else:
        stamps = pd.Series(frame.index, index=frame.index)
    stamps = pd.DatetimeIndex(stamps)
    if stamps.tz is None:
        stamps = stamps.tz_localize("UTC")
    n = len(frame)
    bad = np.zeros(n, dtype=bool)
    values: dict[str, np.ndarray] = {}
    for spec in NUMBER_FIELDS:
        if spec.name in frame.columns:
            column = frame[spec.name]
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            present = column.notna().to_numpy()
        else:
            numbers = np.full(n, np.nan)
            present = np.zeros(n, dtype=bool)
        invalid = present & ~np.isfinite(numbers)
        if spec.required:
            invalid |= ~present
        with np.errstate(invalid="ignore"):
            if spec.minimum is not None:
                invalid |= present & (numbers < spec.minimum)
            if spec.maximum is not None:
                invalid |= present & (numbers > spec.maximum)
        bad |= invalid
        values[spec.name] = numbers
    ts_ns = stamps.as_unit("ns").asi8.copy()
    missing_ts = stamps.isna()
    now_ms = int(time.time() * 1000)
    ts_ms = np.where(missing_ts, 0, ts_ns // 1_000_000)
    bad |= missing_ts | (ts_ms < MIN_TIMESTAMP_S * 1000)
    bad |= ts_ms > now_ms + MAX_FUTURE_S * 1000
    if "facility_id" in frame.columns:
        fac = pd.to_numeric(frame["facility_id"], errors="coerce").to_numpy()
        bad |= ~np.isnan(fac) & (fac != facility_id)
    good = np.flatnonzero(~bad)
    columns = ReadingColumns(
        ts_ms[good].astype(np.int64),
        _device_column(frame, good, device_id),
        {name: values[name][good] for name in READING_FIELDS},
    )
    rejected: list[dict[str, Any]] = []
    for i in np.flatnonzero(bad).tolist():
        details = _explain(frame, i, stamps, facility_id)
        rejected.append({"index": i, "details": details})
    return columns, rejected


def _device_column(frame: pd.DataFrame, good: np.ndarray, default: str) -> np.ndarray:
    """Each good row's device: its ``device_id`` cell, else ``default`` (64 chars)."""
    out = np.empty(len(good), dtype=object)
    if "device_id" not in frame.columns:
        out[:] = str(default)[:64]
        return out
    cells = frame["device_id"].astype("string").to_numpy(dtype=object)[good]
    clean: dict[Any, str] = {}
    for k, device in enumerate(cells.tolist()):
        name = clean.get(device)
        if name is None:
            if device is None or device is pd.NA or not str(device).strip():
                name = str(default)[:64]
            else:
                name = str(device)[:64]
            if device is not pd.NA:
                clean[device] = name
        out[k] = name
    return out


def _explain(frame, i, stamps, facility_id) -> list[dict[str, str]]:
    record = {k: v for k, v in frame.iloc[i].to_dict().items() if not _is_missing(v)}
    stamp = stamps[i]
    record["timestamp"] = None if pd.isna(stamp) else stamp.timestamp()
    _, details = validate_reading(record, require_timestamp=True)
    if not details and record.get("facility_id") not in (None, facility_id):
        details = [{"field": "facility_id", "message": "does not match facility_id"}]
    return details or [{"field": "", "message": "invalid row"}]


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------- forecasts
def read_forecast(
    facility_id: int, target: str = "consumption", *, database_url: str | None = None
) -> pd.DataFrame:
    """The newest stored forecast of ``target`` (``consumption`` or ``production``).

    Returns a frame indexed by hour (UTC) with ``yhat``, ``yhat_lower`` and
    ``yhat_upper`` [kWh per hour]; ``attrs`` carry ``model``, ``trained_at`` and
    the backtest ``metrics``. Empty when no forecast was stored yet.
    """
    if target not in {"consumption", "production"}:
        raise ValueError("target must be 'consumption' or 'production'")
    with session_scope(database_url) as session:
        row = session.scalars(
            select(Forecast)
            .where(Forecast.facility_id == facility_id, Forecast.target == target)
            .order_by(Forecast.trained_at.desc(), Forecast.id.desc())
            .limit(1)
        ).first()
        return forecast_frame(row)


def forecast_frame(row: Forecast | None) -> pd.DataFrame:
    """A stored forecast row as a frame (shared by the API and the pages)."""
    columns = ["yhat", "yhat_lower", "yhat_upper"]
    if row is None:
        frame = pd.DataFrame(columns=columns, dtype="float64")
        frame.index = _index([], "UTC")
        return frame
    points = row.points or {}
    index = pd.DatetimeIndex(pd.to_datetime(points.get("timestamp", []), utc=True),
                             name="timestamp")
    frame = pd.DataFrame({c: points.get(c, []) for c in columns}, index=index,
                         dtype="float64")
    trained = row.trained_at
    if trained is not None and trained.tzinfo is None:
        trained = trained.replace(tzinfo=UTC)
    frame.attrs.update(
        model=row.model, trained_at=trained, metrics=row.metrics or {},
        target=row.target, facility_id=row.facility_id, note=row.note,
    )
    return frame


# -------------------------------------------------------------------------- alerts
ALERT_COLUMNS = (
    "id", "facility_id", "kind", "level", "started_at", "ended_at", "extreme_value",
    "message", "device_id", "acknowledged_at", "acknowledged_by",
)


def read_alerts(
    facility_id: int | None = None,
    start: Any = None,
    end: Any = None,
    *,
    database_url: str | None = None,
) -> pd.DataFrame:
    """Alerts active at any moment of ``[start, end)``, newest first.

    Columns: ``id``, ``facility_id``, ``kind`` (``voltage_high``, ``voltage_low``,
    ``outage``, …), ``level`` (``warning``/``critical``), ``started_at``,
    ``ended_at`` (NaT while open), ``extreme_value`` [V for voltage kinds],
    ``message``, ``device_id``, ``acknowledged_at``, ``acknowledged_by``,
    ``duration_s``.
    """
    start_at, end_at = to_utc(start), to_utc(end)
    stmt = select(*(getattr(Alert, c) for c in ALERT_COLUMNS))
    if facility_id is not None:
        stmt = stmt.where(Alert.facility_id == int(facility_id))
    if end_at is not None:
        stmt = stmt.where(Alert.started_at < end_at.to_pydatetime())
    if start_at is not None:
        stmt = stmt.where(
            (Alert.ended_at.is_(None)) | (Alert.ended_at >= start_at.to_pydatetime())
        )
    with get_engine(database_url).connect() as conn:
        stmt = stmt.order_by(Alert.started_at.desc(), Alert.id.desc())
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=list(ALERT_COLUMNS))
    for name in ("started_at", "ended_at", "acknowledged_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    frame["duration_s"] = (frame["ended_at"] - frame["started_at"]).dt.total_seconds()
    return frame
