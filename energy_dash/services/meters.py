"""Decoded MQTT and line-protocol readings stored through the sensor API's rules.

Batches of several facilities are validated as columns (the vectorised
validator of ``domain.batch``, which hands any row it cannot vouch for to the
row validator), checked for conflicting duplicates and stored in one
transaction by the columnar writer (registers and power are booked by
``storage.registers.prepare_rows`` on the way); the data-quality events of the
batch are recorded in the same transaction. A batch the database refuses is
stored again reading by reading (a savepoint each, one transaction), so one bad
reading costs only itself. Unlikely values
(``domain.validation.unlikely_events``) of the energies new readings book are
logged as the sensor API logs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from energy_dash.db import ROW_REFUSALS, session_scope
from energy_dash.db.models import Reading
from energy_dash.domain import quality
from energy_dash.domain.batch import MISMATCH, ReadingTable, validate_batch
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.validation import ReadingColumns, validate_reading
from energy_dash.services import quality as quality_log
from energy_dash.storage import deliveries as delivery_store
from energy_dash.storage.columnar import store_columns
from energy_dash.storage.facilities import load_info
from energy_dash.storage.readings import lock_facility
from energy_dash.storage.registers import prepare_power_columns

logger = logging.getLogger(__name__)

COMPARED = ("energy_consumed", "energy_produced", "voltage", "current")
READINGS = Reading.__table__
DEFAULT_DEVICE = "mqtt"
REFUSED = "refused by the database"
REGISTER_FIELDS = ("energy_consumed_total", "energy_produced_total")
DELIVERY_KEEP_MS = 3600 * 1000
"""How long a message identity is kept: a redelivery comes at the reconnect."""

Event = tuple[int | None, QualityEvent]


@dataclass
class IngestResult:
    """What one facility's batch did (counts, and refused rows by index)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _detail(details: Sequence[dict[str, str]]) -> str:
    return "; ".join(f"{d.get('field') or 'reading'}: {d.get('message')}"
                     for d in details)


def _device_of(body: Any) -> str | None:
    """The body's device id when the sensor API would take it, else None: the
    event of a refused body must store (PostgreSQL refuses a NUL in text, and
    then the batch and its events fell back row by row)."""
    device = body.get("device_id") if isinstance(body, dict) else None
    if not isinstance(device, str):
        return None
    _, details = validate_reading({"device_id": device})
    return device.strip() if all(d["field"] != "device_id" for d in details) else None


def _columns(
    bodies: Sequence[Any], facility_id: int, now_s: float
) -> tuple[ReadingColumns, list[tuple[int, list]]]:
    """Validated columns in input order, and ``(index, details)`` of refused bodies.

    Dated bodies go through the vectorised validator; a body without a time of
    its own is dated at receipt (``now_s``) by the row validator.
    """
    now_ms = int(now_s * 1000)

    def check(body: Any) -> tuple[dict[str, Any] | None, list]:
        return validate_reading(body, now_s=now_s)

    if isinstance(bodies, ReadingTable):  # dated columns (line protocol)
        return validate_batch(bodies, now_s, facility_id=facility_id,
                              default_device=DEFAULT_DEVICE, check_row=check)
    dated = [i for i, b in enumerate(bodies)
             if type(b) is not dict or b.get("timestamp") is not None]
    if len(dated) == len(bodies):
        return validate_batch(bodies, now_s, facility_id=facility_id,
                              default_device=DEFAULT_DEVICE, check_row=check)
    undated = sorted(set(range(len(bodies))) - set(dated))
    parts: list[ReadingColumns] = []
    order: list[np.ndarray] = []
    rejected: list[tuple[int, list]] = []
    if dated:
        cols, refused = validate_batch([bodies[i] for i in dated], now_s,
                                       facility_id=facility_id,
                                       default_device=DEFAULT_DEVICE,
                                       check_row=check)
        refused_at = {k for k, _ in refused}
        rejected += [(dated[k], details) for k, details in refused]
        parts.append(cols)
        order.append(np.asarray([i for k, i in enumerate(dated)
                                 if k not in refused_at], dtype=np.int64))
    rows, kept = [], []
    for i in undated:
        row, details = check(bodies[i])
        if row is not None and row["facility_id"] not in (None, facility_id):
            row, details = None, MISMATCH
        if row is None:
            rejected.append((i, details))
            continue
        row["ts_ms"] = now_ms
        row["device_id"] = row["device_id"] or DEFAULT_DEVICE
        rows.append(row)
        kept.append(i)
    if rows:
        parts.append(ReadingColumns.from_rows(rows))
        order.append(np.asarray(kept, dtype=np.int64))
    rejected.sort(key=lambda r: r[0])
    if not parts:
        return ReadingColumns.from_rows([]), rejected
    cols = ReadingColumns.concat(parts)
    return cols.take(np.argsort(np.concatenate(order), kind="stable")), rejected


