"""Forecast refresh slots: one stored run per facility, target and slot.

In-process on both engines (no broker), then on a real Celery worker process
with a private redis-server (PostgreSQL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from scale_helpers import free_port, seed_facilities, start_redis
from sqlalchemy import func, select, update

from energy_dash.cli import main
from energy_dash.config import ConfigError, Settings
from energy_dash.db import session_scope
from energy_dash.db.models import Forecast, ForecastTask
from energy_dash.jobs import refresh_forecasts, slot_start
from energy_dash.services.forecast_slots import slot_status
from energy_dash.services.tasks import refresh_slot, run_fit

ROOT = Path(__file__).resolve().parents[2]


def ONE_EACH(fid: int) -> dict[tuple[int, str], int]:  # noqa: N802 - reads as a value
    return {(fid, "consumption"): 1, (fid, "production"): 1}


def _text(component) -> str:
    """All strings inside a serialised component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(_text(c) for c in component)
    if isinstance(component, dict):
        return _text(component.get("props", {}).get("children"))
    return ""


def _slot() -> datetime:
    return slot_start(datetime.now(UTC), 3600)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _runs(url: str, slot: datetime | None = None) -> dict[tuple[int, str], int]:
    with session_scope(url) as session:
        stmt = select(Forecast.facility_id, Forecast.target, func.count()).group_by(
            Forecast.facility_id, Forecast.target
        )
        if slot is not None:
            stmt = stmt.where(Forecast.slot == slot)
        return {(f, t): n for f, t, n in session.execute(stmt).all()}


def test_slot_in_process_stores_each_target_once(settings, database_url):
    slot = _slot()
    ids = seed_facilities(database_url, 3, hours=72, end_ms=_ms(slot))
    short = seed_facilities(database_url, 1, hours=10, end_ms=_ms(slot))[0]

    result = refresh_slot(settings, slot=slot)

    assert result == {"slot": slot, "queued": 8, "mode": "in-process"}
    runs = _runs(database_url, slot)
    assert runs == {(f, t): 1 for f in ids for t in ("consumption", "production")}
    status = slot_status(database_url)
    assert (status["slot"], status["total"], status["done"], status["skipped"]) == (
        slot, 8, 6, 2
    )
    assert (status["queued"], status["running"], status["failed"]) == (0, 0, 0)
    assert status["complete"] is True
    assert status["fit_mean_s"] > 0
    with session_scope(database_url) as session:
        note = session.execute(
            select(ForecastTask.message).where(ForecastTask.facility_id == short)
        ).scalars().first()
    assert "10 hours" in note or "history" in note

    # The same slot again (a second scheduler, a redelivered task): nothing new.
    refresh_slot(settings, slot=slot)
    assert run_fit(settings, ids[0], "consumption", slot)["status"] == "finished"
    assert _runs(database_url, slot) == runs


def test_fit_redone_after_a_worker_died_stores_nothing_twice(settings, database_url):
    slot = _slot()
    fid = seed_facilities(database_url, 1, hours=72, end_ms=_ms(slot))[0]
    refresh_slot(settings, slot=slot)
    # A worker stored the run, then died before it could mark the task done.
    with session_scope(database_url) as session:
        session.execute(
            update(ForecastTask)
            .where(ForecastTask.facility_id == fid, ForecastTask.target == "production")
            .values(status="running", finished_at=None)
        )

    again = run_fit(settings, fid, "production", slot)

    assert again["status"] == "duplicate"
    assert _runs(database_url, slot) == ONE_EACH(fid)
    with session_scope(database_url) as session:
        row = session.execute(
            select(ForecastTask).where(
                ForecastTask.facility_id == fid, ForecastTask.target == "production"
            )
        ).scalar_one()
        assert (row.status, row.attempts) == ("done", 2)


def test_ad_hoc_refresh_is_not_limited_by_slots(settings, database_url):
    slot = _slot()
    fid = seed_facilities(database_url, 1, hours=72, end_ms=_ms(slot))[0]
    refresh_slot(settings, slot=slot)
    refresh_forecasts(settings, fid, now=slot)
    refresh_forecasts(settings, fid, now=slot)
    assert _runs(database_url) == {(fid, "consumption"): 3, (fid, "production"): 3}
    assert _runs(database_url, slot) == ONE_EACH(fid)


