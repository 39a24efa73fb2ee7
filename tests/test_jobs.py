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