CONFLICT_CHUNK = 2_000  # (device, time) pairs per lookup: 4 000 bound values


def _conflicts(
    session: Session, facility_id: int, cols: ReadingColumns
) -> list[QualityEvent]:
    """Readings whose device and timestamp are stored with other values.

    Looked up by exact ``(device, time)`` pairs on the unique index: a range
    would also fetch every stored reading between the batch's first and last.
    """
    pairs = list(zip(cols.device_id.tolist(), cols.ts_ms.tolist(), strict=True))
    key = tuple_(READINGS.c.device_id, READINGS.c.ts_ms)
    columns = [READINGS.c[name] for name in COMPARED]
    stored: dict[tuple[str, int], dict[str, Any]] = {}
    for start in range(0, len(pairs), CONFLICT_CHUNK):
        chunk = pairs[start:start + CONFLICT_CHUNK]
        for r in session.execute(
            select(READINGS.c.device_id, READINGS.c.ts_ms, *columns).where(
                READINGS.c.facility_id == facility_id, key.in_(chunk))
        ):
            stored[(r[0], r[1])] = dict(zip(COMPARED, r[2:], strict=True))
    if not stored:
        return []
    events = []
    values = {name: cols.column(name) for name in COMPARED}
    for k, pair in enumerate(pairs):
        old = stored.get(pair)
        if old is None:
            continue
        new = {name: (None if np.isnan(v[k]) else float(v[k]))
               for name, v in values.items()}
        found = quality.conflict(pair[1], pair[0], old, new)
        if found is not None:
            events.append(found)
    return events


def _power_only(cols: ReadingColumns) -> bool:
    """No register in the batch: its preparation can run on columns."""
    return all(np.isnan(cols.column(name)).all() for name in REGISTER_FIELDS)


def _store_facility(
    session: Session, facility: FacilityInfo, cols: ReadingColumns,
    result: IngestResult,
) -> list[Event]:
    """Store one facility's columns; returns their events: unlikely values of new
    readings (as booked, energies from power and registers included), and
    conflicting duplicates.

    Only a duplicate can conflict, so the stored values are compared only when
    the writer found one (after the insert a new reading equals itself, and a
    duplicate is compared with the reading kept: the first).
    """
    if _power_only(cols) and cols.needs_preparation():
        lock_facility(session, facility.id)  # the previous readings must hold still
        prepared = prepare_power_columns(session, facility, cols)
        if prepared is not None:  # else the writer prepares row by row
            cols = prepared
    stored = store_columns(session, facility, cols)
    result.accepted += stored.accepted
    result.duplicates += stored.duplicates
    result.alerts += stored.alerts
    events = [(facility.id, e) for e in stored.unlikely]
    if not stored.duplicates:
        return events
    return events + [(facility.id, e) for e in _conflicts(session, facility.id, cols)]


def _record(session: Session, pending: Iterable[Event], now_ms: int) -> None:
    by_facility: dict[int | None, list[QualityEvent]] = {}
    for facility_id, event in pending:
        by_facility.setdefault(facility_id, []).append(event)
    for facility_id, group in by_facility.items():
        quality_log.record(session, facility_id, group, now_ms=now_ms)


