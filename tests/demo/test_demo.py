"""The demo seed and the simulated sensor's physics, on both engines."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from energy_dash import data
from energy_dash.cli import main
from energy_dash.config import Settings
from energy_dash.db import session_scope
from energy_dash.db.models import (
    Alert,
    ApiKey,
    Facility,
    Membership,
    Reading,
    Tariff,
    User,
)
from energy_dash.demo.seed import (
    DEMO_DEVICE,
    DEMO_FACILITY_ID,
    create_simulator_key,
    fill_gap,
    seed_demo,
)
from energy_dash.demo.site import (
    SiteModel,
    history,
    history_chunks,
    plan_events,
    reading_at,
)
from energy_dash.domain.validation import validate_reading
from energy_dash.jobs import check_quality_now
from energy_dash.services import quality
from energy_dash.storage import accounts, devices

BERLIN = "Europe/Berlin"


def _count(url: str, model) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(model))


def _local(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.index = out.index.tz_convert(BERLIN)
    return out


@pytest.fixture
def seeded(database_url):
    return seed_demo(database_url, days=2)


# ------------------------------------------------------------------ demo seed
def test_demo_seeds_two_days_of_ten_second_readings(database_url, seeded):
    assert seeded.seeded is True
    assert seeded.facility_id == DEMO_FACILITY_ID == 1
    assert seeded.readings == 17_280  # 2 days x 8640, one per reporting interval
    assert _count(database_url, Reading) == 17_280

    frame = data.read_readings(1, database_url=database_url)
    assert len(frame) == 17_280
    assert set(frame["device_id"]) == {DEMO_DEVICE}
    steps = np.diff(frame.index.as_unit("ms").asi8)
    assert set(steps.tolist()) == {10_000}  # the facility's interval, as live
    newest = frame.index[-1]
    assert pd.Timestamp.now(tz="UTC") - newest < pd.Timedelta(minutes=2)  # ends now

    with session_scope(database_url) as session:
        facility = session.get(Facility, 1)
        assert (facility.name, facility.timezone, facility.country) == (
            "Demo Facility", BERLIN, "DE"
        )
        assert facility.nominal_voltage == 230.0
        assert facility.capacity_kw == 50.0
        assert facility.expected_interval_s == 10
        assert facility.panel_count == 88
        tariff = session.scalar(select(Tariff).where(Tariff.facility_id == 1))
        assert (tariff.currency, tariff.import_price, tariff.export_price) == (
            "EUR", 0.30, 0.08
        )


def test_demo_production_follows_the_sun_in_local_time(database_url, seeded):
    frame = _local(data.read_readings(1, database_url=database_url))
    live = frame[frame["voltage"] > 0]  # the outage reports nothing produced
    night = live[(live.index.hour >= 0) & (live.index.hour < 4)]
    noon = live[(live.index.hour >= 11) & (live.index.hour < 13)]
    assert len(night) > 100 and len(noon) > 100
    assert night["energy_produced"].max() == 0.0
    assert (noon["energy_produced"] > 0).all()
    # Interval energies: kWh per 10 s (a 50 kW site never exceeds 50/360 kWh).
    assert frame["energy_consumed"].max() < 50 / 360
    # current_load is consumption power over the 50 kW capacity, in percent
    # (energies are rounded to 0.01 Wh: 0.36 kW, 0.72 % of capacity, at 10 s).
    power_kw = frame["energy_consumed"] * 360
    np.testing.assert_allclose(frame["current_load"], power_kw / 50 * 100, atol=0.03)


def test_demo_electrical_values_are_realistic(database_url, seeded):
    frame = data.read_readings(1, database_url=database_url)
    live = frame[frame["voltage"] > 0]
    assert 227 < live["voltage"].median() < 233
    assert live["frequency"].between(49.8, 50.2).all()
    assert live["power_factor"].between(0.92, 0.98).all()
    # Three phases with some imbalance; the total is their sum.
    assert live["current1"].mean() > live["current2"].mean() > live["current3"].mean()
    np.testing.assert_allclose(
        live["current"], live["current1"] + live["current2"] + live["current3"],
        atol=0.011,
    )


def test_demo_has_exactly_one_ten_minute_outage_alert(database_url, seeded):
    frame = data.read_readings(1, database_url=database_url)
    assert (frame["voltage"] == 0).sum() == 60  # ten minutes of 10 s readings

    alerts = data.read_alerts(1, database_url=database_url)
    outages = alerts[alerts["kind"] == "outage"]
    assert len(outages) == 1
    outage = outages.iloc[0]
    assert outage["level"] == "critical"
    assert outage["extreme_value"] == 0.0
    assert outage["duration_s"] == 600.0
    # Some sags and swells too, every one of them closed again.
    assert {"voltage_low", "voltage_high"} <= set(alerts["kind"])
    assert alerts["ended_at"].notna().all()
    assert seeded.alerts == len(alerts)


def test_demo_user_key_and_idempotent_second_run(database_url, seeded):
    with session_scope(database_url) as session:
        user = accounts.get_user(session, "demo")
        assert user is not None and user.role == "admin"
        assert user.password_hash != "password"
        assert accounts.verify_password(user.password_hash, "password")
        assert accounts.membership_role(session, user.id, 1) == "admin"
        key = devices.find_api_key(session, seeded.api_key)
        assert key is not None and key.facility_id == 1
    assert seeded.user_created is True

    before = {m: _count(database_url, m) for m in (Reading, Alert, User, ApiKey,
                                                    Membership, Tariff, Facility)}
    again = seed_demo(database_url, days=2)
    assert again.seeded is False
    assert again.api_key is None
    after = {m: _count(database_url, m) for m in before}
    assert after == before


def test_demo_in_production_has_no_demo_user(database_url):
    result = seed_demo(database_url, days=1, production=True)
    assert result.seeded and result.readings == 8640
    assert result.user_created is False
    assert _count(database_url, User) == 0


def test_a_fresh_demo_logs_no_data_quality_event(database_url, seeded):
    """The demo seeds no gap on purpose: its one outage is ten minutes of 0 V
    readings, not silence. So the quality check of a fresh demo logs nothing,
    because the history comes at the facility's reporting interval, the one the
    live simulator sends at (one-minute history on the 10 s facility logged a gap
    for every minute, 419 in the check's 7 hours)."""
    now = pd.Timestamp.now(tz="UTC")
    assert check_quality_now(Settings(database_url=database_url), now) == 0
    assert data.read_quality_events(1, database_url=database_url).empty
    now_ms = int(now.value // 1_000_000)
    assert quality.open_count(database_url, 1, now_ms) == 0  # the hardware tile


def test_next_facility_after_the_demo_gets_id_2(database_url, seeded):
    # The demo inserts facility 1 explicitly; the id sequence must move on.
    with session_scope(database_url) as session:
        row = Facility(name="Second", timezone="UTC")
        session.add(row)
        session.flush()
        assert row.id == 2


def test_simulator_key_rotates(database_url, seeded):
    first = create_simulator_key(database_url)
    second = create_simulator_key(database_url)
    with session_scope(database_url) as session:
        assert devices.find_api_key(session, first) is None  # revoked
        assert devices.find_api_key(session, second).name == "simulator"
        # The demo sensor key printed by `demo` is untouched.
        assert devices.find_api_key(session, seeded.api_key) is not None


def test_demo_command_prints_login_and_key_then_skips(database_url, tmp_path):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "ENERGY_DASH_INSTANCE": str(tmp_path),
           "ENERGY_DASH_ENV": "development"}
    first = runner.invoke(main, ["demo", "--days", "2"], env=env)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Seeded Demo Facility (id 1): 17280 readings, ")
    assert lines[1] == "Sign in as demo / password."
    assert lines[2].startswith("Demo sensor API key (shown once): ed_")
    key = lines[2].rsplit(" ", 1)[1]
    with session_scope(database_url) as session:
        assert devices.find_api_key(session, key).facility_id == 1

    second = runner.invoke(main, ["demo", "--days", "2"], env=env)
    assert second.exit_code == 0
    assert second.stdout == (
        "Demo Facility (id 1) already has readings; nothing changed.\n"
    )
    assert _count(database_url, Reading) == 17_280


def test_thirty_days_seed_in_a_few_seconds(sqlite_url):
    started = time.perf_counter()
    result = seed_demo(sqlite_url, days=30)
    elapsed = time.perf_counter() - started
    assert result.readings == 259_200  # 30 days of 10 s readings
    assert elapsed < 15, f"30-day demo took {elapsed:.1f} s"
    alerts = data.read_alerts(1, database_url=sqlite_url)
    assert (alerts["kind"] == "outage").sum() == 1


# ------------------------------------------------------------------ physics
def test_history_is_deterministic_and_seeded():
    end = "2025-06-21T10:00:00Z"
    one = history(SiteModel(), end, days=1)
    two = history(SiteModel(), end, days=1)
    pd.testing.assert_frame_equal(one, two)
    other = history(SiteModel(seed=7), end, days=1)
    assert not one["energy_consumed"].equals(other["energy_consumed"])
    assert one.index[-1] == pd.Timestamp(end)
    assert len(one) == 1440


def test_summer_beats_winter_and_weekends_differ():
    model = SiteModel()
    june = _local(history(model, "2025-06-30T22:00:00Z", days=14, events=False))
    december = _local(history(model, "2025-12-31T23:00:00Z", days=14, events=False))
    assert june["energy_produced"].sum() > 2 * december["energy_produced"].sum()

    morning = june[(june.index.hour >= 7) & (june.index.hour < 9)]
    weekday = morning[morning.index.day_of_week < 5]["energy_consumed"].mean()
    weekend = morning[morning.index.day_of_week >= 5]["energy_consumed"].mean()
    assert weekday > 1.3 * weekend


def test_events_are_planned_once_and_apart():
    plan = plan_events(30 * 1440, 60, 230.0, 1)
    kinds = [e.kind for e in plan]
    assert kinds.count("outage") == 1
    assert kinds.count("sag") >= 3 and kinds.count("swell") >= 2
    for a, b in zip(plan, plan[1:], strict=False):
        assert a.start + a.length < b.start
    assert plan_events(60, 60, 230.0, 1) == []  # one hour: nothing planned


def test_live_reading_is_valid_and_scales_with_interval():
    when = "2025-06-21T11:00:00Z"
    ten = reading_at(SiteModel(), when, 10)
    sixty = reading_at(SiteModel(), when, 60)
    assert ten["timestamp"] == "2025-06-21T11:00:00Z"
    row, details = validate_reading(ten, now_s=time.time(), require_timestamp=True)
    assert details == [] and row["ts_ms"] == 1_750_503_600_000
    assert ten["energy_produced"] > 0  # a June noon in Berlin
    six_times = pytest.approx(6 * ten["energy_produced"], rel=0.1)
    assert sixty["energy_produced"] == six_times


def test_fill_gap_continues_the_history_after_a_pause(database_url):
    now = pd.Timestamp.now(tz="UTC").floor("min")
    seed_demo(database_url, days=1, end=now - pd.Timedelta(hours=3))
    assert fill_gap(database_url, end=now + pd.Timedelta(seconds=9)) == 1080
    frame = data.read_readings(1, database_url=database_url)
    assert len(frame) == 8640 + 1080
    assert frame.index[-1] == now
    steps = np.diff(frame.index.as_unit("ms").asi8)
    assert set(steps.tolist()) == {10_000}
    assert fill_gap(database_url, end=now + pd.Timedelta(seconds=9)) == 0  # all there
    alerts = data.read_alerts(1, database_url=database_url)
    assert (alerts["kind"] == "outage").sum() == 1  # the gap adds no events
    # the paused hours are continued gap-free, as the quality check sees them
    assert check_quality_now(Settings(database_url=database_url), now) == 0


def test_history_in_pieces_keeps_an_event_whole():
    """Seeding generates a week at a time. With seed 16, 16 days at 10 s put the
    outage (samples 60 447 to 60 506) across the first piece's end (60 480): it
    is still one run of ten minutes of 0 V."""
    model = SiteModel(seed=16)
    end = "2025-06-21T10:00:00Z"
    pieces = list(history_chunks(model, end, days=16, step_s=10))
    assert [len(p) for p in pieces] == [60_480, 60_480, 17_280]
    assert (pieces[0]["voltage"] == 0).sum() == 33
    assert (pieces[1]["voltage"] == 0).sum() == 27
    whole = history(model, end, days=16, step_s=10)
    pd.testing.assert_frame_equal(pd.concat(pieces), whole)
    assert whole.index[-1] == pd.Timestamp(end)
    assert set(np.diff(whole.index.as_unit("ms").asi8).tolist()) == {10_000}
    outage = np.flatnonzero(whole["voltage"].to_numpy() == 0)
    assert outage.tolist() == list(range(60_447, 60_507))


def test_the_demo_never_writes_into_someone_elses_facility_one(database_url, tmp_path):
    """A database whose facility 1 is the user's own got 30 days of fake
    readings, the demo key, tariff and user in it."""
    with session_scope(database_url) as session:
        session.add(Facility(name="Mine", timezone="UTC"))
    with pytest.raises(ValueError, match="facility 1 is 'Mine', not the demo"):
        seed_demo(database_url, days=1)
    assert _count(database_url, Reading) == 0
    assert _count(database_url, ApiKey) == 0
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--days", "1"],
                           env={"DATABASE_URL": database_url,
                                "ENERGY_DASH_INSTANCE": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "energy-dash: error: facility 1 is 'Mine', not the demo: seed the demo "
        "into an empty database")


def test_the_demo_can_seed_at_another_reporting_interval(database_url):
    result = seed_demo(database_url, days=1, production=True, interval_s=60)
    assert result.readings == 1440
    with session_scope(database_url) as session:
        assert session.get(Facility, DEMO_FACILITY_ID).expected_interval_s == 60


def test_the_catch_up_leaves_the_current_second_to_the_live_reading(database_url):
    """fill_gap wrote the 10 s grid up to now, and a live reading that landed on
    that grid point was a second reading with other values: a 'conflict' event
    on a fresh `make run`."""
    seed_demo(database_url, days=1, end=pd.Timestamp.now(tz="UTC") - pd.Timedelta(
        minutes=5))
    while pd.Timestamp.now(tz="UTC").microsecond > 500_000 or (
            pd.Timestamp.now(tz="UTC").second % 10 != 0):  # stand on a grid point
        time.sleep(0.05)
    fill_gap(database_url)
    live = pd.Timestamp.now(tz="UTC").floor("s")
    with session_scope(database_url) as session:
        last = session.scalar(select(func.max(Reading.ts_ms)))
    assert last < live.value // 1_000_000
