"""The one CSV format of readings: written by ``energy-dash export-csv`` and the
/historical download (``/api/export.csv``), read back by ``energy-dash import-csv``.

Columns: ``timestamp`` (ISO 8601 with the UTC offset, in the facility's local
time), ``facility_id``, ``device_id``, then every reading field with its unit in
the name (``energy_produced_kwh``, ``current_load_pct``, ``voltage_v``,
``current1_a``, ``frequency_hz``, ``power_factor``, …; see :func:`column_name`).
Numbers keep their full precision (an import gives back the same floats); an
empty cell is "not measured". A device id
that a spreadsheet would run as a formula is written with a leading apostrophe,
which the import removes again.

The import also accepts the bare field names (``energy_produced``, …), Unix
seconds as timestamps and ``;``/tab delimiters, and applies the sensor API's
validation (:func:`energy_dash.domain.validation.validate_reading`) row by row.
Cumulative registers (``energy_consumed_total_kwh`` / ``energy_produced_total_kwh``,
or the bare names) and powers (``power_consumed_kw``, …) may stand in for the
interval energies; they are booked as the sensor API books them.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from energy_dash.db import session_scope
from energy_dash.db.models import READING_FIELDS
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.times import from_ms, iso_local_many
from energy_dash.domain.validation import (
    ALTERNATIVES,
    NUMBER_FIELDS,
    ReadingColumns,
    physical_errors,
    validate_reading,
)
from energy_dash.services import quality as quality_log
from energy_dash.services.facilities import facility_info
from energy_dash.services.readings import read_readings
from energy_dash.storage import facilities as facility_rows
from energy_dash.storage.columnar import store_columns

logger = logging.getLogger(__name__)

IMPORT_CHUNK = 5_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNIT_SUFFIX = {"kWh": "kwh", "kW": "kw", "%": "pct", "V": "v", "A": "a", "Hz": "hz",
                "": ""}


def column_name(field: str) -> str:
    """The CSV header of a reading field: its name with the unit (``voltage_v``)."""
    unit = next(f.unit for f in NUMBER_FIELDS if f.name == field)
    suffix = _UNIT_SUFFIX[unit]
    return f"{field}_{suffix}" if suffix else field


COLUMNS = {field: column_name(field) for field in READING_FIELDS}
"""Reading field -> CSV header."""
HEADER = ["timestamp", "facility_id", "device_id", *COLUMNS.values()]
_FIELD_OF = {**{c: f for f, c in COLUMNS.items()}, **{f: f for f in READING_FIELDS},
             **{column_name(f): f for f in ALTERNATIVES}}
"""Import header -> field: the export's unit headers, bare names, and the
registers and powers a meter reports instead of interval energies
(``energy_consumed_total_kwh``, ``power_produced_kw``)."""


def _csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_unsafe(value: str) -> str:
    """The device id :func:`_csv_safe` wrote."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


# ------------------------------------------------------------------------ export
def frame_csv(frame: pd.DataFrame, *, header: bool = True) -> str:
    """A readings frame (``read_readings`` shape, index in the zone to show) as CSV."""
    out = pd.DataFrame(
        {
            "facility_id": frame["facility_id"].to_numpy(),
            "device_id": frame["device_id"].map(_csv_safe).to_numpy(),
            **{COLUMNS[f]: frame[f].to_numpy() for f in READING_FIELDS},
        },
        index=pd.Index(iso_local_many(frame.index), name="timestamp"),
    )
    buffer = io.StringIO()
    out.to_csv(buffer, header=header, na_rep="", lineterminator="\n")
    return buffer.getvalue()


