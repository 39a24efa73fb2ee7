"""Where a reading gets validated: one rule table for every way in.

:data:`NUMBER_FIELDS` (units and bounds) and the timestamp rules serve the scalar
validator (:func:`validate_reading`: the sensor API, ``import-csv``, debug tools), the
vectorised one (:func:`frame_to_columns`: ``data.write_readings``, which hands every
row it cannot vouch for to :func:`validate_reading`) and the OpenAPI
document (:func:`reading_schema`), so they cannot drift apart. The rules are listed
in ``examples/HARDWARE_INTEGRATION.md`` ("Fields and units").
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd

from energy_dash.domain.quality import QualityEvent

logger = logging.getLogger(__name__)

MAX_FUTURE_S = 300
MAX_POWER_KW = 1e6  # 1 GW: no facility that sends readings here produces more
MAX_INTERVAL_S = 86_400  # the longest reporting interval a facility may have
# A reading's interval is capped at twice the expected interval, so no reading
# of any facility can carry more than 1 GW over two of the longest intervals.
MAX_ENERGY_KWH = MAX_POWER_KW * 2 * MAX_INTERVAL_S / 3600
MAX_CURRENT_A = 1e6
UNLIKELY_FACTOR = 3.0  # more than 3x the capacity: stored, but a data-quality event
# ASCII decimal numerals only: float() would also take "1_000", "١٢", "９９", "inf".
NUMERIC_PATTERN = (
    r"^[ \t\r\n]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*$"
)
_NUMERIC = re.compile(NUMERIC_PATTERN, re.ASCII)
MIN_TIMESTAMP_S = 946_684_800  # 2000-01-01: a board without NTP sends 0 or 1970
MAX_DEVICE_ID = 64
MAX_POWER_KW = 1_000_000.0  # 1 GW: beyond that a value is not a measurement
MAX_REGISTER_KWH = 1e12
DEVICE_TEXT_MESSAGE = (
    "must be printable text (no NUL, control characters or unpaired surrogates)"
)


@dataclass(frozen=True)
class NumberField:
    name: str
    unit: str
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None

    def out_of_bounds(self, value: Any) -> Any:
        """True where ``value`` (a number or an array) breaks a bound."""
        low = False if self.minimum is None else value < self.minimum
        high = False if self.maximum is None else value > self.maximum
        return low | high


NUMBER_FIELDS: tuple[NumberField, ...] = (
    NumberField("energy_produced", "kWh", "Energy produced since the previous reading",
                required=True, minimum=0, maximum=MAX_ENERGY_KWH),
    NumberField("energy_consumed", "kWh", "Energy consumed since the previous reading",
                required=True, minimum=0, maximum=MAX_ENERGY_KWH),
    NumberField("current_load", "%", "Load as a share of the facility's capacity; "
                "when left out, the consumed power over the reading's interval "
                "divided by the capacity", minimum=0, maximum=100),
    NumberField("voltage", "V", "Supply voltage; 0 means the supply is lost (outage)",
                minimum=0, maximum=1000),
    NumberField("current", "A", "Total current", minimum=0,
                maximum=MAX_CURRENT_A),
    NumberField("current1", "A", "Phase 1 current", minimum=0,
                maximum=MAX_CURRENT_A),
    NumberField("current2", "A", "Phase 2 current", minimum=0,
                maximum=MAX_CURRENT_A),
    NumberField("current3", "A", "Phase 3 current", minimum=0,
                maximum=MAX_CURRENT_A),
    NumberField("frequency", "Hz", "Grid frequency", minimum=40, maximum=70),
    NumberField("power_factor", "", "Power factor", minimum=-1, maximum=1),
    NumberField("energy_consumed_total", "kWh", "Cumulative consumption register "
                "(instead of energy_consumed)", minimum=0, maximum=MAX_REGISTER_KWH),
    NumberField("energy_produced_total", "kWh", "Cumulative production register "
                "(instead of energy_produced)", minimum=0, maximum=MAX_REGISTER_KWH),
    NumberField("power_consumed", "kW", "Power drawn now (instead of "
                "energy_consumed)", minimum=0, maximum=MAX_POWER_KW),
    NumberField("power_produced", "kW", "Power produced now (instead of "
                "energy_produced)", minimum=0, maximum=MAX_POWER_KW),
)
REQUIRED = tuple(f.name for f in NUMBER_FIELDS if f.required)
ALTERNATIVES = ("energy_consumed_total", "energy_produced_total", "power_consumed",
                "power_produced")
"""With any of these, the interval energies become optional (the server books
the register or integrates the power). The load is always optional: it is
derived from the consumption whenever it is left out."""
READING_FIELDS = tuple(f.name for f in NUMBER_FIELDS if f.name not in ALTERNATIVES)
"""The stored columns, in order (``energy_dash.db.models.READING_FIELDS``)."""
INPUT_FIELDS = tuple(f.name for f in NUMBER_FIELDS)
"""Every numeric field a reading may carry: the stored ones and the alternatives."""
_PREPARED_BY = ("energy_consumed", "energy_produced", "current_load")
_SPECS = tuple((f.name, f.required, f.minimum, f.maximum) for f in NUMBER_FIELDS)


def _number(value: Any) -> float | str:
    """A finite float, or the message that explains why the value is not one."""
    kind = type(value)
    try:
        if kind is float or kind is int:
            number = float(value)
        elif kind is str:
            if _NUMERIC.match(value) is None:
                return _not_numeric(value)
            number = float(value)
        else:
            return "must be a number"
    except ValueError:
        return "must be a number"
    except OverflowError:
        return "must be a finite number"
    if not math.isfinite(number):
        return "must be a finite number"
    return number


def _not_numeric(text: str) -> str:
    try:
        finite = math.isfinite(float(text))
    except (ValueError, OverflowError):
        return "must be a number"
    return "must be a number in ASCII digits" if finite else "must be a finite number"


def parse_timestamp(value: Any, now_s: float) -> int | str:
    """Epoch milliseconds from ISO 8601 with an offset or Unix seconds, or a message."""
    kind = type(value)
    iso = False
    if kind is str:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            if _NUMERIC.match(text) is None:
                return "must be ISO 8601 with a UTC offset or Unix seconds"
            seconds = float(text)
        else:
            if moment.tzinfo is None:
                return "must include a UTC offset (e.g. 2025-01-01T12:00:00Z)"
            try:
                seconds = moment.timestamp()
            except (OverflowError, ValueError):
                return "is outside the years 2000 to 9999"
            iso = True
    elif kind is int or kind is float:
        try:
            seconds = float(value)
        except OverflowError:
            return "must be a finite number of seconds"
    else:
        return "must be ISO 8601 with a UTC offset or Unix seconds"
    if not math.isfinite(seconds):
        return "must be a finite number of seconds"
    if seconds > 1e11 and not iso:
        return "looks like milliseconds; send Unix seconds"
    if seconds < MIN_TIMESTAMP_S:
        return "is before 2000-01-01; is the device clock set (NTP)?"
    if seconds > now_s + MAX_FUTURE_S:
        return "is more than 5 minutes in the future"
    return int(round(seconds * 1000))


MAX_ID_DIGITS = 18  # ids are 64-bit keys; a longer digit string names none


def integer_id(value: object) -> int | None:
    """An id sent as an int, an integral float or ASCII digits, else None.

    Digit strings are bounded: ``int()`` of over 4 300 digits raises, and no
    facility has such an id anyway.
    """
    kind = type(value)
    if kind is int:
        return value
    if kind is float and value.is_integer():
        return int(value)
    if kind is str:
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
            return int(text)
    return None


def validate_reading(
    body: Any, *, now_s: float | None = None, require_timestamp: bool = False
) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check one reading.

    Returns ``(row, [])`` with a clean row (floats, ``ts_ms`` or ``None`` and the
    optional ``facility_id`` and ``device_id``), or ``(None, details)`` where every
    detail names its field. Unknown fields are ignored.
    """
    if type(body) is not dict:
        return None, [{"field": "", "message": "each reading must be a JSON object"}]
    now_s = time.time() if now_s is None else now_s
    row: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    get = body.get
    relaxed = any(get(name) is not None for name in ALTERNATIVES)
    for name, required, minimum, maximum in _SPECS:
        value = get(name)
        if value is None:
            if required and not relaxed:
                errors.append({"field": name, "message": "is required"})
            row[name] = None
            continue
        number = _number(value)
        if type(number) is str:
            errors.append({"field": name, "message": number})
            continue
        if minimum is not None and number < minimum:
            errors.append({"field": name, "message": f"must be >= {minimum:g}"})
        elif maximum is not None and number > maximum:
            errors.append({"field": name, "message": f"must be <= {maximum:g}"})
        row[name] = number

    stamp = get("timestamp")
    if stamp is None:
        if require_timestamp:
            errors.append({"field": "timestamp", "message": "is required"})
        row["ts_ms"] = None
    else:
        parsed = parse_timestamp(stamp, now_s)
        if type(parsed) is str:
            errors.append({"field": "timestamp", "message": parsed})
        row["ts_ms"] = parsed

    device = get("device_id")
    if device is not None:
        if type(device) is not str or not device.strip():
            errors.append(
                {"field": "device_id", "message": "must be a non-empty string"}
            )
        elif not device.isprintable():  # NUL, control characters, lone surrogates
            errors.append(
                {"field": "device_id", "message": DEVICE_TEXT_MESSAGE}
            )
        elif len(device) > MAX_DEVICE_ID:
            errors.append(
                {"field": "device_id", "message": f"must be at most {MAX_DEVICE_ID} "
                 "characters"}
            )
        else:
            device = device.strip()
    row["device_id"] = device

    facility = get("facility_id")
    if facility is not None:
        facility = integer_id(facility)
        if facility is None:
            errors.append({"field": "facility_id", "message": "must be an integer"})
    row["facility_id"] = facility

    if errors:
        return None, errors
    return row, errors


