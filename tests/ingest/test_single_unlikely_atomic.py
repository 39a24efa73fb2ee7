"""The sensor API (single and bulk): an unlikely value and its data-quality event are
committed together, or neither is.

The test facility has 100 kW and reports every 60 s: 6 kWh in a reading is
unlikely (stored, and logged as a spike).
"""

from __future__ import annotations

import time

from sqlalchemy import text

from energy_dash import data
from energy_dash.db import get_engine
from ingest.openapi import API_KEY_HEADER

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"

REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_events BEFORE INSERT ON quality_events "
        "BEGIN SELECT RAISE(ABORT, 'events refused'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'events refused' USING ERRCODE = 'check_violation'; "
        "END $$",
        "CREATE TRIGGER refuse_events BEFORE INSERT ON quality_events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_events()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_events"],
    "postgresql": ["DROP TRIGGER refuse_events ON quality_events",
                   "DROP FUNCTION refuse_events()"],
}


def run(database_url: str, statements: dict[str, list[str]]) -> None:
    engine = get_engine(database_url)
    with engine.begin() as conn:
        for sql in statements[engine.dialect.name]:
            conn.execute(text(sql))


def test_the_reading_is_not_stored_without_its_event(client, database_url,
                                                     facility, api_key):
    stamp = int(time.time()) - 600
    body = {"timestamp": stamp, "energy_consumed": 6.0, "energy_produced": 0.0,
            "current_load": 5.0, "device_id": "meter"}
    run(database_url, REFUSE)  # the event's insert fails
    refused = client.post(DATA, json=body, headers={API_KEY_HEADER: api_key})
    assert refused.status_code == 422
    assert refused.get_json()["details"] == [
        {"field": "", "message": "refused by the database"}]
    assert len(data.read_readings(facility, database_url=database_url)) == 0
    run(database_url, ALLOW)
    stored = client.post(DATA, json=body, headers={API_KEY_HEADER: api_key})
    assert stored.status_code == 201
    again = client.post(DATA, json=body, headers={API_KEY_HEADER: api_key})
    assert again.get_json()["status"] == "duplicate"
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [6.0]
    events = data.read_quality_events(facility, database_url=database_url)
    assert [(int(t.timestamp()), r.device_id, r.kind, r.detail)
            for t, r in events.iterrows()] == [
        (stamp, "meter", "spike", "energy_consumed 6 kWh is more than 3x the "
         "capacity (100 kW) over 60 s (stored)")]


def test_bulk_rows_are_not_stored_without_their_events(client, database_url,
                                                       facility, api_key):
    """``POST /api/hardware/data/bulk``: the unlikely row and its event commit
    together; the rows without events are stored all the same."""
    stamp = int(time.time()) - 600
    rows = [{"timestamp": stamp + 60 * i, "energy_consumed": e,
             "energy_produced": 0.0, "current_load": 5.0, "device_id": "meter"}
            for i, e in enumerate((0.5, 6.0, 0.7))]
    run(database_url, REFUSE)  # the event's insert fails
    refused = client.post(BULK, json=rows, headers={API_KEY_HEADER: api_key})
    assert refused.status_code == 200
    assert refused.get_json()["accepted"] == 2
    assert refused.get_json()["rejected"] == [{"index": 1, "details": [
        {"field": "", "message": "refused by the database"}]}]
    run(database_url, ALLOW)
    again = client.post(BULK, json=rows, headers={API_KEY_HEADER: api_key})
    assert (again.get_json()["accepted"], again.get_json()["duplicates"]) == (1, 2)
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [0.5, 6.0, 0.7]
    events = data.read_quality_events(facility, database_url=database_url)
    assert [(int(t.timestamp()), r.kind, r.detail) for t, r in events.iterrows()] == [
        (stamp + 60, "spike", "energy_consumed 6 kWh is more than 3x the "
         "capacity (100 kW) over 60 s (stored)")]