def export_csv(
    facility_id: int,
    start_ms: int | None,
    end_ms: int | None,
    *,
    database_url: str | None = None,
    facility: FacilityInfo | None = None,
    header: bool = True,
) -> str:
    """Every reading of ``[start, end)`` in the CSV format of this module."""
    if facility is None:
        facility = facility_info(facility_id, database_url=database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    frame = read_readings(
        facility.id,
        None if start_ms is None else from_ms(start_ms),
        None if end_ms is None else from_ms(end_ms),
        tz=facility.timezone,
        database_url=database_url,
    )
    return frame_csv(frame, header=header)


def export_chunks(
    facility: FacilityInfo, start_ms: int, end_ms: int, chunk_ms: int,
    *, database_url: str | None = None,
) -> Iterator[str]:
    """:func:`export_csv` of a long range, one header, ``chunk_ms`` at a time."""
    lo, first = start_ms, True
    while lo < end_ms:
        hi = min(end_ms, lo + chunk_ms)
        text = export_csv(
            facility.id, lo, hi, database_url=database_url, facility=facility,
            header=first,
        )
        first = False
        if text:
            yield text
        lo = hi


# ------------------------------------------------------------------------ import
UNDECODABLE = "is not UTF-8 text (save the file as UTF-8)"


def _open(path: Path):
    """The file as UTF-8 text; bytes that are not UTF-8 become lone surrogates,
    so one badly encoded row is rejected by itself instead of ending the import."""
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def _undecodable(record: dict[str, Any]) -> list[dict[str, str]]:
    """A detail for every column of the record holding bytes that are not UTF-8."""
    return [{"field": key or "", "message": UNDECODABLE}
            for key, value in record.items()
            if isinstance(value, str) and not value.isascii()
            and any("\udc80" <= ch <= "\udcff" for ch in value)]


def _dialect(path: Path) -> type[csv.Dialect] | str:
    with _open(path) as handle:
        sample = handle.read(8192)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return "excel"


def _body(record: dict[str, Any]) -> dict[str, str]:
    """A CSV record as a reading body: unit headers mapped to the field names."""
    body: dict[str, str] = {}
    for key, value in record.items():
        if not key or not isinstance(value, str) or value.strip() == "":
            continue
        name = _FIELD_OF.get(key, key)
        body[name] = value.strip()
    if "device_id" in body:
        body["device_id"] = _csv_unsafe(body["device_id"])
    return body


class _Batches:
    """Valid rows per facility, flushed to the database every ``chunk_size``
    (with the unlikely values of new readings logged, as the sensor API does)."""

    def __init__(self, database_url: str | None, chunk_size: int) -> None:
        self.database_url = database_url
        self.chunk_size = chunk_size
        self.rows: dict[int, list[dict[str, Any]]] = {}
        self.accepted = 0
        self.duplicates = 0

    def add(self, facility_id: int, row: dict[str, Any]) -> None:
        batch = self.rows.setdefault(facility_id, [])
        batch.append(row)
        if len(batch) >= self.chunk_size:
            self.flush(facility_id)

    def flush(self, facility_id: int | None = None) -> None:
        for fid in [facility_id] if facility_id is not None else list(self.rows):
            batch = self.rows.pop(fid, [])
            if not batch:
                continue
            cols = ReadingColumns.from_rows(batch)
            with session_scope(self.database_url, write=True) as session:
                facility = facility_rows.load_info(session, fid)
                result = store_columns(session, facility, cols)
                quality_log.record(session, fid, result.unlikely)
            self.accepted += result.accepted
            self.duplicates += result.duplicates


def import_csv_file(
    path: Path,
    facility_id: int | None,
    database_url: str | None,
    *,
    device_id: str = "csv-import",
    chunk_size: int = IMPORT_CHUNK,
    progress: Any = None,
) -> dict[str, Any]:
    """Validate and store a CSV of readings; returns counts and rejected rows.

    ``facility_id`` overrides the file's ``facility_id`` column; without it each
    row goes to the facility its column names (which must exist). ``rejected``
    lists ``{"line": n, "details": [...]}`` with the file's line numbers (the
    header is line 1).
    """
    known: dict[int, Any] = {}

    def exists(fid: int) -> bool:
        if fid not in known:
            known[fid] = facility_info(fid, database_url=database_url)
        return known[fid] is not None

    if facility_id is not None and not exists(facility_id):
        raise LookupError(f"facility {facility_id} does not exist")
    batches = _Batches(database_url, chunk_size)
    rejected: list[dict[str, Any]] = []
    now_s = time.time()
    with _open(path) as handle:
        reader = csv.DictReader(handle, dialect=_dialect(path))
        fields = [(f or "").strip() for f in (reader.fieldnames or [])]
        if "timestamp" not in fields:
            raise ValueError(f"{path.name} has no 'timestamp' column (header: "
                             f"{', '.join(fields) or 'empty'})")
        if facility_id is None and "facility_id" not in fields:
            raise ValueError(f"{path.name} has no 'facility_id' column: "
                             "give --facility")
        reader.fieldnames = fields
        for record in reader:
            undecodable = _undecodable(record)
            if undecodable:
                rejected.append({"line": reader.line_num, "details": undecodable})
                if progress is not None:
                    progress.update(1)
                continue
            body = _body(record)
            if facility_id is not None:
                body.pop("facility_id", None)
            row, details = validate_reading(body, now_s=now_s, require_timestamp=True)
            target = facility_id if row is None or facility_id is not None else (
                row["facility_id"]
            )
            if row is not None and (target is None or not exists(target)):
                details = [{"field": "facility_id",
                            "message": "is required and must be an existing "
                            "facility (or give --facility)"}]
                row = None
            if row is not None:
                details = physical_errors(row, known[target])
                row = None if details else row
            if row is None:
                rejected.append({"line": reader.line_num, "details": details})
            else:
                row["device_id"] = row["device_id"] or device_id
                row["facility_id"] = target
                batches.add(target, row)
            if progress is not None:
                progress.update(1)
    batches.flush()
    return {
        "accepted": batches.accepted,
        "duplicates": batches.duplicates,
        "rejected": rejected,
    }
