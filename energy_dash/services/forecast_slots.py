"""The bookkeeping of forecast refresh slots: one ``forecast_tasks`` row per fit.

Whoever runs a fit (a Celery worker, or the scheduler's own process without a
broker) marks its row running, then done, skipped or failed, with how long it
took; ``energy-dash forecast --status`` and /settings read the last slot here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from energy_dash.db import session_scope
from energy_dash.db.models import ForecastTask, utc

logger = logging.getLogger(__name__)

TARGETS = ("consumption", "production")
STATUSES = ("queued", "running", "done", "skipped", "failed")
BROKER_DOWN = "broker unreachable"
"""How a row's message starts when its fit ran in the scheduler's process
because the broker did not take the task."""


def _insert_ignore(dialect: str):
    module = sqlite if dialect == "sqlite" else postgresql
    return module.insert(ForecastTask).on_conflict_do_nothing(
        index_elements=["facility_id", "target", "slot"]
    )


def claim(
    url: str, facility_id: int, target: str, slot: datetime, worker: str
) -> int | None:
    """Mark the fit running; None when it already finished (nothing to redo)."""
    with session_scope(url, write=True) as session:
        session.execute(  # published without a row (an older scheduler): add one
            _insert_ignore(session.get_bind().dialect.name).values(
                facility_id=facility_id, target=target, slot=slot,
                status="queued", attempts=0, queued_at=datetime.now(UTC),
            )
        )
        row = session.execute(
            select(ForecastTask)
            .where(
                ForecastTask.facility_id == facility_id,
                ForecastTask.target == target,
                ForecastTask.slot == slot,
            )
            .with_for_update()
        ).scalar_one()
        if row.status in ("done", "skipped"):
            return None
        row.status = "running"
        row.attempts += 1
        row.started_at = datetime.now(UTC)
        row.worker = worker[:128]
        return row.id


def finish(url: str, task_id: int, status: str, message: str, duration: float) -> None:
    with session_scope(url, write=True) as session:
        session.execute(
            update(ForecastTask)
            .where(ForecastTask.id == task_id)
            .values(
                status=status, message=message[:2000], duration_s=duration,
                finished_at=datetime.now(UTC),
            )
        )


def queue_rows(url: str, slot: datetime) -> list[tuple[int, str]]:
    """One ``queued`` row per facility and target of the slot (kept if present)."""
    from energy_dash.services.facilities import facility_ids

    ids = facility_ids(database_url=url)
    now = datetime.now(UTC)
    rows = [
        {"facility_id": fid, "target": target, "slot": slot, "status": "queued",
         "attempts": 0, "queued_at": now}
        for fid in ids for target in TARGETS
    ]
    if rows:
        with session_scope(url, write=True) as session:
            session.execute(_insert_ignore(session.get_bind().dialect.name), rows)
    return [(row["facility_id"], row["target"]) for row in rows]


def stalled(url: str, slot: datetime, queued_before: datetime
            ) -> list[tuple[int, str]]:
    """(facility, target) of the slot's rows still queued since before
    ``queued_before``."""
    with session_scope(url) as session:
        return [(int(f), str(t)) for f, t in session.execute(
            select(ForecastTask.facility_id, ForecastTask.target).where(
                ForecastTask.slot == utc(slot), ForecastTask.status == "queued",
                ForecastTask.queued_at < queued_before))]


def mark_requeued(url: str, slot: datetime, pairs: list[tuple[int, str]]) -> None:
    """Queued again now: the next sweep waits its whole grace time for them."""
    with session_scope(url, write=True) as session:
        for fid, target in pairs:
            session.execute(
                update(ForecastTask)
                .where(ForecastTask.facility_id == fid, ForecastTask.target == target,
                       ForecastTask.slot == utc(slot),
                       ForecastTask.status == "queued")
                .values(queued_at=datetime.now(UTC))
            )


def mark_fallback(
    url: str, slot: datetime, pairs: list[tuple[int, str]], note: str
) -> None:
    """Note on rows the broker did not take why they are fitted in-process.

    Written before the fits start, so a status read meanwhile already says it.
    """
    if not pairs:
        return
    with session_scope(url, write=True) as session:
        for fid, target in pairs:
            session.execute(
                update(ForecastTask)
                .where(
                    ForecastTask.facility_id == fid,
                    ForecastTask.target == target,
                    ForecastTask.slot == utc(slot),
                    ForecastTask.status == "queued",
                )
                .values(message=note[:2000])
            )


def slot_status(
    database_url: str, slot: datetime | None = None
) -> dict[str, Any] | None:
    """The last (or given) slot: counts per status, wall time and per-fit time.

    ``duration_s`` runs from the first task queued to the last one finished
    (still growing while fits are outstanding); ``fit_mean_s`` averages the
    finished fits. ``broker_fallback`` counts the fits the broker refused and
    the scheduler ran itself, ``broker_error`` says why (None when it took
    them all). None when no slot was ever queued.
    """
    cols = ForecastTask
    with session_scope(database_url) as session:
        if slot is None:
            slot = session.execute(select(func.max(cols.slot))).scalar()
            if slot is None:
                return None
        slot = utc(slot)
        counts = dict(
            session.execute(
                select(cols.status, func.count())
                .where(cols.slot == slot)
                .group_by(cols.status)
            ).all()
        )
        first, last, mean, total = session.execute(
            select(
                func.min(cols.queued_at), func.max(cols.finished_at),
                func.avg(cols.duration_s), func.count(),
            ).where(cols.slot == slot)
        ).one()
        fallback, fallback_note = session.execute(
            select(func.count(), func.min(cols.message)).where(
                cols.slot == slot, cols.message.like(f"{BROKER_DOWN}%")
            )
        ).one()
        failures = session.execute(
            select(cols.facility_id, cols.target, cols.message)
            .where(cols.slot == slot, cols.status == "failed")
            .order_by(cols.facility_id, cols.target)
            .limit(10)
        ).all()
    outstanding = counts.get("queued", 0) + counts.get("running", 0)
    end = datetime.now(UTC) if outstanding or last is None else utc(last)
    return {
        "slot": slot,
        "total": int(total),
        **{name: int(counts.get(name, 0)) for name in STATUSES},
        "duration_s": max(0.0, (end - utc(first)).total_seconds()) if first else None,
        "fit_mean_s": float(mean) if mean is not None else None,
        "complete": outstanding == 0,
        "broker_fallback": int(fallback),
        "broker_error": (
            fallback_note.split(", fitted by", 1)[0] if fallback_note else None
        ),
        "failures": [
            {"facility_id": f, "target": t, "message": m} for f, t, m in failures
        ],
    }


def fail_running(
    url: str, facility_id: int, target: str, slot: datetime, message: str
) -> None:
    """Mark a fit that is still running as failed (it was killed)."""
    with session_scope(url, write=True) as session:
        session.execute(
            update(ForecastTask)
            .where(
                ForecastTask.facility_id == facility_id,
                ForecastTask.target == target,
                ForecastTask.slot == utc(slot),
                ForecastTask.status == "running",
            )
            .values(status="failed", finished_at=datetime.now(UTC), message=message)
        )
