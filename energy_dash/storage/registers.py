"""Device registers: the cumulative values behind register-fed readings."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from energy_dash.models import DeviceRegister, Reading, ReadingRollup

logger = logging.getLogger(__name__)

TABLE = DeviceRegister.__table__
READINGS = Reading.__table__
ROLLUPS = ReadingRollup.__table__
BUCKET_MS = 900_000
WINDOW = 200
"""Readings after the last settled one that a new register is booked against."""


def window(
    conn: Connection | Session,
    facility_id: int,
    device_id: str,
    register: str,
    from_ms: int,
) -> tuple[tuple | None, list[tuple]]:
    """The settled register before ``from_ms`` and every stored one from there.

    Returns ``(anchor, rows)``: ``anchor`` is ``(ts_ms, total_kwh)`` of the last
    final, booked register before ``from_ms`` (the baseline), ``rows`` are
    ``(ts_ms, total_kwh, booked_kwh, final)`` after the anchor, oldest first.
    """
    key = (TABLE.c.facility_id == facility_id, TABLE.c.device_id == device_id,
           TABLE.c.register == register)
    anchor = conn.execute(
        select(TABLE.c.ts_ms, TABLE.c.total_kwh)
        .where(*key, TABLE.c.ts_ms < from_ms, TABLE.c.final.is_(True),
               TABLE.c.booked_kwh.is_not(None))
        .order_by(TABLE.c.ts_ms.desc()).limit(1)
    ).first()
    stmt = select(TABLE.c.ts_ms, TABLE.c.total_kwh, TABLE.c.booked_kwh, TABLE.c.final)
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
    changes: Iterable[tuple[int, float | None, bool]],
) -> None:
    """Store ``(ts_ms, booked_kwh, final)`` for registers already stored."""
    for ts_ms, booked, final in changes:
        conn.execute(
            update(TABLE).where(
                TABLE.c.facility_id == facility_id, TABLE.c.device_id == device_id,
                TABLE.c.register == register, TABLE.c.ts_ms == ts_ms,
            ).values(booked_kwh=booked, final=final)
        )


def rebook_reading(
    conn: Connection | Session,
    facility_id: int,
    device_id: str,
    ts_ms: int,
    energy_field: str,
    energy: float,
) -> None:
    """Set a stored reading's interval energy anew and move its rollup with it.

    A late backfill or a resolved glitch changes what an earlier reading booked;
    the 15-minute rollup gets the difference (its reading count stays).
    """
    key = (READINGS.c.facility_id == facility_id, READINGS.c.device_id == device_id,
           READINGS.c.ts_ms == ts_ms)
    row = conn.execute(
        select(READINGS.c.energy_produced, READINGS.c.energy_consumed).where(*key)
    ).first()
    if row is None:
        return
    produced, consumed = float(row[0]), float(row[1])
    old = produced if energy_field == "energy_produced" else consumed
    if energy_field == "energy_produced":
        new_pair = (energy, consumed)
    else:
        new_pair = (produced, energy)
    conn.execute(update(READINGS).where(*key).values({energy_field: energy}))
    sums = ROLLUPS.c[f"{energy_field}_sum"]
    conn.execute(
        update(ROLLUPS).where(
            ROLLUPS.c.facility_id == facility_id,
            ROLLUPS.c.bucket_ms == ts_ms // BUCKET_MS * BUCKET_MS,
        ).values({
            sums: sums + (energy - old),
            ROLLUPS.c.self_supplied: ROLLUPS.c.self_supplied
            + (min(new_pair) - min(produced, consumed)),
        })
    )
