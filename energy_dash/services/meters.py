"""Decoded MQTT and line-protocol readings stored through the sensor API's rules.

Batches of several facilities are validated, checked for conflicting duplicates
and stored in one transaction (registers and power are booked by
``storage.readings``, through ``storage.registers.prepare_rows``), and the
data-quality events of the batch are recorded in the same transaction.
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
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.validation import validate_reading
from energy_dash.services import quality as quality_log
from energy_dash.storage import readings as reading_store
from energy_dash.storage.facilities import load_info

logger = logging.getLogger(__name__)

COMPARED = ("energy_consumed", "energy_produced", "voltage", "current")
READINGS = Reading.__table__


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
            stored = reading_store.store_many(session, facility, rows)
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
