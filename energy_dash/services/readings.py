"""Readings as tidy, tz-aware frames: the engine behind ``data.read_readings`` and
every chart, cost and forecast of the app.

Aggregation runs in SQL on integer epoch-millisecond buckets (from the 15-minute
rollups where the rule allows), so a year of minute data comes back as a few
thousand rows; pandas only relabels buckets onto the facility's local calendar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from sqlalchemy import Connection, select

from energy_dash.db import connected, session_scope
from energy_dash.db.models import ENERGY_FIELDS, READING_FIELDS, Facility
from energy_dash.domain.batch import physical_refusals
from energy_dash.domain.times import to_ms, utc_index
from energy_dash.domain.validation import ReadingColumns, frame_to_columns
from energy_dash.services import quality
from energy_dash.storage import readings as _readings
from energy_dash.storage.columnar import store_columns
from energy_dash.storage.facilities import load_info


def _facility_zones(conn, facility_ids: Sequence[int] | None) -> dict[int, str]:
    stmt = select(Facility.id, Facility.timezone)
    if facility_ids is not None:
        stmt = stmt.where(Facility.id.in_(list(facility_ids)))
    return dict(conn.execute(stmt).all())


def read_readings(
    facility_id: int | None = None,
    start: Any = None,
    end: Any = None,
    *,
    columns: Sequence[str] | None = None,
    resample: str | None = None,
    tz: str | None = None,
    database_url: str | None = None,
    conn: Connection | None = None,
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
    conn : sqlalchemy.Connection, optional
        Read on this connection (the app's page ticks share one per request)
        instead of checking one out of the pool.

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
    start_ms, end_ms = to_ms(start), to_ms(end)
    ids = None if facility_id is None else [int(facility_id)]
    with connected(database_url, conn) as conn:
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
        index=utc_index(np.asarray(columns[1], dtype="int64"), tz or "UTC"),
    )
    return frame


def _empty_resampled(fields: list[str], tz: str | None) -> pd.DataFrame:
    extra = ["self_supplied"] if set(ENERGY_FIELDS) <= set(fields) else []
    frame = pd.DataFrame(columns=["facility_id", *fields, *extra, "samples"])
    frame.index = utc_index([], tz or "UTC")
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
    exact = False  # the SQL buckets are the rule's local buckets already
    if tick_ms is not None and tick_ms % _readings.BUCKET_MS:
        offsets = _zone_offsets_ms(zone, start_ms, end_ms)
        base = math.gcd(tick_ms, _readings.BUCKET_MS)
        if len({o % tick_ms for o in offsets}) == 1:
            base = tick_ms  # every local bucket edge is a fixed UTC shift away
            exact = _readings.BUCKET_MS % tick_ms == 0
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
    if frame.empty or exact:  # (exact: resampling would change nothing)
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
    frame = pd.DataFrame(
        values[:, 2:], columns=names[2:], index=utc_index(starts, "UTC")
    )
    return frame.sort_index()


def _finish(frame, facility_id, fields, with_self, tz) -> pd.DataFrame:
    """Sums and counts to the public columns, built as one frame from numpy
    arrays (column by column inserts cost more than the query on a page tick)."""
    size = len(frame.index)

    def column(key: str) -> np.ndarray:
        if key in frame:
            return frame[key].to_numpy(dtype="float64")
        return np.full(size, np.nan)

    out: dict[str, np.ndarray] = {"facility_id": np.full(size, facility_id, "int64")}
    for name in fields:
        total, count = column(f"{name}__sum"), column(f"{name}__n")
        with np.errstate(invalid="ignore", divide="ignore"):
            value = total if name in ENERGY_FIELDS else total / count
        out[name] = np.where(count > 0, value, np.nan)
    if with_self:
        out["self_supplied"] = column("_self__sum")
    out["samples"] = column("samples").astype("int64")
    index = frame.index.rename("timestamp")
    return pd.DataFrame(out, index=index.tz_convert(tz) if tz else index)


def write_readings(
    frame: pd.DataFrame,
    facility_id: int,
    *,
    device_id: str = "notebook",
    database_url: str | None = None,
) -> dict[str, Any]:
    """Store readings with the sensor API's validation; duplicates are skipped.

    Rows are checked by :func:`energy_dash.domain.validation.frame_to_columns`
    (the API's row validator for every row it cannot vouch for) and stored as
    columns (:func:`energy_dash.storage.columnar.store_columns`). Unlikely values
    and duplicates that carry other values are logged as data-quality events
    (``spike``, ``conflict``), as the sensor API logs them.

    Parameters
    ----------
    frame : pandas.DataFrame
        Indexed by timestamps, or with a ``timestamp`` column of datetimes, ISO
        8601 text with a UTC offset or Unix seconds [s]; naive datetimes are UTC.
        The reading fields are columns (``energy_produced`` [kWh], …). An optional
        ``device_id`` column overrides ``device_id``.
    facility_id : int
        Target facility; a ``facility_id`` column, if present, must match it.
    device_id : str
        Device of the rows without one; a name the API refuses raises ValueError.

    Returns
    -------
    dict
        ``{"accepted": n, "duplicates": m, "rejected": [{"index": i, "details":
        [...]}]}`` where ``index`` is the row's position in ``frame`` and each
        detail names its field with the API's message.
    """
    columns, rejected = frame_to_columns(frame, facility_id, device_id)
    with session_scope(database_url, write=True) as session:
        facility = load_info(session, facility_id)
        if facility is None:
            raise ValueError(f"facility {facility_id} does not exist")
        columns = _within_physical_bounds(columns, rejected, facility)
        result = store_columns(session, facility, columns, conflicts=True)
        quality.record(session, facility.id, result.unlikely + result.conflicts)
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": rejected,
    }


def _within_physical_bounds(
    columns: ReadingColumns, rejected: list[dict[str, Any]], facility
) -> ReadingColumns:
    """The rows inside the facility's physical bounds (the API's
    :func:`~energy_dash.domain.batch.physical_refusals`); the others join
    ``rejected`` under their frame position. ``columns`` holds the rows not yet
    rejected, in frame order."""
    over = physical_refusals(columns, facility)
    if not over:
        return columns
    refused = {r["index"] for r in rejected}
    positions = [i for i in range(len(columns) + len(refused)) if i not in refused]
    keep = np.ones(len(columns), dtype=bool)
    for k, details in over:
        rejected.append({"index": positions[k], "details": details})
        keep[k] = False
    rejected.sort(key=lambda r: r["index"])
    return columns.take(np.flatnonzero(keep))
