"""Forecast refresh fanned out on Celery workers, one task per facility and target.

APScheduler stays the clock: the process that wins a refresh slot's lease calls
:func:`refresh_slot`, which records one ``forecast_tasks`` row per (facility,
target, slot) and, when ``ENERGY_DASH_BROKER_URL`` is set, publishes one Celery
task per row; without a broker it runs the same fits in this process, one
after another, as before.

Delivery is at least once, storage exactly once:

- ``acks_late`` with ``reject_on_worker_lost``: a message is acknowledged only
  after its fit finished, so a worker killed mid-fit leaves it unacknowledged
  and the broker hands it to another worker (RabbitMQ at once when the
  connection drops; Redis once ``visibility_timeout`` has passed, which is kept
  at twice the hard time limit so a slow fit is never delivered twice meanwhile).
- ``forecasts`` has a unique (facility, target, slot): a redelivered or
  duplicated task finds its run stored and stores nothing.
- A hard time limit per fit (``ENERGY_DASH_FIT_TIME_LIMIT``), a soft one just
  below it so the task can record the failure; database errors are retried
  with exponential backoff.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure, worker_process_init
from sqlalchemy.exc import OperationalError

from energy_dash.config import Settings
from energy_dash.db import get_engine
from energy_dash.db.models import utc
from energy_dash.services import forecast_slots as slots

logger = logging.getLogger(__name__)

TASK_NAME = "energy_dash.fit_forecast"
QUEUE = "energy_dash.forecasts"
PROPHET_TIMEOUT_S = 60.0  # one Prophet fit inside a task (the task has its own limit)
VISIBILITY_FACTOR = 2
REDIS_UNACKED = "unacked"  # kombu's hash of messages taken and not yet acknowledged
SOFT_LIMIT_MARGIN_S = 5
WORKER = f"{socket.gethostname()}:{os.getpid()}"

celery_app = Celery("energy_dash", set_as_current=False)
_configured: dict[str, Settings] = {}


def configure(settings: Settings) -> Celery:
    """Point the Celery app at ``settings.broker_url`` with the delivery rules."""
    hard = int(settings.fit_time_limit_s)
    celery_app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_time_limit=hard,
        task_soft_time_limit=soft_limit(hard),
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a long fit must not hold queued tasks back
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    _configured["settings"] = settings
    return celery_app


def soft_limit(hard: int) -> float:
    """A few seconds (at most a fifth) below the hard limit: time to record it."""
    return hard - min(SOFT_LIMIT_MARGIN_S, hard * 0.2)


def transport_options(settings: Settings) -> dict[str, Any]:
    """Redis: redeliver an unacknowledged fit after twice the hard time limit.

    A message taken by a worker that died stays invisible for
    ``visibility_timeout``; keeping that above the hard limit means a fit that is
    merely slow is never handed out twice. The sweep that puts such messages back
    runs every ``unacked_restore_interval`` seconds (kombu's default, 100 s in
    effect, is too slow for a refresh that takes seconds). RabbitMQ needs none of
    this: it redelivers as soon as the dead worker's connection closes.
    """
    if not (settings.broker_url or "").startswith(("redis://", "rediss://")):
        return {}
    hard = int(settings.fit_time_limit_s)
    return {
        "visibility_timeout": hard * VISIBILITY_FACTOR,
        "unacked_restore_interval": max(1, min(10, hard // 2)),
        "unacked_restore_throttle": 1,
    }


def _settings() -> Settings:
    settings = _configured.get("settings")
    if settings is None:  # a worker started by `celery -A` rather than our CLI
        settings = Settings.from_env()
        configure(settings)
    return settings


@worker_process_init.connect
def _init_pool_process(**_kwargs: Any) -> None:
    """Prepare a prefork pool child for fits.

    It must not share the parent's database connections. It is marked
    non-daemonic with a plain authkey: multiprocessing refuses children to
    daemonic processes, and every Prophet fit runs in a child of its own (with
    its own deadline, killed with its process group), which would otherwise
    always fall back to a baseline. The forecasting stack is loaded now, so the
    first fit is not charged for the imports.
    """
    # A fresh pool, leaving the parent's connections alone (closing them here
    # would end the parent's sessions on the server).
    get_engine(_settings().database_url).dispose(close=False)
    # billiard installs its own process object as multiprocessing's current one;
    # its authkey type refuses to be pickled by the stdlib's forkserver.
    process = multiprocessing.current_process()
    process.daemon = False
    process._config["authkey"] = multiprocessing.process.AuthenticationString(
        os.urandom(32)
    )
    import energy_dash.forecasting  # noqa: F401


@celery_app.task(
    name=TASK_NAME,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def fit_forecast(self, facility_id: int, target: str, slot_iso: str) -> dict[str, Any]:
    """One fit of a refresh slot (the Celery task; see :func:`run_fit`)."""
    slot = datetime.fromisoformat(slot_iso)
    return run_fit(_settings(), facility_id, target, slot, worker=self.request.hostname)


@task_failure.connect(sender=fit_forecast)
def _record_hard_limit(exception=None, args=None, **_kwargs: Any) -> None:
    """A fit killed at the hard limit cannot record itself: the worker does."""
    if not isinstance(exception, TimeLimitExceeded) or not args:
        return
    facility_id, target, slot_iso = args
    settings = _settings()
    slots.fail_running(
        settings.database_url, int(facility_id), target,
        datetime.fromisoformat(slot_iso),
        f"hard time limit of {settings.fit_time_limit_s} s reached",
    )


def run_fit(
    settings: Settings, facility_id: int, target: str, slot: datetime, *,
    worker: str = WORKER, note: str | None = None,
) -> dict[str, Any]:
    """Fit and store one forecast of a refresh slot, at most once per slot.

    The fit sees the history up to the slot's start, so every delivery of the
    same task computes the same run. Returns the refresh result (``status``
    ``stored``, ``duplicate``, ``not_enough_history``, ``failed``, ``gone``) or
    ``{"status": "finished"}`` when an earlier delivery completed it. ``note``
    goes in front of the row's message (why the fit ran where it did).
    """
    from energy_dash.services.forecast_refresh import refresh_one

    url = settings.database_url
    slot = utc(slot)
    prefix = f"{note}; " if note else ""
    task_id = slots.claim(url, int(facility_id), target, slot, worker)
    if task_id is None:
        return {"facility_id": facility_id, "target": target, "status": "finished"}
    started = time.perf_counter()
    try:
        result = refresh_one(
            settings, facility_id, target, now=slot, slot=slot,
            timeout=min(PROPHET_TIMEOUT_S, float(settings.fit_time_limit_s)),
        )
    except SoftTimeLimitExceeded:
        elapsed = time.perf_counter() - started
        slots.finish(url, task_id, "failed",
                f"time limit of {settings.fit_time_limit_s} s reached", elapsed)
        raise
    except OperationalError:
        raise  # the database went away: Celery retries with backoff
    except Exception as exc:  # noqa: BLE001 - recorded, the slot goes on
        logger.exception("forecast fit facility=%s target=%s failed", facility_id,
                         target)
        slots.finish(url, task_id, "failed",
                     f"{prefix}{type(exc).__name__}: {exc}",
                     time.perf_counter() - started)
        return {"facility_id": facility_id, "target": target, "status": "failed"}
    status = {"stored": "done", "duplicate": "done", "failed": "failed"}.get(
        result["status"], "skipped"
    )
    slots.finish(url, task_id, status,
                 prefix + (result.get("message") or result["status"]),
                 time.perf_counter() - started)
    return result


def _publish(
    settings: Settings, slot: datetime, pairs: list[tuple[int, str]], interval_s: int
) -> tuple[int, str | None]:
    """Publish one task per pair: (how many the broker took, why it stopped).

    The reason is None when all were published. kombu retries a refused
    connection a few times (``BROKER_PUBLISH_RETRY``) before it gives up, so a
    broker that is down costs a few seconds, not the slot.
    """
    app = configure(settings)
    task = app.tasks[TASK_NAME]
    # Fits still queued one interval after publishing give way to the next
    # slot's. (Not slot + interval: the scheduler may fire late in its slot.)
    expires = datetime.now(UTC) + timedelta(seconds=interval_s)
    published = 0
    try:
        with app.connection_for_write() as connection:
            producer = app.amqp.Producer(connection)
            for fid, target in pairs:
                task.apply_async(
                    (fid, target, slot.isoformat()), producer=producer,
                    expires=expires, retry=True,
                    retry_policy=BROKER_PUBLISH_RETRY,
                )
                published += 1
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean "down"
        return published, f"{type(exc).__name__}: {exc}"[:300]
    return published, None


BROKER_PUBLISH_RETRY = {
    "max_retries": 3, "interval_start": 0.2, "interval_step": 0.5,
    "interval_max": 1.0,
}
"""kombu's retry policy per publish: about two seconds before a broker counts
as down."""


def refresh_slot(
    settings: Settings, *, slot: datetime
) -> dict[str, Any]:
    """Refresh every facility's forecasts for the refresh slot starting at ``slot``.

    Called by the one process that holds the slot's lease (the scheduler's
    clock says which slot it is). With a broker, one task per facility and target
    is published and this returns at once; without one, the fits run here.

    A broker that refuses the tasks must not leave the slot's rows queued for
    ever (the lease is taken, nobody would come back for them): the fits it did
    not take run here, in the scheduler's process, as without a broker, and
    their rows say so (``slots.BROKER_DOWN``), which ``forecast --status`` and
    /settings show. A task the broker did take and a worker later delivers
    finds its row finished and stores nothing.

    Returns ``{"slot", "queued", "mode"}`` plus ``"broker_error"`` (and
    ``"published"``) when the broker failed.
    """
    interval_s = settings.forecast_interval_minutes * 60
    slot = utc(slot)
    pairs = slots.queue_rows(settings.database_url, slot)
    if not settings.broker_url:
        for fid, target in pairs:
            run_fit(settings, fid, target, slot)
        return {"slot": slot, "queued": len(pairs), "mode": "in-process"}
    published, error = _publish(settings, slot, pairs, interval_s)
    if error is None:
        logger.info("forecast slot %s: %d fits queued", slot, len(pairs))
        return {"slot": slot, "queued": len(pairs), "mode": "celery"}
    left = pairs[published:]
    logger.error(
        "forecast slot %s: the broker refused the tasks (%s): %d of %d fits run "
        "in this process instead", slot, error, len(left), len(pairs),
    )
    note = f"{slots.BROKER_DOWN} ({error}), fitted by the scheduler"
    slots.mark_fallback(settings.database_url, slot, left, note)
    for fid, target in left:
        run_fit(settings, fid, target, slot, note=note)
    return {"slot": slot, "queued": len(pairs), "mode": "in-process",
            "published": published, "broker_error": error}


def broker_holds_nothing(settings: Settings) -> bool:
    """True when the Redis broker holds no fit at all: none waiting in the queue,
    none taken by a worker and not yet acknowledged. False when it does not
    answer (nothing can be told, so nothing is published again)."""
    import redis

    client = redis.Redis.from_url(settings.broker_url, socket_timeout=5,
                                  socket_connect_timeout=5)
    try:
        return client.llen(QUEUE) == 0 and client.hlen(REDIS_UNACKED) == 0
    except redis.RedisError as exc:
        logger.info("lost-fit check skipped: the broker does not answer (%s)", exc)
        return False
    finally:
        client.close()


def requeue_lost(settings: Settings, *, now: datetime | None = None,
                 slot: datetime | None = None) -> int:
    """Publish again the fits of ``slot`` (default: the one ``now`` is in) that
    the broker lost.

    kombu's Redis transport takes a message off the queue and records it as
    unacknowledged in two steps: a worker killed between them loses the message,
    and its row would stay queued until the next slot. A row still queued after
    the visibility timeout and two restore sweeps, while the broker holds no
    fit at all, can only be such a loss (a fit merely waiting behind others is
    still in the queue). A spare delivery is harmless: storage is once per slot.
    RabbitMQ redelivers on its own. Returns how many were published again.
    """
    options = transport_options(settings)
    if not options:
        return 0
    now = now or datetime.now(UTC)
    interval_s = settings.forecast_interval_minutes * 60
    if slot is None:
        epoch = int(now.timestamp())
        slot = datetime.fromtimestamp(epoch - epoch % interval_s, UTC)
    slot = utc(slot)
    grace = options["visibility_timeout"] + 2 * options["unacked_restore_interval"]
    pairs = slots.stalled(settings.database_url, slot, now - timedelta(seconds=grace))
    if not pairs or not broker_holds_nothing(settings):
        return 0
    slots.mark_requeued(settings.database_url, slot, pairs)
    published, error = _publish(settings, slot, pairs, interval_s)
    logger.warning("forecast slot %s: %d fits lost by the broker published again%s",
                   slot, published, f" ({error})" if error else "")
    return published


def worker_argv(
    concurrency: int | None, loglevel: str, name: str | None = None
) -> list[str]:
    """The ``celery worker`` arguments of ``energy-dash worker``."""
    argv = ["worker", f"--loglevel={loglevel}", "-Q", QUEUE, "--without-gossip",
            "--without-mingle", "--without-heartbeat"]
    if concurrency:
        argv.append(f"--concurrency={int(concurrency)}")
    if name:
        argv += ["--hostname", name]
    return argv


def run_worker(
    settings: Settings, concurrency: int | None = None, loglevel: str = "INFO",
    name: str | None = None,
) -> None:
    """Run a Celery worker for forecast fits until it is stopped."""
    if not settings.broker_url:
        raise ValueError("ENERGY_DASH_BROKER_URL is not set: a worker needs a broker")
    get_engine(settings.database_url).dispose()
    configure(settings).worker_main(worker_argv(concurrency, loglevel, name))


__all__ = [
    "celery_app",
    "configure",
    "fit_forecast",
    "refresh_slot",
    "run_fit",
    "run_worker",
]
