"""A vectorised fast path of the row validator for bulk requests.

A bulk request of 10 000 readings checked one dict at a time spends most of its
time in Python. :func:`validate_batch` checks the common shape — numbers of the
right type inside their bounds, ISO 8601 timestamps with whole seconds and an
offset, or Unix seconds — on whole columns with numpy. It only ever *accepts*
on its own: any row it is not certain about (a numeric string, a fraction of a
second, a bound crossed, a missing field, a stray type) goes through
:func:`energy_dash.domain.validation.validate_reading` unchanged, which produces the
row or the per-field details. So the set of accepted rows, their stored values
and every rejection message are exactly those of the row validator; the bounds
come from its own rule table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.validation import (
    ALTERNATIVES,
    ENERGY_NAMES,
    INPUT_FIELDS,
    MAX_DEVICE_ID,
    MAX_FUTURE_S,
    MIN_TIMESTAMP_S,
    NUMBER_FIELDS,
    UNLIKELY_FACTOR,
    FacilityBounds,
    ReadingColumns,
    physical_errors,
    physical_limit_kwh,
    unlikely_events,
    with_checked_rows,
)

logger = logging.getLogger(__name__)

_EXACT_INT = 2**53  # larger integers take the row validator (float rounding)
_DIGIT_AT = {
    20: (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18),  # ...SSZ
    25: (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24),  # ±HH:MM
}
_PUNCT = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _column(dicts: list[dict], name: str) -> list:
    return list(map(dict.get, dicts, repeat(name)))


def _numbers(column: list, slow: np.ndarray) -> np.ndarray:
    """float64 of a field's values (NaN = absent); marks rows it cannot vouch for."""
    kinds = set(map(type, column))
    if kinds == {type(None)}:
        return np.full(len(column), np.nan)
    if not kinds <= {float, type(None)}:  # ints, booleans, strings, lists, …
        odd = [
            not (v is None or type(v) is float
                 or (type(v) is int and -_EXACT_INT < v < _EXACT_INT))
            for v in column
        ]
        if any(odd):
            slow |= np.array(odd, dtype=bool)
            column = [None if o else v for v, o in zip(column, odd, strict=True)]
    return np.array(column, dtype=np.float64)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def iso_seconds(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS`` + ``Z`` or ``±HH:MM``, and a mask.

    The mask is False for any string not in exactly that form or not a real
    moment (month 13, 30 February, hour 24, offset 24:00, non-ASCII digits…);
    those are left to :func:`datetime.fromisoformat` in the row validator.
    """
    n = len(texts)
    seconds = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    for length, digit_at in _DIGIT_AT.items():
        rows = np.flatnonzero(lengths == length)
        if not len(rows):
            continue
        picked = [texts[i] for i in rows.tolist()]
        try:  # one buffer of ASCII bytes; anything else takes the row validator
            raw = "".join(picked).encode("ascii")
        except UnicodeEncodeError:
            continue
        codes = np.frombuffer(raw, dtype=np.uint8).reshape(len(rows), length)
        codes = codes.astype(np.int32)
        good = np.ones(len(rows), dtype=bool)
        for at, mark in _PUNCT.items():
            good &= codes[:, at] == ord(mark)
        digits = codes - ord("0")
        for at in digit_at:
            good &= (digits[:, at] >= 0) & (digits[:, at] <= 9)

        def num(a: int, width: int, dg=digits) -> np.ndarray:
            out = dg[:, a].astype(np.int64)
            for k in range(1, width):
                out = out * 10 + dg[:, a + k]
            return out

        year, month, day = num(0, 4), num(5, 2), num(8, 2)
        hour, minute, second = num(11, 2), num(14, 2), num(17, 2)
        good &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
        good &= (hour <= 23) & (minute <= 59) & (second <= 59)
        month_ok = np.clip(month, 1, 12)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        good &= day <= _DAYS_IN_MONTH[month_ok] + (leap & (month_ok == 2))
        offset = np.zeros(len(rows), dtype=np.int64)
        if length == 20:
            good &= codes[:, 19] == ord("Z")
        else:
            sign = np.where(codes[:, 19] == ord("-"), -1, 1)
            good &= (codes[:, 19] == ord("+")) | (codes[:, 19] == ord("-"))
            good &= codes[:, 22] == ord(":")
            off_h, off_m = num(20, 2), num(23, 2)
            good &= (off_h <= 23) & (off_m <= 59)
            offset = sign * (off_h * 3600 + off_m * 60)
        days = _days_from_civil(year, month_ok, day)
        local = days * 86_400 + hour * 3600 + minute * 60 + second
        seconds[rows] = local - offset
        ok[rows] = good
    return seconds, ok


class ReadingTable(Sequence[dict[str, Any]]):
    """Dated reading bodies held as columns, as the line-protocol parser builds
    them: :func:`validate_batch` reads the columns, and ``table[i]`` is the body
    dict of row ``i`` (for the row validator and its messages).

    ``timestamp`` is Unix seconds; in ``values`` NaN means the field is absent.
    """

    def __init__(self, device_id: list[str], timestamp: np.ndarray,
                 values: dict[str, np.ndarray]) -> None:
        self.device_id = device_id
        self.timestamp = timestamp
        self.values = values

    def __len__(self) -> int:
        return len(self.device_id)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        body: dict[str, Any] = {"device_id": self.device_id[i],
                                "timestamp": float(self.timestamp[i])}
        for name, column in self.values.items():
            if not np.isnan(column[i]):
                body[name] = float(column[i])
        return body


def _timestamps(column: list, now_s: float, slow: np.ndarray) -> np.ndarray:
    """Epoch milliseconds; rows the fast path cannot vouch for are marked slow."""
    n = len(column)
    seconds = np.zeros(n, dtype=np.float64)
    kinds = [type(v) for v in column]
    texts = np.flatnonzero(np.array([k is str for k in kinds], dtype=bool))
    numbers = np.flatnonzero(np.array([k is float or k is int for k in kinds],
                                      dtype=bool))
    unknown = np.ones(n, dtype=bool)
    unknown[texts] = unknown[numbers] = False
    slow |= unknown  # absent, boolean, list, …: the row validator explains
    if len(texts):
        parsed, ok = iso_seconds([column[i] for i in texts.tolist()])
        slow[texts] |= ~ok
        seconds[texts] = parsed
    if len(numbers):
        mine = np.zeros(len(numbers), dtype=bool)
        values = _numbers([column[i] for i in numbers.tolist()], mine)
        with np.errstate(invalid="ignore"):
            mine |= ~np.isfinite(values)
        slow[numbers] |= mine
        seconds[numbers] = np.where(mine, 0.0, values)
    return _milliseconds(seconds, now_s, slow)


def _milliseconds(seconds: np.ndarray, now_s: float, slow: np.ndarray) -> np.ndarray:
    """Epoch milliseconds of accepted seconds; out-of-range rows marked slow."""
    slow |= (seconds > 1e11) | (seconds < MIN_TIMESTAMP_S)
    slow |= seconds > now_s + MAX_FUTURE_S
    ts_ms = np.zeros(len(seconds), dtype=np.int64)
    fine = ~slow
    ts_ms[fine] = np.round(seconds[fine] * 1000).astype(np.int64)
    return ts_ms


def _devices(column: list, default: str, slow: np.ndarray) -> np.ndarray:
    """Each row's device (stripped; ``default`` when absent); odd ones marked slow."""
    out = np.empty(len(column), dtype=object)
    cleaned: dict[Any, str | None] = {None: default}
    for value in set(v for v in column if type(v) is str):
        good = (value.strip() and value.isprintable() and len(value) <= MAX_DEVICE_ID)
        cleaned[value] = value.strip() if good else None
    names = [cleaned.get(v) if (v is None or type(v) is str) else None for v in column]
    slow |= np.array([name is None for name in names], dtype=bool)
    out[:] = names
    return out


def validate_batch(
    bodies: Sequence[Any],
    now_s: float,
    *,
    facility_id: int,
    default_device: str,
    check_row: Callable[[Any], tuple[dict[str, Any] | None, list]],
) -> tuple[ReadingColumns, list[tuple[int, list]]]:
    """Validate bulk readings (timestamps required) into columns.

    ``check_row(body)`` is the row validator's answer for one body (row or
    details); it runs for every row the vectorised checks cannot accept on their
    own. A row whose ``facility_id`` is not ``facility_id`` is rejected with the
    mismatch detail. ``bodies`` may be a :class:`ReadingTable` (read as
    columns). Returns the accepted rows as columns in input order and
    ``(position, details)`` for the rejected ones.
    """
    if isinstance(bodies, ReadingTable):
        slow = np.zeros(len(bodies), dtype=bool)
        absent = np.full(len(bodies), np.nan)
        values = {spec.name: bodies.values.get(spec.name, absent)
                  for spec in NUMBER_FIELDS}
    else:
        slow = np.array([type(b) is not dict for b in bodies], dtype=bool)
        dicts = [b if type(b) is dict else {} for b in bodies]
        values = {spec.name: _numbers(_column(dicts, spec.name), slow)
                  for spec in NUMBER_FIELDS}
    # A register or a power makes the interval energies and the load optional.
    relaxed = np.zeros(len(bodies), dtype=bool)
    for name in ALTERNATIVES:
        relaxed |= ~np.isnan(values[name])
    for spec in NUMBER_FIELDS:
        numbers = values[spec.name]
        present = ~np.isnan(numbers)
        with np.errstate(invalid="ignore"):
            bad = present & ~np.isfinite(numbers)
            if spec.required:
                bad |= ~present & ~relaxed
            bad |= present & spec.out_of_bounds(numbers)
        slow |= bad
    if isinstance(bodies, ReadingTable):  # finite seconds, devices, no facility
        seconds = bodies.timestamp.astype(np.float64)
        finite = np.isfinite(seconds)
        slow |= ~finite
        ts_ms = _milliseconds(np.where(finite, seconds, 0.0), now_s, slow)
        devices = _devices(bodies.device_id, default_device, slow)
    else:
        ts_ms = _timestamps(_column(dicts, "timestamp"), now_s, slow)
        devices = _devices(_column(dicts, "device_id"), default_device, slow)
        claimed = _column(dicts, "facility_id")
        slow |= np.array([not (c is None or (type(c) is int and c == facility_id))
                          for c in claimed], dtype=bool)
    fast = np.flatnonzero(~slow)
    clean = ReadingColumns(ts_ms[fast], devices[fast],
                           {name: values[name][fast] for name in INPUT_FIELDS})
    results = ((i, *check_row(bodies[i])) for i in np.flatnonzero(slow).tolist())
    return with_checked_rows(clean, fast, results, facility_id=facility_id,
                             default_device=default_device, mismatch=MISMATCH)


MISMATCH = [
    {"field": "facility_id", "message": "does not match the facility of this API key"}
]


def _over(cols: ReadingColumns, limit: float) -> np.ndarray:
    """Positions of rows with an interval energy above ``limit`` [kWh]."""
    over = np.zeros(len(cols), dtype=bool)
    with np.errstate(invalid="ignore"):
        for name in ENERGY_NAMES:
            over |= cols.column(name) > limit
    return np.flatnonzero(over)


def physical_refusals(
    cols: ReadingColumns, facility: FacilityBounds
) -> list[tuple[int, list]]:
    """``(position, details)`` of rows over the facility's physical bound.

    The bound is compared on whole columns; only a refused row becomes a dict,
    for :func:`physical_errors` to word its details as the row path does.
    """
    _, limit = physical_limit_kwh(facility)
    hits = _over(cols, limit)
    if not len(hits):
        return []
    rows = cols.take(hits).to_rows()
    return [(k, physical_errors(row, facility))
            for k, row in zip(hits.tolist(), rows, strict=True)]


def unlikely_batch(
    cols: ReadingColumns, facility: FacilityBounds
) -> list[QualityEvent]:
    """:func:`unlikely_events` of every row, in row order, checked on columns."""
    capacity = float(facility.capacity_kw or 0)
    interval_s = int(facility.expected_interval_s or 0)
    if capacity <= 0 or interval_s <= 0 or not len(cols):
        return []
    hits = _over(cols, UNLIKELY_FACTOR * capacity * interval_s / 3600)
    if not len(hits):
        return []
    return [e for row in cols.take(hits).to_rows()
            for e in unlikely_events(row, facility)]


__all__ = ["MISMATCH", "ReadingColumns", "ReadingTable", "iso_seconds",
           "physical_refusals", "unlikely_batch", "validate_batch"]
