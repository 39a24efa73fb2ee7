"""The scheduler clock and its leases: each job runs exactly once per slot however
many workers or hosts run. The work itself is a service (forecast refresh:
``energy_dash.services.forecast_refresh``, fanned out on Celery workers by
``energy_dash.services.tasks``; readings partitions:
``energy_dash.services.maintenance``; offline alerts:
``energy_dash.storage.alerts``; notifications: ``energy_dash.services.notify``).

Every process may start a scheduler (gunicorn workers, several hosts); before a job
runs, its process claims the job's current time slot in ``job_leases`` with one
atomic UPDATE. The first claimant runs the job; the others see the slot taken.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError

from energy_dash.config import Settings
from energy_dash.db import session_scope
from energy_dash.db.models import JobLease
from energy_dash.services.forecast_refresh import (  # noqa: F401 - stays importable
    refresh_forecasts,
)

logger = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
_started: set[int] = set()
_lock = threading.Lock()


def slot_start(now: datetime, interval_s: int) -> datetime:
    """The start of the slot ``now`` falls in (slots are aligned to the epoch)."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval_s, UTC)


def claim_slot(
    database_url: str, name: str, slot: datetime, *, holder: str = HOLDER,
    ttl_s: int = 3600,
) -> bool:
    """True for exactly one caller per (job, slot), across processes and hosts."""
    with session_scope(database_url) as session:
        try:
            with session.begin_nested():
                session.execute(
                    insert(JobLease).values(
                        name=name, holder="", expires_at=slot, last_run_at=None
                    )
                )
        except IntegrityError:
            pass  # the row exists already: the normal case
        claimed = session.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(JobLease.last_run_at.is_(None), JobLease.last_run_at < slot),
            )
            .values(
                holder=holder,
                last_run_at=slot,
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
            )
        )
        return claimed.rowcount == 1


def run_exclusive(
    settings: Settings, name: str, interval_s: int, job: Callable[[], object],
    *, now: datetime | None = None,
) -> bool:
    """Run ``job`` if this process wins the current slot; True when it ran."""
    slot = slot_start(now or datetime.now(UTC), interval_s)
    if not claim_slot(settings.database_url, name, slot):
        logger.debug("job %s: slot %s taken by another worker", name, slot)
        return False
    started = time.perf_counter()
    try:
        job()
    except Exception:  # a failing job must not kill the scheduler thread
        logger.exception("job %s failed", name)
    else:
        logger.info("job %s done in %.1f s", name, time.perf_counter() - started)
    return True


def check_offline_now(settings: Settings, now: datetime | None = None) -> list:
    """Raise or resolve "hardware offline" alerts (see energy_dash.storage.alerts)."""
    from energy_dash.storage.alerts import check_offline

    with session_scope(settings.database_url, write=True) as session:
        events = check_offline(session, now or datetime.now(UTC))
        return [(event, alert.facility_id, alert.id) for event, alert in events]


def deliver_alerts_now(settings: Settings, now: datetime | None = None) -> list:
    """Send owed alert notifications (see energy_dash.services.notify)."""
    from energy_dash.services.notify import deliver_alerts

    with session_scope(settings.database_url, write=True) as session:
        return deliver_alerts(session, settings, now or datetime.now(UTC))


def scheduled_jobs(settings: Settings) -> list[tuple[str, int, Callable[[], object]]]:
    """(name, interval in seconds, callable) of every job this app runs."""
    return [
        ("offline_check", 60, lambda: check_offline_now(settings)),
        ("alert_delivery", 60, lambda: deliver_alerts_now(settings)),
        (
            "forecast_refresh",
            settings.forecast_interval_minutes * 60,
            lambda: refresh_slot_now(settings),
        ),
        (LOST_FITS_JOB, LOST_FITS_INTERVAL_S, lambda: requeue_lost_now(settings)),
        (ANOMALY_JOB, ANOMALY_INTERVAL_S, lambda: check_anomalies_now(settings)),
        (
            PARTITION_JOB,
            PARTITION_INTERVAL_S,
            lambda: maintain_partitions_now(settings),
        ),
        ("quality_check", 15 * 60, lambda: check_quality_now(settings)),
    ]


PARTITION_JOB = "partition_maintenance"
PARTITION_INTERVAL_S = 6 * 3600


def refresh_slot_now(settings: Settings, now: datetime | None = None) -> dict:
    """Refresh this slot's forecasts: on Celery workers when a broker is set,
    else here (see :mod:`energy_dash.services.tasks`)."""
    from energy_dash.services.tasks import refresh_slot

    interval_s = settings.forecast_interval_minutes * 60
    return refresh_slot(settings, slot=slot_start(now or datetime.now(UTC), interval_s))


LOST_FITS_JOB = "forecast_lost_fits"
LOST_FITS_INTERVAL_S = 30


def requeue_lost_now(settings: Settings) -> int:
    """Fits of this slot that a Redis broker lost, published again
    (see :func:`energy_dash.services.tasks.requeue_lost`)."""
    if not settings.broker_url:
        return 0
    from energy_dash.services.tasks import requeue_lost

    return requeue_lost(settings)


def maintain_partitions_now(settings: Settings, now: datetime | None = None) -> dict:
    """Create readings partitions ahead and apply raw retention (PostgreSQL)."""
    from energy_dash.services.maintenance import maintain_partitions

    return maintain_partitions(settings, now=now)


def check_quality_now(settings: Settings, now: datetime | None = None) -> int:
    """Log new gaps and stuck values (see energy_dash.services.quality)."""
    from energy_dash.services.quality import check_all

    moment = now or datetime.now(UTC)
    return check_all(settings.database_url, int(moment.timestamp() * 1000))


# ------------------------------------------------------------------ anomalies
ANOMALY_JOB = "anomaly_check"
ANOMALY_INTERVAL_S = 15 * 60


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def check_anomalies_now(
    settings: Settings, now: datetime | None = None, *, min_hours: int = 1
) -> list[tuple[str, int, int]]:
    """Open or close "unusual consumption" alerts (see
    :func:`energy_dash.services.forecasts.check_unusual_consumption`)."""
    from energy_dash.services import forecasts as store

    return store.check_unusual_consumption(
        settings.database_url, _utc(now), min_hours=min_hours
    )


def start(app, settings: Settings):
    """Start the background scheduler once per process (APScheduler 3)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    with _lock:
        if os.getpid() in _started:
            return None
        _started.add(os.getpid())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    for name, interval_s, job in scheduled_jobs(settings):
        scheduler.add_job(
            run_exclusive,
            "interval",
            seconds=interval_s,
            args=(settings, name, interval_s, job),
            id=name,
            next_run_time=datetime.now(UTC) + timedelta(seconds=5),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=interval_s,
        )
    scheduler.start()
    app.server.extensions["energy_dash_scheduler"] = scheduler
    logger.info("scheduler started with %d job(s)", len(scheduler.get_jobs()))
    return scheduler
