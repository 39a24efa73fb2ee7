"""Physical bounds: no reading can break a facility (issue: hostile input, item 1).

Both engines. Two readings of 1e308 kWh were stored and then every sum over the
facility overflowed (PostgreSQL) or became Inf (SQLite); a bulk array holding two
was refused whole.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import text

from energy_dash import data
from energy_dash.db import alembic_config, get_engine, session_scope
from energy_dash.db.models import Facility
from energy_dash.domain.validation import MAX_ENERGY_KWH, validate_reading
from energy_dash.storage.readings import energy_totals

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"
SEED = {
    "energy_produced": 75.5, "energy_consumed": 62.3, "current_load": 35.8,
    "voltage": 220.5, "current": 15.2, "current1": 5.1, "current2": 5.0,
    "current3": 5.1, "frequency": 50.0, "power_factor": 0.95,
}
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_the_1e308_pair_is_refused_and_the_facility_keeps_rendering(
    client, api_key, facility, database_url
):
    t = int(time.time()) - 3600
    for i in range(2):
        body = {**MINIMAL, "energy_produced": 1e308, "timestamp": t + i * 900}
        response = client.post(DATA, json=body, headers=headers(api_key))
        assert response.status_code == 422
        assert response.get_json()["details"] == [{
            "field": "energy_produced", "message": f"must be <= {MAX_ENERGY_KWH:g}",
        }]
    good = client.post(DATA, json={**MINIMAL, "timestamp": t}, headers=headers(api_key))
    assert good.status_code == 201
    with session_scope(database_url) as session:
        totals = energy_totals(session, facility, (t - 3600) * 1000, (t + 3600) * 1000)
    assert totals == {"produced": 1.0, "consumed": 2.0, "self_used": 1.0}


def test_one_gigawatt_over_the_interval_is_refused_by_name(
    client, api_key, facility
):
    # The test facility reports every 60 s: a reading spans at most 120 s, and
    # 1 GW over 120 s is 33 333.3 kWh.
    body = {**MINIMAL, "energy_consumed": 40_000}
    response = client.post(DATA, json=body, headers=headers(api_key))
    assert response.status_code == 422
    [detail] = response.get_json()["details"]
    assert detail["field"] == "energy_consumed"
    assert detail["message"].startswith("implies more than 1 GW over 120 s")
    body = {**MINIMAL, "energy_consumed": 30_000}  # 900 MW: possible, stored
    assert client.post(DATA, json=body, headers=headers(api_key)).status_code == 201


@pytest.mark.parametrize("field", ["current", "current1", "current2", "current3"])
def test_currents_that_could_overflow_sums_are_refused(field):
    _, errors = validate_reading({**MINIMAL, field: 1e300}, now_s=time.time())
    assert errors == [{"field": field, "message": "must be <= 1e+06"}]


def test_seed_payload_is_valid_on_a_default_facility_and_logged_as_unlikely(
    client, database_url
):
    from energy_dash.storage.devices import create_api_key

    with session_scope(database_url) as session:
        row = Facility(name="Defaults")  # 100 kW, 300 s: 75.5 kWh is 906 kW
        session.add(row)
        session.flush()
        facility_id = row.id
        key = create_api_key(session, facility_id, "seed")
    response = client.post(DATA, json={**SEED, "device_id": "meter"},
                            headers=headers(key))
    assert response.status_code == 201
    events = data.read_quality_events(facility_id, database_url=database_url)
    assert list(events["kind"]) == ["spike", "spike"]
    assert set(events["device_id"]) == {"meter"}
    assert sorted(events["detail"]) == [
        "energy_consumed 62.3 kWh is more than 3x the capacity (100 kW) over 300 s "
        "(stored)",
        "energy_produced 75.5 kWh is more than 3x the capacity (100 kW) over 300 s "
        "(stored)",
    ]
    assert data.read_readings(facility_id, database_url=database_url)[
        "energy_produced"].tolist() == [75.5]


def test_mixed_bulk_keeps_every_valid_row(client, api_key, facility, database_url):
    t = int(time.time()) - 7200
    rows = [{**MINIMAL, "timestamp": t + 60 * i} for i in range(100)]
    rows[17]["energy_produced"] = 1e308
    rows[61]["energy_consumed"] = 1e308
    response = client.post(BULK, json=rows, headers=headers(api_key))
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 98
    assert [r["index"] for r in body["rejected"]] == [17, 61]
    frame = data.read_readings(facility, database_url=database_url)
    assert len(frame) == 98
    assert frame["energy_produced"].sum() == 98.0


def _refuse_thirteen(database_url: str) -> None:
    """Make the database itself refuse rows with energy_produced = 13."""
    with get_engine(database_url).begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON readings "
                "WHEN NEW.energy_produced = 13 BEGIN "
                "SELECT RAISE(ABORT, 'refused'); END"
            ))
        else:
            conn.execute(text(
                "ALTER TABLE readings ADD CONSTRAINT refuse_13 "
                "CHECK (energy_produced <> 13)"
            ))


@pytest.fixture
def refusing_database(database_url):
    _refuse_thirteen(database_url)
    yield database_url
    with get_engine(database_url).begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER refuse_13"))
        else:
            conn.execute(text("ALTER TABLE readings DROP CONSTRAINT refuse_13"))


def test_rows_the_database_refuses_are_rejected_alone(
    client, api_key, facility, refusing_database
):
    t = int(time.time()) - 7200
    rows = [{**MINIMAL, "timestamp": t + 60 * i} for i in range(10)]
    rows[4]["energy_produced"] = 13
    response = client.post(BULK, json=rows, headers=headers(api_key))
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 9
    assert body["rejected"] == [
        {"index": 4, "details": [{"field": "", "message": "refused by the database"}]}
    ]
    frame = data.read_readings(facility, database_url=refusing_database)
    assert len(frame) == 9


def test_write_readings_applies_the_same_bounds(facility, database_url):
    t = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(hours=2)
    frame = pd.DataFrame(
        {"energy_produced": [1.0, 40_000.0, 2.0], "energy_consumed": 1.0,
         "current_load": 1.0},
        index=pd.DatetimeIndex([t, t + pd.Timedelta(minutes=1),
                                t + pd.Timedelta(minutes=2)]),
    )
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1]
    assert result["rejected"][0]["details"][0]["field"] == "energy_produced"


def test_upgrade_removes_impossible_readings_and_rebuilds_rollups(tmp_path):
    """A database filled by an older version (1e308 and Inf rows) renders again."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0002")
    bucket = 1_750_000_500_000 // 900_000 * 900_000
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO facilities (id, name, capacity_kw, timezone, "
                          "nominal_voltage, expected_interval_s, voltage_warning_pct,"
                          " voltage_critical_pct, voltage_hysteresis_pct, created_at)"
                          " VALUES (1, 'old', 100, 'UTC', 230, 60, 10, 15, 1, "
                          "'2025-01-01 00:00:00')"))
        for i, produced in enumerate((1e308, 1e308, 2.5, float("inf"))):
            conn.execute(text(
                "INSERT INTO readings (facility_id, device_id, ts_ms, "
                "energy_produced, energy_consumed, current_load) "
                "VALUES (1, 'd', :ts, :p, 1.0, 1.0)"
            ), {"ts": bucket + i * 1000, "p": produced})
        conn.execute(text(
            "INSERT INTO reading_rollups SELECT 1, :b, 4, 3, 9e999, 4, 4, 4, "
            "4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
        ), {"b": bucket})
    command.upgrade(alembic_config(url), "head")
    with session_scope(url) as session:
        totals = energy_totals(session, 1, bucket, bucket + 900_000)
        count = session.execute(text("SELECT samples, energy_produced_sum FROM "
                                     "reading_rollups")).one()
    assert totals == {"produced": 2.5, "consumed": 1.0, "self_used": 1.0}
    assert tuple(count) == (1, 2.5)
    assert all(math.isfinite(v) for v in totals.values())