def test_settings_for_broker_and_retention(monkeypatch):
    monkeypatch.setenv("ENERGY_DASH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("ENERGY_DASH_RAW_RETENTION_DAYS", "400")
    settings = Settings.from_env()
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.raw_retention_days == 400
    assert "guest" not in repr(settings)
    monkeypatch.setenv("ENERGY_DASH_BROKER_URL", "http://example.org")
    with pytest.raises(ConfigError, match="ENERGY_DASH_BROKER_URL"):
        Settings.from_env()
    monkeypatch.delenv("ENERGY_DASH_BROKER_URL")
    monkeypatch.setenv("ENERGY_DASH_RAW_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError, match="ENERGY_DASH_RAW_RETENTION_DAYS"):
        Settings.from_env()


def test_cli_worker_needs_a_broker_and_status_reads_the_slot(
    settings, sqlite_url, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("ENERGY_DASH_BROKER_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["worker"])
    assert result.exit_code == 1
    assert result.output.strip().startswith(
        "energy-dash: error: ENERGY_DASH_BROKER_URL is not set"
    )
    assert runner.invoke(main, ["forecast", "--status"]).output.strip() == (
        "No scheduled forecast refresh has run yet."
    )
    slot = _slot()
    seed_facilities(sqlite_url, 2, hours=72, end_ms=_ms(slot))
    refresh_slot(Settings(database_url=sqlite_url), slot=slot)
    lines = runner.invoke(main, ["forecast", "--status"]).output.splitlines()
    assert lines[0] == (
        f"Last slot {slot.isoformat()} (complete): 4 fits — 0 queued, 0 running, "
        "4 done, 0 skipped, 0 failed"
    )
    assert lines[1].startswith("Took ")


# ---------------------------------------------------------------- real Celery
@pytest.fixture
def redis_url(tmp_path):
    proc, url = start_redis(tmp_path)
    yield url
    proc.terminate()
    proc.wait(10)


def _worker(url: str, broker: str, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {
        **os.environ, "DATABASE_URL": url, "ENERGY_DASH_BROKER_URL": broker,
        "ENERGY_DASH_INSTANCE": str(tmp_path), "ENERGY_DASH_FIT_TIME_LIMIT": "30",
    }
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "energy-dash"), "worker", "-c", "1",
         "--loglevel", "WARNING"],
        env=env, cwd=ROOT, stdout=(tmp_path / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_complete(url: str, slot: datetime, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = slot_status(url, slot)
        if status and status["complete"]:
            return status
        time.sleep(0.5)
    raise AssertionError(f"slot not complete after {timeout} s: {status}")


@pytest.mark.postgres
def test_celery_worker_runs_the_slot(postgres_url, redis_url, tmp_path):
    from scale_helpers import truncate_all as _truncate

    _truncate(postgres_url)
    # a slot that began two intervals ago (a scheduler that fired late, a
    # backlog): its fits must still run, not expire on arrival
    slot = _slot() - timedelta(hours=2)
    ids = seed_facilities(postgres_url, 3, hours=72, end_ms=_ms(slot))
    # 23 days (14 + 7 backtest origins + the horizon): Prophet competes, fitted in a
    # child of the worker's pool process
    ids += seed_facilities(postgres_url, 1, hours=24 * 23, end_ms=_ms(slot))
    settings = Settings(database_url=postgres_url, broker_url=redis_url,
                        fit_time_limit_s=30)
    worker = _worker(postgres_url, redis_url, tmp_path, "worker")
    try:
        started = time.monotonic()
        result = refresh_slot(settings, slot=slot)
        assert result == {"slot": slot, "queued": 8, "mode": "celery"}
        assert time.monotonic() - started < 5  # published, not fitted here
        status = wait_complete(postgres_url, slot)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
    assert (status["done"], status["failed"]) == (8, 0)
    assert _runs(postgres_url, slot) == {
        (f, t): 1 for f in ids for t in ("consumption", "production")
    }
    with session_scope(postgres_url) as session:
        notes = session.execute(
            select(Forecast.note, Forecast.metrics)
            .where(Forecast.facility_id == ids[3])
        ).all()
    for note, metrics in notes:
        assert "could not start a worker" not in (note or "")
        assert "prophet" in metrics["candidates"]


@pytest.mark.postgres
def test_a_fit_the_broker_lost_is_published_again_and_stored_once(
        postgres_url, redis_url, tmp_path):
    """kombu's Redis transport can lose a message taken by a worker killed before
    it recorded it. The sweep publishes such a fit again, but only once the broker
    holds no fit at all (one still waiting is not lost)."""
    import redis
    from scale_helpers import truncate_all as _truncate

    from energy_dash.services import forecast_slots as slots
    from energy_dash.services.tasks import QUEUE, broker_holds_nothing, requeue_lost

    _truncate(postgres_url)
    slot = _slot()
    seed_facilities(postgres_url, 1, hours=72, end_ms=_ms(slot))
    settings = Settings(database_url=postgres_url, broker_url=redis_url,
                        fit_time_limit_s=30)
    assert refresh_slot(settings, slot=slot)["queued"] == 2
    broker = redis.Redis.from_url(redis_url)
    assert broker.llen(QUEUE) == 2
    assert broker.rpop(QUEUE) is not None  # lost with a killed worker
    past_grace = datetime.now(UTC) + timedelta(seconds=2 * 30 + 2 * 10 + 30)
    # the other fit still waits in the queue: nothing is lost yet
    assert requeue_lost(settings, now=past_grace, slot=slot) == 0
    assert broker.llen(QUEUE) == 1
    # ... and is taken and fitted (by hand here, as a worker does)
    assert broker.rpop(QUEUE) is not None
    fid, target = slots.stalled(postgres_url, slot, past_grace)[0]
    done = slots.claim(postgres_url, fid, target, slot, "by-hand")
    slots.finish(postgres_url, done, "done", "fitted by the test", 0.1)
    # still inside the grace time: not yet
    assert requeue_lost(settings, slot=slot) == 0
    assert requeue_lost(settings, now=past_grace, slot=slot) == 1
    assert broker.llen(QUEUE) == 1
    # published once: the next sweep finds the fit waiting in the queue
    assert requeue_lost(settings, now=past_grace, slot=slot) == 0
    worker = _worker(postgres_url, redis_url, tmp_path, "worker")
    try:
        status = wait_complete(postgres_url, slot)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
    assert (status["done"], status["queued"], status["failed"]) == (2, 0, 0)
    # the fit done by hand stored nothing; the republished one stored one run
    other = "production" if target == "consumption" else "consumption"
    assert _runs(postgres_url, slot) == {(fid, other): 1}
    # a broker that does not answer: nothing can be told, nothing is published
    gone = Settings(database_url=postgres_url, fit_time_limit_s=30,
                    broker_url=f"redis://127.0.0.1:{free_port()}/0")
    assert broker_holds_nothing(gone) is False


def test_scheduler_with_a_stopped_broker_fits_the_slot_itself(
    app, settings, database_url, tmp_path, monkeypatch, auth_client
):
    """A broker down when the slot publishes: the slot is fitted in-process, and
    says so, rather than left queued for ever under a taken lease."""
    import dataclasses

    from energy_dash import jobs

    proc, broker = start_redis(tmp_path)
    proc.terminate()  # a broker that was there, and is down when the slot comes
    proc.wait(10)
    port = broker.rsplit(":", 1)[1].split("/")[0]
    slot = _slot()
    ids = seed_facilities(database_url, 2, hours=72, end_ms=_ms(slot))
    seed_facilities(database_url, 1, hours=10, end_ms=_ms(slot))
    down = dataclasses.replace(settings, broker_url=broker, scheduler=True)

    scheduler = jobs.start(app, down)  # its first run comes 5 s after start
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            status = slot_status(database_url)
            if status and status["complete"]:
                break
            time.sleep(0.5)
    finally:
        scheduler.shutdown(wait=True)
        jobs._started.discard(os.getpid())

    assert status["complete"], status
    assert status["slot"] in (slot, _slot())  # the clock may have crossed the hour
    counts = {k: status[k] for k in ("total", "queued", "running", "done",
                                      "skipped", "failed", "broker_fallback")}
    assert counts == {"total": 6, "queued": 0, "running": 0, "done": 4,
                      "skipped": 2, "failed": 0, "broker_fallback": 6}
    assert status["broker_error"] == (
        f"broker unreachable (OperationalError: Error 111 connecting to "
        f"127.0.0.1:{port}. Connection refused.)"
    )
    assert _runs(database_url, status["slot"]) == {
        (f, t): 1 for f in ids for t in ("consumption", "production")
    }
    monkeypatch.setenv("DATABASE_URL", database_url)
    lines = CliRunner().invoke(main, ["forecast", "--status"]).output.splitlines()
    assert lines[0] == (
        f"Last slot {status['slot'].isoformat()} (complete): 6 fits — 0 queued, "
        "0 running, 4 done, 2 skipped, 0 failed"
    )
    assert lines[2] == (
        f"Broker unreachable (OperationalError: Error 111 connecting to "
        f"127.0.0.1:{port}. Connection refused.): 6 fits ran in the scheduler's "
        "process"
    )
    from fixtures_web import callback_result, post_callback

    card = callback_result(post_callback(
        auth_client("alice", "admin"), app, "settings-forecast-slot.children",
        {"settings-refresh.data": 0},
    ))["settings-forecast-slot.children"]
    assert lines[2] in _text(card)


RABBIT_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _rabbit_up() -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(RABBIT_URL)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parts.hostname, parts.port or 5672)) == 0


@pytest.mark.postgres
def test_celery_worker_on_rabbitmq(postgres_url, tmp_path):
    if not _rabbit_up():
        if os.environ.get("REQUIRE_BROKER") == "1":
            pytest.fail(f"REQUIRE_BROKER=1 but no RabbitMQ at {RABBIT_URL}")
        pytest.skip(f"no RabbitMQ at {RABBIT_URL}")
    from scale_helpers import truncate_all as _truncate

    from energy_dash.services.tasks import configure

    _truncate(postgres_url)
    slot = _slot()
    ids = seed_facilities(postgres_url, 2, hours=72, end_ms=_ms(slot))
    settings = Settings(database_url=postgres_url, broker_url=RABBIT_URL,
                        fit_time_limit_s=30)
    configure(settings).control.purge()  # no leftovers from an earlier run
    worker = _worker(postgres_url, RABBIT_URL, tmp_path, "rabbit")
    try:
        assert refresh_slot(settings, slot=slot)["queued"] == 4
        status = wait_complete(postgres_url, slot)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
    assert (status["done"], status["failed"]) == (4, 0)
    assert _runs(postgres_url, slot) == {
        (f, t): 1 for f in ids for t in ("consumption", "production")
    }


def test_settings_shows_the_last_slot_to_site_admins_only(
    app, settings, database_url, auth_client, make_user
):
    from fixtures_web import callback_result, login_client, post_callback

    slot = _slot()
    seed_facilities(database_url, 2, hours=72, end_ms=_ms(slot))
    seed_facilities(database_url, 1, hours=10, end_ms=_ms(slot))
    refresh_slot(settings, slot=slot)

    admin = auth_client("alice", "admin")
    card = callback_result(post_callback(
        admin, app, "settings-forecast-slot.children", {"settings-refresh.data": 0}
    ))["settings-forecast-slot.children"]
    text = _text(card)
    assert f"Slot {slot:%Y-%m-%d %H:%M} UTC (complete)" in text
    assert "Fits 6 Queued 0 Running 0 Done 4 Skipped (too little history) 2" in text
    assert "Failed 0" in text

    make_user("victor", role="viewer", facility=1, facility_role="admin")
    viewer = app.server.test_client()
    login_client(viewer, "victor")
    hidden = callback_result(post_callback(
        viewer, app, "settings-forecast-slot.children", {"settings-refresh.data": 0}
    ))
    assert hidden["settings-forecast-slot.children"] is None
