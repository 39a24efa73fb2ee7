"""Scheduled jobs run once per slot, however many schedulers share the database."""

import threading
from datetime import UTC, datetime

from energy_dash.jobs import claim_slot, run_exclusive, slot_start


def test_slots_are_aligned():
    now = datetime(2025, 6, 1, 10, 42, 17, tzinfo=UTC)
    assert slot_start(now, 3600) == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    assert slot_start(now, 60) == datetime(2025, 6, 1, 10, 42, tzinfo=UTC)


def test_one_claim_per_slot_across_holders(database_url):
    slot = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    results = []

    def worker(n):
        results.append(claim_slot(database_url, "refresh", slot, holder=f"w{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    later = datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
    assert claim_slot(database_url, "refresh", later, holder="w9") is True
    assert claim_slot(database_url, "refresh", slot, holder="w1") is False


def test_two_schedulers_run_the_job_once(settings):
    runs = []
    now = datetime(2025, 6, 1, 10, 0, 30, tzinfo=UTC)
    first = run_exclusive(settings, "job", 60, lambda: runs.append("a"), now=now)
    second = run_exclusive(settings, "job", 60, lambda: runs.append("b"), now=now)
    assert (first, second, runs) == (True, False, ["a"])


def test_offline_detection_with_a_frozen_clock(settings, facility):
    import pandas as pd

    from energy_dash import data
    from energy_dash.jobs import check_offline_now

    frame = pd.DataFrame(
        {"energy_produced": 0.0, "energy_consumed": 0.1, "current_load": 10.0},
        index=pd.date_range("2025-06-01 10:00", periods=3, freq="1min", tz="UTC"),
    )
    data.write_readings(frame, facility, database_url=settings.database_url)
    last = datetime(2025, 6, 1, 10, 2, tzinfo=UTC)
    # expected interval 60 s: connected while the newest reading is younger than
    # 120 s (the one rule of energy_dash.domain.connectivity), offline from then on
    assert check_offline_now(
        settings, last.replace(minute=3, second=59, microsecond=999_000)
    ) == []
    opened = check_offline_now(settings, last.replace(minute=4))
    assert [e[0] for e in opened] == ["opened"]
    assert check_offline_now(settings, last.replace(minute=30)) == []  # once only
    later = pd.DataFrame(
        {"energy_produced": 0.0, "energy_consumed": 0.1, "current_load": 10.0},
        index=[pd.Timestamp("2025-06-01 10:31", tz="UTC")],
    )
    data.write_readings(later, facility, database_url=settings.database_url)
    closed = check_offline_now(settings, last.replace(minute=31, second=30))
    assert [e[0] for e in closed] == ["closed"]
    alerts = data.read_alerts(facility, database_url=settings.database_url)
    row = alerts.iloc[0]
    assert row["kind"] == "offline"
    assert row["started_at"] == pd.Timestamp("2025-06-01 10:04", tz="UTC")
    assert row["ended_at"] == pd.Timestamp("2025-06-01 10:31", tz="UTC")


def test_every_job_is_scheduled(settings):
    from energy_dash.jobs import scheduled_jobs

    jobs = {name: interval for name, interval, _ in scheduled_jobs(settings)}
    assert jobs == {
        "offline_check": 60,
        "alert_delivery": 60,
        "forecast_refresh": 3600,
        "forecast_lost_fits": 30,
        "anomaly_check": 900,
        "partition_maintenance": 21600,
        "quality_check": 900,
    }
