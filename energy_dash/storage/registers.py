"""Device registers, and the preparation of register- and power-fed readings.

:func:`prepare_rows` is the one place where a validated reading that carries a
cumulative register (``energy_consumed_total`` / ``energy_produced_total``) or a
power (``power_consumed`` / ``power_produced``) gets its interval energies and,
when left out, its ``current_load``. ``storage.readings.store_one`` and
``store_many`` call it, so every way in (HTTP single and bulk, MQTT, line
protocol, CSV, ``data.write_readings``) books registers the same way. The rules
themselves are in :mod:`energy_dash.domain.registers`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from energy_dash.db.models import DeviceRegister, Reading, ReadingRollup
from energy_dash.db.statements import BUCKET_MS
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.registers import (
    INTERVAL_CAP,
    SPIKE,
    Baseline,
    book_registers,
    energy_kwh,
    load_pct,
    reading_interval_s,
)
from energy_dash.domain.validation import (
    READING_FIELDS,
    ReadingColumns,
    physical_limit_kwh,
)

logger = logging.getLogger(__name__)

TABLE = DeviceRegister.__table__
READINGS = Reading.__table__
ROLLUPS = ReadingRollup.__table__

WINDOW = 200
"""Readings after the last settled one that a new register is booked against."""
REGISTERS = (
    ("energy_consumed_total", "energy_consumed", "consumed"),
    ("energy_produced_total", "energy_produced", "produced"),
)
POWERS = (("power_consumed", "energy_consumed"), ("power_produced", "energy_produced"))
EXTRA_FIELDS = ("energy_consumed_total", "energy_produced_total", "power_consumed",
                "power_produced")


def window(
    conn: Connection | Session,
    facility_id: int,
    device_id: str,
    register: str,
    from_ms: int,
) -> tuple[tuple | None, list[tuple]]:
    """The settled register before ``from_ms`` and every stored one from there.

    Returns ``(anchor, rows)``: ``anchor`` is ``(ts_ms, total_kwh)`` of the last
    settled baseline register before ``from_ms``, ``rows`` are ``(ts_ms,
    total_kwh, booked_kwh, final, baseline)`` after the anchor, oldest first.
    """
    key = (TABLE.c.facility_id == facility_id, TABLE.c.device_id == device_id,
           TABLE.c.register == register)
    anchor = conn.execute(
        select(TABLE.c.ts_ms, TABLE.c.total_kwh)
        .where(*key, TABLE.c.ts_ms < from_ms, TABLE.c.final.is_(True),
               TABLE.c.baseline.is_(True))
        .order_by(TABLE.c.ts_ms.desc()).limit(1)
    ).first()
    stmt = select(TABLE.c.ts_ms, TABLE.c.total_kwh, TABLE.c.booked_kwh,
                  TABLE.c.final, TABLE.c.baseline)
    stmt = stmt.where(*key)
    if anchor is not None:
        stmt = stmt.where(TABLE.c.ts_ms > anchor[0])
    rows = conn.execute(stmt.order_by(TABLE.c.ts_ms).limit(WINDOW * 5)).all()
    return (tuple(anchor) if anchor else None), [tuple(r) for r in rows]


def insert_new(
    conn: Connection | Session, rows: Iterable[dict]
) -> None:
    """Insert register rows (callers skip timestamps already stored)."""
    rows = list(rows)
    if rows:
        conn.execute(TABLE.insert(), rows)


def set_bookings(
    conn: Connection | Session,
    facility_id: int,
    device_id: str,
    register: str,
    changes: Iterable[tuple[int, float | None, bool, bool]],
) -> None:
    """Store ``(ts_ms, booked_kwh, final, baseline)`` for registers already stored."""
    for ts_ms, booked, final, baseline in changes:
        conn.execute(
            update(TABLE).where(
                TABLE.c.facility_id == facility_id, TABLE.c.device_id == device_id,
                TABLE.c.register == register, TABLE.c.ts_ms == ts_ms,
            ).values(booked_kwh=booked, final=final, baseline=baseline)
        )


def rebook_reading(
    conn: Connection | Session,
    facility_id: int,
    device_id: str,
    ts_ms: int,
    energy_field: str,
    energy: float,
    *,
    load_over: tuple[float, float | None] | None = None,
) -> None:
    """Set a stored reading's interval energy anew and move its rollup with it.

    A late backfill or a resolved glitch changes what an earlier reading booked;
    the 15-minute rollup gets the difference (its reading count stays). With
    ``load_over = (interval_s, capacity_kw)`` a consumption's load that the
    server derived from the old energy (it equals that derivation) follows the
    new one; a load the device sent stays.
    """
    key = (READINGS.c.facility_id == facility_id, READINGS.c.device_id == device_id,
           READINGS.c.ts_ms == ts_ms)
    row = conn.execute(
        select(READINGS.c.energy_produced, READINGS.c.energy_consumed,
               READINGS.c.current_load).where(*key)
    ).first()
    if row is None:
        return
    produced, consumed, load = float(row[0]), float(row[1]), float(row[2])
    old = produced if energy_field == "energy_produced" else consumed
    if energy_field == "energy_produced":
        new_pair = (energy, consumed)
    else:
        new_pair = (produced, energy)
    values: dict[str, float] = {energy_field: energy}
    new_load = load
    if load_over is not None and energy_field == "energy_consumed":
        interval_s, capacity = load_over
        if abs(load - load_pct(old * 3600.0 / interval_s, capacity)) < 1e-9:
            new_load = load_pct(energy * 3600.0 / interval_s, capacity)
            values["current_load"] = new_load
    conn.execute(update(READINGS).where(*key).values(values))
    sums = ROLLUPS.c[f"{energy_field}_sum"]
    conn.execute(
        update(ROLLUPS).where(
            ROLLUPS.c.facility_id == facility_id,
            ROLLUPS.c.bucket_ms == ts_ms // BUCKET_MS * BUCKET_MS,
        ).values({
            sums: sums + (energy - old),
            ROLLUPS.c.current_load_sum: ROLLUPS.c.current_load_sum + (new_load - load),
            ROLLUPS.c.self_supplied: ROLLUPS.c.self_supplied
            + (min(new_pair) - min(produced, consumed)),
        })
    )


def needs_preparation(row: Mapping[str, Any]) -> bool:
    """True when a validated row lacks an interval energy or its load, or has a
    register or a power that the energies must come from."""
    get = row.get
    return (
        get("energy_consumed") is None or get("energy_produced") is None
        or get("current_load") is None
        or any(get(name) is not None for name in EXTRA_FIELDS)
    )


def _previous_ts(
    session: Session, facility: FacilityInfo, device: str, before: int
) -> int | None:
    """The device's newest reading time before ``before`` [ms], or None.

    Looked for within the interval cap first: on PostgreSQL that bounded range is
    planned on the one or two monthly partitions it touches, where the open one
    is planned on every partition. Only a new device, or one back from a gap,
    pays for the open look-up as well; the answer is the same either way.
    """
    newest = select(func.max(READINGS.c.ts_ms)).where(
        READINGS.c.facility_id == facility.id, READINGS.c.device_id == device,
        READINGS.c.ts_ms < before)
    recent_ms = int(INTERVAL_CAP * facility.expected_interval_s * 1000)
    recent = newest.where(READINGS.c.ts_ms >= before - recent_ms)
    value = session.execute(recent).scalar()
    if value is None:
        value = session.execute(newest).scalar()
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
        previous = _previous_ts(session, facility, device, items[0]["ts_ms"])
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
            events += _fill(row, interval, facility)
            ready.append(row)
    return ready, events


def _fill(
    row: dict[str, Any], interval_s: float, facility: FacilityInfo
) -> list[QualityEvent]:
    """Energies from power, the rest 0, and the load; an energy from power meets
    the physical bound of a posted one (the ingest path logs the unlikely ones
    from the filled row, as it does for a posted energy)."""
    derived = []
    for power_field, energy_field in POWERS:
        if row.get(energy_field) is None and row.get(power_field) is not None:
            row[energy_field] = energy_kwh(row[power_field], interval_s)
            derived.append(energy_field)
    events = _power_bounds(row, derived, facility) if derived else []
    for _, energy_field in POWERS:
        if row.get(energy_field) is None:
            row[energy_field] = 0.0  # a device that meters one direction only
    if row.get("current_load") is None:
        power = row.get("power_consumed")
        if power is None:
            power = row["energy_consumed"] * 3600.0 / interval_s
        row["current_load"] = load_pct(power, facility.capacity_kw)
    return events


def _power_bounds(
    row: dict[str, Any], derived: list[str], facility: FacilityInfo
) -> list[QualityEvent]:
    span_s, limit = physical_limit_kwh(facility)
    events = []
    for name in derived:
        if row[name] > limit:
            events.append(QualityEvent(row["ts_ms"], SPIKE, row.get("device_id"),
                                       f"{name} {row[name]:g} kWh from power implies "
                                       f"more than 1 GW over {span_s} s (not booked)"))
            row[name] = 0.0
    return events


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
    anchor, stored = window(session, facility.id, device, register,
                                           from_ms)
    stored_by_ts = {r[0]: r for r in stored}
    fresh = {r["ts_ms"]: r for r in new_rows if r["ts_ms"] not in stored_by_ts}
    series = [(r[0], r[1]) for r in stored]
    series += [(ts, r[total_field]) for ts, r in fresh.items()]
    bookings = book_registers(
        series, capacity_kw=facility.capacity_kw,
        baseline=Baseline(*anchor) if anchor else None,
        max_kwh=physical_limit_kwh(facility)[1],
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
                            "final": b.final, "baseline": b.baseline})
            if event and (b.final or b.event == SPIKE):
                events.append(event)
            continue
        _, _, old_booked, old_final, old_baseline = stored_by_ts[b.ts_ms]
        if (old_booked, old_final, old_baseline) == (booked, b.final, b.baseline):
            continue
        changes.append((b.ts_ms, booked, b.final, b.baseline))
        if (old_booked or 0.0) != (booked or 0.0):
            before = _previous_ts(session, facility, device, b.ts_ms)
            interval = reading_interval_s(before, b.ts_ms, facility.expected_interval_s)
            rebook_reading(session, facility.id, device, b.ts_ms, energy_field,
                           booked or 0.0, load_over=(interval, facility.capacity_kw))
        if event and b.final and not old_final and b.event != SPIKE:
            events.append(event)
    insert_new(session, inserts)
    set_bookings(session, facility.id, device, register, changes)
    return events


def prepare_power_columns(
    session: Session, facility: FacilityInfo, cols: ReadingColumns
) -> ReadingColumns | None:
    """:func:`prepare_rows` on columns, for a batch with power but no register.

    Line protocol sends power (IoTaWatt's watts) thousands of points at a time;
    turning them into row dicts and back costs more than storing them. The same
    rules, in the same float arithmetic, on arrays: a reading's interval is the
    time since the device's previous reading (in the database, else in the batch)
    capped by :func:`~energy_dash.domain.registers.reading_interval_s`, its
    energy :func:`~energy_dash.domain.registers.energy_kwh`, its load the power
    over the capacity. Returns the stored fields only, in the input order; or
    ``None`` when an energy from power would pass the physical bound, which is
    for :func:`prepare_rows` to judge.
    """
    if any(not np.isnan(cols.column(total)).all() for total, _, _ in REGISTERS):
        raise ValueError("registers are booked by prepare_rows")
    n = len(cols)
    expected = float(facility.expected_interval_s)
    cap = INTERVAL_CAP * expected
    intervals = np.full(n, expected)
    values = {name: cols.column(name).copy() for name in READING_FIELDS}
    needs = np.zeros(n, dtype=bool)
    for name in ("energy_consumed", "energy_produced", "current_load"):
        needs |= np.isnan(values[name])
    for name in EXTRA_FIELDS:
        needs |= ~np.isnan(cols.column(name))
    codes, devices = pd.factorize(cols.device_id)
    for code, device in enumerate(devices.tolist()):
        mine = np.flatnonzero(codes == code)
        if not needs[mine].any():
            continue  # prepare_rows leaves such a device alone
        mine = mine[np.argsort(cols.ts_ms[mine], kind="stable")]
        ts = cols.ts_ms[mine]
        before = _previous_ts(session, facility, device, int(ts[0]))
        previous = np.empty(len(ts), dtype=np.int64)
        previous[1:] = ts[:-1]
        previous[0] = ts[0] if before is None else before
        later = ts > previous
        intervals[mine] = np.where(later, np.minimum((ts - previous) / 1000.0, cap),
                                   expected)
    for power_field, energy_field in POWERS:
        energy = values[energy_field]
        power = cols.column(power_field)
        fill = np.isnan(energy) & ~np.isnan(power)
        energy[fill] = power[fill] * intervals[fill] / 3600.0
        if (energy[fill] > physical_limit_kwh(facility)[1]).any():
            return None
        energy[np.isnan(energy)] = 0.0  # a device that meters one direction only
    load = values["current_load"]
    missing = np.isnan(load)
    if missing.any():
        power = cols.column("power_consumed")
        power = np.where(np.isnan(power),
                         values["energy_consumed"] * 3600.0 / intervals, power)
        capacity = facility.capacity_kw or 0.0
        derived = (power / capacity * 100.0 if capacity > 0
                   else np.zeros(n))
        load[missing] = np.minimum(np.maximum(derived[missing], 0.0), 100.0)
    return ReadingColumns(cols.ts_ms, cols.device_id, values)