def ingest_readings(
    database_url: str | None,
    batches: Mapping[int, Sequence[dict[str, Any]]],
    events: Iterable[Event] = (),
    *,
    now_s: float | None = None,
    deliveries: Sequence[int] = (),
) -> dict[int, IngestResult]:
    """Validate, prepare and store reading bodies of several facilities at once.

    One write transaction for the whole batch (MQTT acknowledges only after it
    commits); every body is held to the sensor API's validation; a refused body
    becomes a ``malformed`` event and never costs the others. ``events``
    (decoding problems, unbound topics) are recorded in the same transaction.
    When the database refuses the batch itself (a value its driver will not
    take), each facility's readings are stored one at a time (in savepoints of
    one transaction), and the refused ones become ``malformed`` events too.
    ``deliveries``: identities of the MQTT messages dated at receipt, committed
    with their readings on either path (see :func:`committed_deliveries`).
    """
    now_s = time.time() if now_s is None else now_s
    now_ms = int(now_s * 1000)
    pending: list[Event] = list(events)
    results: dict[int, IngestResult] = {}
    prepared: dict[int, tuple[Sequence[Any], ReadingColumns]] = {}
    for facility_id, bodies in batches.items():
        result = results[facility_id] = IngestResult()
        cols, rejected = _columns(bodies, facility_id, now_s)
        for index, details in rejected:
            result.rejected.append({"index": index, "details": details})
            pending.append((facility_id, QualityEvent(
                now_ms, quality.MALFORMED, _device_of(bodies[index]),
                _detail(details))))
        prepared[facility_id] = (bodies, cols)
    try:
        with session_scope(database_url, write=True) as session:
            for facility_id, (_, cols) in prepared.items():
                facility = load_info(session, facility_id)
                if facility is not None and len(cols):
                    pending += _store_facility(session, facility, cols,
                                               results[facility_id])
            _record(session, pending, now_ms)
            delivery_store.record(session, deliveries, now_ms, DELIVERY_KEEP_MS)
        return results
    except ROW_REFUSALS as exc:
        logger.warning("the database refused a batch (%s); storing reading by "
                       "reading", type(exc).__name__)
    return _one_by_one(database_url, prepared, events, results, now_ms, deliveries)


def committed_deliveries(
    database_url: str | None, identities: Sequence[int]
) -> set[int]:
    """Which MQTT message identities were committed (within the last hour)."""
    with session_scope(database_url) as session:
        return delivery_store.recorded(session, identities)


def _one_by_one(
    database_url: str | None,
    prepared: Mapping[int, tuple[Sequence[Any], ReadingColumns]],
    events: Iterable[Event],
    results: dict[int, IngestResult],
    now_ms: int,
    deliveries: Sequence[int] = (),
) -> dict[int, IngestResult]:
    """The slow path after a refusal: each reading in a savepoint of its own.

    A refused reading rolls back only its savepoint; the readings, their events
    and the message identities commit together, as on the fast path. A reading
    of its own transaction would be committed without its message's identity,
    and a subscriber killed before the last one would book it again when the
    broker redelivers the message.
    """
    pending: list[Event] = list(events)
    with session_scope(database_url, write=True) as session:
        for facility_id, (bodies, cols) in prepared.items():
            result = results[facility_id]
            result.accepted = result.duplicates = 0
            result.alerts = []
            pending += [(facility_id, QualityEvent(
                now_ms, quality.MALFORMED, _device_of(bodies[r["index"]]),
                _detail(r["details"]))) for r in result.rejected]
            facility = load_info(session, facility_id)
            if facility is None:
                continue
            for k in range(len(cols)):
                pending += _one(session, facility, cols.take(np.array([k])),
                                result, now_ms)
        _record(session, pending, now_ms)
        delivery_store.record(session, deliveries, now_ms, DELIVERY_KEEP_MS)
    return results


def _one(
    session: Session, facility: FacilityInfo, one: ReadingColumns,
    result: IngestResult, now_ms: int,
) -> list[Event]:
    """Store one reading with its events in a savepoint; counted once it holds.
    Returns the refusal event when the database refuses it."""
    stored = IngestResult()
    try:
        with session.begin_nested():
            found = _store_facility(session, facility, one, stored)
            _record(session, found, now_ms)
    except ROW_REFUSALS:
        return [(facility.id, QualityEvent(
            int(one.ts_ms[0]), quality.MALFORMED, str(one.device_id[0])[:64],
            f"reading: {REFUSED}"))]
    result.accepted += stored.accepted
    result.duplicates += stored.duplicates
    result.alerts += stored.alerts
    return []


def newest_reading_ts(
    database_url: str | None, facility_id: int, device_id: str
) -> int | None:
    """Timestamp of a device's newest reading [UTC epoch ms] (where an uploader
    resumes)."""
    with session_scope(database_url) as session:
        value = session.execute(
            select(func.max(READINGS.c.ts_ms)).where(
                READINGS.c.facility_id == facility_id,
                READINGS.c.device_id == device_id)
        ).scalar()
    return None if value is None else int(value)
