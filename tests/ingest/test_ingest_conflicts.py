"""A duplicate with other values than the stored reading is a ``conflict`` event.

Sensors that resend after a reboot with a changed value (a re-read register, a
firmware bug) must not silently keep the first value: the reading stays stored
once, and the data-quality log says which fields differed. Both HTTP paths,
both engines. Device ids are unique per test: the log admits one event per
device and detail per quarter hour.
"""

from __future__ import annotations

import time
import uuid

from energy_dash import data

ONE = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0,
           "voltage": 230.0}


def events(database_url, facility) -> list[tuple]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return [(int(ts.timestamp()), device, kind, detail) for ts, device, kind, detail
            in zip(frame.index, frame["device_id"], frame["kind"], frame["detail"],
                   strict=True)]


def test_a_single_duplicate_with_other_values_is_logged_once(
    client, api_key, facility, database_url
):
    t, device = int(time.time()) - 3600, f"m-{uuid.uuid4().hex[:8]}"
    first = {**MINIMAL, "timestamp": t, "device_id": device}
    headers = {"X-API-Key": api_key}
    assert client.post(ONE, json=first, headers=headers).status_code == 201
    same = client.post(ONE, json=first, headers=headers)
    assert (same.status_code, same.get_json()["status"]) == (200, "duplicate")
    assert events(database_url, facility) == []  # the same values: no conflict
    other = client.post(ONE, json={**first, "energy_consumed": 2.5, "voltage": 231.0},
                        headers=headers)
    assert (other.status_code, other.get_json()["status"]) == (200, "duplicate")
    assert events(database_url, facility) == [
        (t, device, "conflict",
         "same timestamp, different energy_consumed, voltage; first kept"),
    ]
    stored = data.read_readings(facility, database_url=database_url)
    assert stored["energy_consumed"].tolist() == [2.0]  # the first value is kept


def test_bulk_duplicates_with_other_values_are_logged(
    client, api_key, facility, database_url
):
    t, device = int(time.time()) - 7200, f"gw-{uuid.uuid4().hex[:8]}"
    rows = [{**MINIMAL, "timestamp": t + 60 * i, "device_id": device}
            for i in range(5)]
    headers = {"X-API-Key": api_key}
    first = client.post(BULK, json=rows, headers=headers).get_json()
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert events(database_url, facility) == []  # new readings: nothing to compare
    again = [
        rows[0],                                       # the same values
        {**rows[1], "voltage": 240.0},                 # conflict
        {**rows[3], "current_load": 9.0, "frequency": 50.0},  # conflict
        {**MINIMAL, "timestamp": t + 600, "device_id": device},  # new
    ]
    second = client.post(BULK, json=again, headers=headers).get_json()
    assert (second["accepted"], second["duplicates"], second["rejected"]) == (
        1, 3, [])
    assert events(database_url, facility) == [
        (t + 60, device, "conflict", "same timestamp, different voltage; first kept"),
        (t + 180, device, "conflict",
         "same timestamp, different current_load, frequency; first kept"),
    ]
    stored = data.read_readings(facility, database_url=database_url)
    assert stored["voltage"].tolist() == [230.0] * 6