FIRST_DAY = date(2000, 1, 1)  # no reading is older (MIN_TIMESTAMP_S)
LAST_DAY = date(2099, 12, 31)  # far enough ahead; pandas and every engine cope
FIRST_MS = MIN_TIMESTAMP_S * 1000
END_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000) + 86_400_000


def parse_day(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` (or ISO date-time) day between 2000 and 2099, else None.

    Every date a user can type (date pickers, query parameters) goes through the
    same bounds, so no year 1 or 9999 reaches pandas or the database.
    """
    if not value or not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def day_bounds_message(field: str) -> str:
    return (f"{field} must be between {FIRST_DAY.isoformat()} and "
            f"{LAST_DAY.isoformat()}")


class FacilityBounds(Protocol):
    """What the physical bounds need to know of a facility (ORM row or a copy)."""

    id: int
    expected_interval_s: int
    capacity_kw: float


ENERGY_NAMES = ("energy_produced", "energy_consumed")


def physical_limit_kwh(facility: FacilityBounds) -> tuple[int, float]:
    """``(span_s, kWh)``: the most energy one reading of this facility may carry
    (1 GW over twice its expected interval); :func:`physical_errors` words it."""
    span_s = 2 * int(facility.expected_interval_s or MAX_INTERVAL_S)
    return span_s, MAX_POWER_KW * span_s / 3600


def physical_errors(
    row: dict[str, Any], facility: FacilityBounds
) -> list[dict[str, str]]:
    """Energies no facility can produce: over 1 GW for the longest interval a
    reading of this facility may span (twice its expected interval)."""
    span_s, limit = physical_limit_kwh(facility)
    errors = []
    for name in ENERGY_NAMES:
        value = row.get(name)
        if value is not None and value > limit:
            errors.append({
                "field": name,
                "message": f"implies more than 1 GW over {span_s} s (twice the "
                f"facility's reporting interval); must be <= {limit:g}",
            })
    return errors


def unlikely_events(
    row: dict[str, Any], facility: FacilityBounds
) -> list[QualityEvent]:
    """Possible but unlikely values: more than 3x the capacity over the expected
    interval. They are stored, and the caller logs these data-quality events."""
    capacity = float(facility.capacity_kw or 0)
    interval_s = int(facility.expected_interval_s or 0)
    if capacity <= 0 or interval_s <= 0 or row.get("ts_ms") is None:
        return []
    limit = UNLIKELY_FACTOR * capacity * interval_s / 3600
    return [
        QualityEvent(
            ts_ms=int(row["ts_ms"]), kind="spike", device_id=row.get("device_id"),
            detail=f"{name} {row[name]:g} kWh is more than 3x the capacity "
            f"({capacity:g} kW) over {interval_s} s (stored)",
        )
        for name in ENERGY_NAMES
        if row.get(name) is not None and row[name] > limit
    ]


def reading_schema() -> dict[str, Any]:
    """JSON Schema (2020-12, as used by OpenAPI 3.1) of one reading."""
    properties: dict[str, Any] = {}
    for f in NUMBER_FIELDS:
        number: dict[str, Any] = {"type": "number"}
        if f.minimum is not None:
            number["minimum"] = f.minimum
        if f.maximum is not None:
            number["maximum"] = f.maximum
        unit = f" [{f.unit}]" if f.unit else ""
        properties[f.name] = {
            "description": f"{f.description}{unit}. Numeric strings are accepted.",
            "oneOf": [number, {"type": "string", "pattern": NUMERIC_PATTERN}],
        }
    properties["timestamp"] = {
        "description": "ISO 8601 with a UTC offset, or Unix seconds; at most 5 minutes "
        "in the future. Default: time of receipt (required in bulk).",
        "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
    }
    properties["device_id"] = {
        "type": "string", "maxLength": MAX_DEVICE_ID, "minLength": 1,
        "description": "Sending device; default: the API key's name.",
    }
    properties["facility_id"] = {
        "type": "integer", "description": "Optional; must equal the API key's facility."
    }
    return {
        "type": "object",
        "anyOf": [{"required": list(REQUIRED)}]
        + [{"required": [name]} for name in ALTERNATIVES],
        "properties": properties,
        "additionalProperties": True,
    }


@dataclass
class ReadingColumns:
    """Validated readings of one facility as columns (NaN where a field is absent).

    ``values`` holds the stored fields and, when sent, the register/power
    alternatives; those are not stored: the writer turns them into interval
    energies first (:meth:`needs_preparation`, :meth:`to_rows`).
    """

    ts_ms: np.ndarray  # int64 epoch milliseconds
    device_id: np.ndarray  # object array of str
    values: dict[str, np.ndarray]  # float64, one per reading field

    def __len__(self) -> int:
        return len(self.ts_ms)

    @classmethod
    def from_rows(
        cls, rows: Sequence[dict[str, Any]], fields: Sequence[str] = INPUT_FIELDS
    ) -> ReadingColumns:
        """Columns of validated row dicts (each with ``ts_ms`` and ``device_id``)."""
        n = len(rows)
        ts = np.fromiter((r["ts_ms"] for r in rows), dtype=np.int64, count=n)
        devices = np.empty(n, dtype=object)
        devices[:] = [r["device_id"] for r in rows]
        values = {
            name: np.array([r.get(name) for r in rows], dtype=np.float64)
            for name in fields
        }
        return cls(ts, devices, values)

    def column(self, name: str) -> np.ndarray:
        """The field's values, all NaN when the batch has no such column."""
        found = self.values.get(name)
        return np.full(len(self), np.nan) if found is None else found

    def needs_preparation(self) -> bool:
        """True when any row carries a register or power, or lacks an interval
        energy or its load (the rule of ``storage.registers.needs_preparation``)."""
        if any(not np.isnan(self.column(n)).all() for n in ALTERNATIVES):
            return True
        return any(np.isnan(self.column(n)).any() for n in _PREPARED_BY)

    def to_rows(self) -> list[dict[str, Any]]:
        """Row dicts (``None`` where absent), for the register preparation."""
        names = list(self.values)
        lists = [
            [None if v != v else v for v in self.values[n].tolist()] for n in names
        ]
        rows = []
        for k, (ts, device) in enumerate(
            zip(self.ts_ms.tolist(), self.device_id.tolist(), strict=True)
        ):
            row = {name: col[k] for name, col in zip(names, lists, strict=True)}
            row["ts_ms"] = ts
            row["device_id"] = device
            rows.append(row)
        return rows

    def take(self, index: np.ndarray) -> ReadingColumns:
        return ReadingColumns(
            self.ts_ms[index], self.device_id[index],
            {name: col[index] for name, col in self.values.items()},
        )

    @classmethod
    def concat(cls, parts: Sequence[ReadingColumns]) -> ReadingColumns:
        names = list(dict.fromkeys(n for p in parts for n in p.values))
        return cls(
            np.concatenate([p.ts_ms for p in parts]),
            np.concatenate([p.device_id for p in parts]),
            {name: np.concatenate([p.column(name) for p in parts]) for name in names},
        )


def frame_to_columns(
    frame: pd.DataFrame, facility_id: int, device_id: str, *,
    now_s: float | None = None,
) -> tuple[ReadingColumns, list[dict[str, Any]]]:
    """:func:`validate_reading` of every row of a frame: (clean columns, rejected).

    The fast path checks whole columns of the common shape (numeric columns; a
    ``DatetimeIndex`` or a ``timestamp`` column of datetimes, Unix seconds or ISO
    8601 text; plain device names) against the same rule table, and it only ever
    accepts. Any other row (a numeric string, a boolean, a bound crossed, a field
    missing) goes to :func:`validate_reading` as the body the API would get, so the
    rows stored, their values and every message are the API's. Datetimes are
    moments (naive ones UTC) cut to the millisecond. The valid rows stay columns in
    frame order (NaN where a field is absent): no dict per clean row.
    """
    now_s = time.time() if now_s is None else now_s
    default = _default_device(device_id)
    n = len(frame)
    slow = np.zeros(n, dtype=bool)
    values = {spec.name: _frame_numbers(frame, spec.name, slow)
              for spec in NUMBER_FIELDS}
    relaxed = np.zeros(n, dtype=bool)
    for name in ALTERNATIVES:
        relaxed |= ~np.isnan(values[name])
    for spec in NUMBER_FIELDS:
        numbers = values[spec.name]
        present = ~np.isnan(numbers)
        with np.errstate(invalid="ignore"):
            slow |= present & ~np.isfinite(numbers)
            if spec.required:
                slow |= ~present & ~relaxed
            slow |= present & spec.out_of_bounds(numbers)
    source = frame["timestamp"] if "timestamp" in frame.columns else frame.index
    ts_ms, stamp_of = _frame_stamps(source, now_s, slow)
    devices = _frame_devices(frame, default, slow)
    if "facility_id" in frame.columns:
        ids = _frame_numbers(frame, "facility_id", slow)
        slow |= ~np.isnan(ids) & (ids != facility_id)
    if not slow.any():
        return ReadingColumns(ts_ms, devices, values), []
    fast = np.flatnonzero(~slow)
    clean = ReadingColumns(ts_ms[fast], devices[fast],
                           {name: values[name][fast] for name in INPUT_FIELDS})
    checked = np.flatnonzero(slow)
    results = (
        (i, *validate_reading(body, now_s=now_s, require_timestamp=True))
        for i, body in zip(checked.tolist(), _bodies(frame, checked, stamp_of),
                           strict=True)
    )
    columns, refused = with_checked_rows(
        clean, fast, results, facility_id=facility_id, default_device=default,
        mismatch=[{"field": "facility_id", "message": "does not match facility_id"}],
    )
    return columns, [{"index": i, "details": details} for i, details in refused]


def with_checked_rows(
    clean: ReadingColumns,
    fast: np.ndarray,
    results: Iterable[tuple[int, dict[str, Any] | None, list]],
    *,
    facility_id: int,
    default_device: str,
    mismatch: list[dict[str, str]],
) -> tuple[ReadingColumns, list[tuple[int, list]]]:
    """The columns vouched for (at positions ``fast``) joined by the rows the
    row validator checked one by one (``(position, row, details)``), in
    position order; and ``(position, details)`` of the refused ones. A row
    claiming another facility gets ``mismatch``."""
    refused: list[tuple[int, list]] = []
    late_rows, late_at = [], []
    for i, row, details in results:
        if row is None:
            refused.append((i, details))
        elif row["facility_id"] not in (None, facility_id):
            refused.append((i, mismatch))
        else:
            if row["device_id"] is None:
                row["device_id"] = default_device
            late_rows.append(row)
            late_at.append(i)
    if not late_rows:
        return clean, refused
    late = ReadingColumns.from_rows(late_rows)
    order = np.argsort(np.concatenate([fast, np.asarray(late_at, dtype=np.int64)]),
                       kind="stable")
    return ReadingColumns.concat([clean, late]).take(order), refused


def _default_device(name: str) -> str:
    """The writer's default device as the API would store it. A name the API
    refuses is the caller's mistake, not a row's, so it raises."""
    _, details = validate_reading({"device_id": name})
    for detail in details:
        if detail["field"] == "device_id":
            raise ValueError(f"device_id {detail['message']}")
    return name.strip()


def _is_numeric(dtype: Any) -> bool:
    """Integer or float columns (numpy or nullable); booleans are not numbers."""
    return getattr(dtype, "kind", "O") in "iuf"


def _frame_numbers(frame: pd.DataFrame, name: str, slow: np.ndarray) -> np.ndarray:
    """float64 of a column (NaN where absent). In a non-numeric column any cell
    that is not a plain number marks its row slow."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    column = frame[name]
    if _is_numeric(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = [_plain_number(c) for c in column.to_numpy(dtype=object).tolist()]
    slow |= np.array([number is None for number in numbers], dtype=bool)
    return np.array([np.nan if number is None else number for number in numbers],
                    dtype=np.float64)


_EXACT_INT = 2**53  # larger integers take the row validator (float rounding)


def _plain_number(cell: Any) -> float | None:
    """A number cell's float, NaN when the cell is missing, None for anything
    else (text, booleans, huge integers), which the row validator words."""
    if isinstance(cell, float | np.floating):
        return float(cell)
    if isinstance(cell, int | np.integer) and not isinstance(cell, _NOT_NUMBERS):
        return float(cell) if -_EXACT_INT < cell < _EXACT_INT else None
    return np.nan if _is_missing(cell) else None


_NOT_NUMBERS = (bool, np.timedelta64)  # integers to Python and numpy, not to JSON


def _is_missing(cell: Any) -> bool:
    """None, NaN, NaT or ``pd.NA``: the field is left out, like JSON's null."""
    if isinstance(cell, float | np.floating | np.datetime64 | np.timedelta64):
        return bool(pd.isna(cell))
    return cell is None or cell is pd.NA or cell is pd.NaT


def _native(cell: Any) -> Any:
    """A cell as a JSON body carries it: None when missing, numpy scalars as
    Python ones (the row validator takes only ``float``, ``int`` and ``str``)."""
    if _is_missing(cell):
        return None
    if isinstance(cell, np.timedelta64):  # .item() would make it a number
        return cell
    return cell.item() if isinstance(cell, np.number | np.bool_ | np.str_) else cell


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _frame_stamps(
    source: pd.Series | pd.Index, now_s: float, slow: np.ndarray
) -> tuple[np.ndarray, Callable[[int], Any]]:
    """Epoch milliseconds of the rows the fast path vouches for (the others are
    marked slow), and ``stamp_of(i)``: the ``timestamp`` of row ``i``'s body."""
    if source.dtype.kind == "M":  # datetime64, naive (UTC) or tz-aware
        stamps = pd.DatetimeIndex(source)
        return _datetime_ms(stamps.asi8, _PER_SECOND[stamps.unit],
                            np.asarray(stamps.isna()), now_s, slow)
    if _is_numeric(source.dtype):  # Unix seconds
        seconds = source.to_numpy(dtype=np.float64, na_value=np.nan)
        return _seconds_ms(seconds, now_s, slow), lambda i: _native(seconds[i])
    cells = np.asarray(source.to_numpy(dtype=object))
    if pd.api.types.infer_dtype(cells, skipna=False) == "string":  # no cell loop
        seconds, body, texts = np.full(len(cells), np.nan), cells, np.arange(len(cells))
    else:
        seconds, body, texts = _cell_seconds(cells)
    if len(texts):
        # The bulk API's vectorised ISO 8601 reader (its module imports this one).
        from energy_dash.domain.batch import iso_seconds

        parsed, exact = iso_seconds(cells[texts].tolist())
        seconds[texts[exact]] = parsed[exact]
    return _seconds_ms(seconds, now_s, slow), lambda i: _native(body[i])


def _cell_seconds(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unix seconds of the number and datetime cells of a mixed column (NaN for
    the rest), each cell's body value, and the positions of the text cells."""
    seconds = np.full(len(cells), np.nan)
    body = cells.copy()
    texts = []
    for i, cell in enumerate(cells.tolist()):
        if isinstance(cell, str):
            texts.append(i)
        elif _is_missing(cell):
            body[i] = None
        elif isinstance(cell, datetime | np.datetime64):
            ms = _datetime_ms_of(cell)
            seconds[i], body[i] = ms / 1000, _moment(ms)
        else:
            number = _plain_number(cell)
            seconds[i] = np.nan if number is None else number
    return seconds, body, np.array(texts, dtype=np.intp)


def _datetime_ms_of(cell: datetime | np.datetime64) -> int:
    """Epoch milliseconds of a datetime cell, cut; naive is UTC."""
    if isinstance(cell, np.datetime64):
        return int(cell.astype("datetime64[ms]").astype(np.int64))
    if cell.tzinfo is None:
        cell = cell.replace(tzinfo=UTC)
    return (cell - _EPOCH) // _MS


def _moment(ms: int) -> str | float:
    """A datetime as a JSON body carries it: ISO 8601 with its offset, so the
    row validator words it as the API would (Unix seconds beyond the years a
    ``datetime`` holds)."""
    try:
        return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds")
    except OverflowError:
        return ms / 1000


def _seconds_ms(seconds: np.ndarray, now_s: float, slow: np.ndarray) -> np.ndarray:
    """Milliseconds of Unix seconds inside :func:`parse_timestamp`'s bounds; the
    others (NaN included) are marked slow, for it to word."""
    with np.errstate(invalid="ignore"):
        fine = (seconds >= MIN_TIMESTAMP_S) & (seconds <= 1e11)
        fine &= seconds <= now_s + MAX_FUTURE_S
    slow |= ~fine
    return np.round(np.where(fine, seconds, 0.0) * 1000).astype(np.int64)


def _datetime_ms(
    ticks: np.ndarray, per_second: int, missing: np.ndarray, now_s: float,
    slow: np.ndarray,
) -> tuple[np.ndarray, Callable[[int], Any]]:
    """:func:`_frame_stamps` of datetime64 ticks: the bounds of Unix seconds, the
    milliseconds cut in integer arithmetic (exact, no overflow in far-off years)."""
    outside = np.zeros(len(ticks), dtype=bool)
    _seconds_ms(np.where(missing, np.nan, ticks / per_second), now_s, outside)
    kept = np.where(outside, 0, ticks)
    if per_second < 1000:
        ts_ms = kept * (1000 // per_second)
    else:
        ts_ms = kept // (per_second // 1000)
    slow |= outside

    def stamp_of(i: int) -> str | float | None:
        return None if missing[i] else _moment(int(ticks[i]) * 1000 // per_second)

    return ts_ms.astype(np.int64), stamp_of


def _frame_devices(frame: pd.DataFrame, default: str, slow: np.ndarray) -> np.ndarray:
    """Each row's device (``default`` where the cell is missing). A name the fast
    path cannot vouch for marks its rows slow: the row validator words or cleans it."""
    out = np.empty(len(frame), dtype=object)
    out[:] = default
    if "device_id" not in frame.columns:
        return out
    cells = frame["device_id"].to_numpy(dtype=object)
    try:
        codes, uniques = pd.factorize(cells)
    except TypeError:  # an unhashable cell (a list): every row on its own
        codes, uniques = np.arange(len(cells)), cells
    plain = np.array([*map(_plain_device, uniques.tolist()), True], dtype=bool)
    names = np.empty(len(uniques) + 1, dtype=object)
    names[:-1], names[-1] = uniques, default  # code -1: a missing cell
    slow |= ~plain[codes]
    return names[codes]


def _plain_device(value: Any) -> bool:
    """True for a device id the API stores exactly as sent (the row validator's
    verdict on the name alone)."""
    if type(value) is not str or value != value.strip():
        return False
    _, details = validate_reading({"device_id": value})
    return all(detail["field"] != "device_id" for detail in details)


_BODY_FIELDS = (*INPUT_FIELDS, "device_id", "facility_id")


def _bodies(
    frame: pd.DataFrame, rows: np.ndarray, stamp_of: Callable[[int], Any]
) -> list[dict[str, Any]]:
    """The API body of each of ``rows``: its cells as JSON would carry them
    (other columns are unknown fields, which the API ignores)."""
    names = [name for name in _BODY_FIELDS if name in frame.columns]
    cells = [frame[name].iloc[rows].to_numpy(dtype=object).tolist() for name in names]
    bodies = []
    for k, i in enumerate(rows.tolist()):
        body = {name: _native(column[k]) for name, column in zip(names, cells,
                                                                  strict=True)}
        body["timestamp"] = stamp_of(i)
        bodies.append(body)
    return bodies
