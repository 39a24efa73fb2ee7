"""Meters feeding a facility: registers and power become interval energy, and
decoded MQTT / line-protocol readings are stored through the sensor API's rules.

:func:`prepare_rows` is the one place where a validated reading that carries a
cumulative register (``energy_consumed_total`` / ``energy_produced_total``) or a
power (``power_consumed`` / ``power_produced``) gets its interval energies and,
when it was left out, its ``current_load``. Every way in calls it: the HTTP
sensor API (single and bulk), MQTT, line protocol, CSV and ``data.write_readings``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from energy_dash.db import session_scope
from energy_dash.db.models import Reading
from energy_dash.domain import quality
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.registers import (
    SPIKE,
    Baseline,
    book_registers,
    energy_kwh,
    reading_interval_s,
)
from energy_dash.domain.validation import validate_reading
from energy_dash.services import quality as quality_log
from energy_dash.storage import readings as reading_store
from energy_dash.storage import registers as register_store
from energy_dash.storage.facilities import load_info

logger = logging.getLogger(__name__)

REGISTERS = (
    ("energy_consumed_total", "energy_consumed", "consumed"),
    ("energy_produced_total", "energy_produced", "produced"),
)
POWERS = (("power_consumed", "energy_consumed"), ("power_produced", "energy_produced"))
EXTRA_FIELDS = ("energy_consumed_total", "energy_produced_total", "power_consumed",
                "power_produced")
COMPARED = ("energy_consumed", "energy_produced", "voltage", "current")
READINGS = Reading.__table__


def needs_preparation(row: Mapping[str, Any]) -> bool:
    """True when a validated row lacks an interval energy or its load, or has a
    register or a power that the energies must come from."""
    get = row.get
    return (
        get("energy_consumed") is None or get("energy_produced") is None
        or get("current_load") is None
        or any(get(name) is not None for name in EXTRA_FIELDS)
    )


def _previous_ts(session: Session, facility_id: int, device: str, before: int):
    value = session.execute(
        select(func.max(READINGS.c.ts_ms)).where(
            READINGS.c.facility_id == facility_id, READINGS.c.device_id == device,
            READINGS.c.ts_ms < before)
    ).scalar()
    return None if value is None else int(value)


def prepare_rows(
    session: Session, facility: FacilityInfo, rows: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[QualityEvent]]:
    """Fill interval energies and load from registers and power, device by device.

    Registers are booked in timestamp order against what the device sent before
    (a late backfill lands in its place and re-books the reading after it);
    glitches, resets and spikes come back as data-quality events. A power is
    integrated over the reading's interval (time since the device's previous
    reading, capped at twice the expected one). Rows that need nothing pass
    through unchanged. Returns ``(rows, events)``.
    """
    by_device: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_device.setdefault(row["device_id"], []).append(row)
    ready: list[dict[str, Any]] = []
    events: list[QualityEvent] = []
    for device, items in by_device.items():
        items.sort(key=lambda r: r["ts_ms"])
        if not any(needs_preparation(r) for r in items):
            ready += items
            continue
        previous = _previous_ts(session, facility.id, device, items[0]["ts_ms"])
        intervals = []
        for row in items:
            intervals.append(reading_interval_s(
                previous, row["ts_ms"], facility.expected_interval_s))
            previous = max(previous or row["ts_ms"], row["ts_ms"])
        for total_field, energy_field, register in REGISTERS:
            with_total = [r for r in items if r.get(total_field) is not None]
            if with_total:
                events += _book(session, facility, device, register, energy_field,
                                total_field, with_total)
        for row, interval in zip(items, intervals, strict=True):
            _fill(row, interval, facility)
            ready.append(row)
    return ready, events


def _fill(row: dict[str, Any], interval_s: float, facility: FacilityInfo) -> None:
    for power_field, energy_field in POWERS:
        if row.get(energy_field) is None and row.get(power_field) is not None:
            row[energy_field] = energy_kwh(row[power_field], interval_s)
    for _, energy_field in POWERS:
        if row.get(energy_field) is None:
            row[energy_field] = 0.0  # a device that meters one direction only
    if row.get("current_load") is None:
        power = row.get("power_consumed")
        if power is None:
            power = row["energy_consumed"] * 3600.0 / interval_s
        capacity = facility.capacity_kw or 0.0
        load = power / capacity * 100.0 if capacity > 0 else 0.0
        row["current_load"] = min(max(load, 0.0), 100.0)


def _book(
    session: Session,
    facility: FacilityInfo,
    device: str,
    register: str,
    energy_field: str,
    total_field: str,
    new_rows: list[dict[str, Any]],
) -> list[QualityEvent]:
    """Book one register of one device; re-book stored readings that changed."""
    from_ms = min(r["ts_ms"] for r in new_rows)
    anchor, stored = register_store.window(session, facility.id, device, register,
                                           from_ms)
    stored_by_ts = {r[0]: r for r in stored}
    fresh = {r["ts_ms"]: r for r in new_rows if r["ts_ms"] not in stored_by_ts}
    series = [(r[0], r[1]) for r in stored]
    series += [(ts, r[total_field]) for ts, r in fresh.items()]
    bookings = book_registers(
        series, capacity_kw=facility.capacity_kw,
        baseline=Baseline(*anchor) if anchor else None,
    )
    events: list[QualityEvent] = []
    inserts, changes = [], []
    for b in bookings:
        booked = b.energy_kwh
        event = QualityEvent(b.ts_ms, b.event, device, b.detail) if b.event else None
        row = fresh.get(b.ts_ms)
        if row is not None:
            if row.get(energy_field) is None:
                row[energy_field] = booked if booked is not None else 0.0
            inserts.append({"facility_id": facility.id, "device_id": device,
                            "register": register, "ts_ms": b.ts_ms,
                            "total_kwh": b.total_kwh, "booked_kwh": booked,
                            "final": b.final})
            if event and (b.final or b.event == SPIKE):
                events.append(event)
            continue
        _, _, old_booked, old_final = stored_by_ts[b.ts_ms]
        if old_booked == booked and old_final == b.final:
            continue
        changes.append((b.ts_ms, booked, b.final))
        if (old_booked or 0.0) != (booked or 0.0):
            register_store.rebook_reading(session, facility.id, device, b.ts_ms,
                                          energy_field, booked or 0.0)
        if event and b.final and not old_final and b.event != SPIKE:
            events.append(event)
    register_store.insert_new(session, inserts)
    register_store.set_bookings(session, facility.id, device, register, changes)
    return events


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


def _conflicts(
    session: Session, facility_id: int, rows: Sequence[dict[str, Any]]
) -> list[QualityEvent]:
    """Rows whose device and timestamp are stored already, with other values."""
    if not rows:
        return []
    stamps = [r["ts_ms"] for r in rows]
    columns = [READINGS.c[name] for name in COMPARED]
    stored = {
        (r[0], r[1]): dict(zip(COMPARED, r[2:], strict=True))
        for r in session.execute(
            select(READINGS.c.device_id, READINGS.c.ts_ms, *columns).where(
                READINGS.c.facility_id == facility_id,
                READINGS.c.ts_ms >= min(stamps), READINGS.c.ts_ms <= max(stamps),
                READINGS.c.device_id.in_({r["device_id"] for r in rows}))
        )
    }
    events = []
    for row in rows:
        old = stored.get((row["device_id"], row["ts_ms"]))
        if old is not None:
            found = quality.conflict(row["ts_ms"], row["device_id"], old,
                                     {k: row.get(k) for k in COMPARED})
            if found is not None:
                events.append(found)
    return events


def ingest_readings(
    database_url: str | None,
    batches: Mapping[int, Sequence[dict[str, Any]]],
    events: Iterable[tuple[int | None, QualityEvent]] = (),
    *,
    now_s: float | None = None,
) -> dict[int, IngestResult]:
    """Validate, prepare and store reading bodies of several facilities at once.

    One write transaction for the whole batch (MQTT acknowledges only after it
    commits); every body goes through the sensor API's validation; a refused
    body becomes a ``malformed`` event and never costs the others. ``events``
    (decoding problems, unbound topics) are recorded in the same transaction.
    """
    now_s = time.time() if now_s is None else now_s
    now_ms = int(now_s * 1000)
    pending: list[tuple[int | None, QualityEvent]] = list(events)
    results: dict[int, IngestResult] = {}
    with session_scope(database_url, write=True) as session:
        for facility_id, bodies in batches.items():
            result = results[facility_id] = IngestResult()
            facility = load_info(session, facility_id)
            if facility is None:
                continue
            rows = []
            for index, body in enumerate(bodies):
                row, details = validate_reading(body, now_s=now_s)
                if row is None:
                    result.rejected.append({"index": index, "details": details})
                    device = body.get("device_id") if isinstance(body, dict) else None
                    pending.append((facility_id, QualityEvent(
                        now_ms, quality.MALFORMED,
                        device if isinstance(device, str) else None,
                        _detail(details))))
                    continue
                if row["ts_ms"] is None:
                    row["ts_ms"] = now_ms
                if row["device_id"] is None:
                    row["device_id"] = "mqtt"
                rows.append(row)
            pending += [(facility_id, e) for e in _conflicts(session, facility_id,
                                                             rows)]
            ready, found = prepare_rows(session, facility, rows)
            pending += [(facility_id, e) for e in found]
            stored = reading_store.store_many(session, facility, ready)
            result.accepted = stored.accepted
            result.duplicates = stored.duplicates
            result.alerts = stored.alerts
        by_facility: dict[int | None, list[QualityEvent]] = {}
        for facility_id, event in pending:
            by_facility.setdefault(facility_id, []).append(event)
        for facility_id, group in by_facility.items():
            quality_log.record(session, facility_id, group, now_ms=now_ms)
    return results


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
