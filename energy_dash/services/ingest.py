"""Ingest use cases outside the sensor API's hot path: validate readings with the
API's rules and store them in one write transaction (debug endpoints, demo tools).

The HTTP sensor API (``ingest.api``) keeps its own per-request plumbing (key
cache, rate limit, writer lock) and calls ``energy_dash.storage.readings`` with
the same validation (:func:`energy_dash.domain.validation.validate_reading`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from energy_dash.db import session_scope
from energy_dash.domain.validation import validate_reading
from energy_dash.storage import readings
from energy_dash.storage.facilities import load_info
from energy_dash.storage.readings import BulkResult


@dataclass
class Stored:
    """What happened to one reading: stored (``created``), a duplicate, or refused
    (``details`` name the fields)."""

    created: bool = False
    id: int | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    row: dict[str, Any] | None = None
    details: list[dict[str, str]] = field(default_factory=list)


def store_reading(
    database_url: str | None, facility_id: int, body: dict[str, Any], now_s: float
) -> Stored:
    """Validate one reading body and store it (alerts evaluated)."""
    row, details = validate_reading(body, now_s=now_s)
    if row is None:
        return Stored(details=details)
    with session_scope(database_url, write=True) as session:
        facility = load_info(session, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        created, reading_id, alerts = readings.store_one(session, facility, row)
    return Stored(created=created, id=reading_id, alerts=alerts, row=row)


def store_readings(
    database_url: str | None,
    facility_id: int,
    bodies: Sequence[dict[str, Any]],
    now_s: float,
) -> BulkResult:
    """Validate reading bodies and store the valid ones in one statement."""
    rows = []
    for body in bodies:
        row, _details = validate_reading(body, now_s=now_s)
        if row is not None:
            rows.append(row)
    with session_scope(database_url, write=True) as session:
        facility = load_info(session, facility_id)
        if facility is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return readings.store_many(session, facility, rows)
