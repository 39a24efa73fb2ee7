"""POST /api/hardware/data/bulk: JSON arrays and NDJSON, partial failure, limits,
alerts in timestamp order (README "Sensor API"). Both engines."""

from __future__ import annotations

import json
import random
import time

import pandas as pd
import pytest

from energy_dash import data

BULK = "/api/hardware/data/bulk"
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}
EMPTY_RESULT = {"accepted": 0, "duplicates": 0, "rejected": [], "alerts": []}


def base_ts() -> int:
    return int(time.time()) - 7200


def post_bulk(client, key, rows):
    return client.post(BULK, json=rows, headers={"X-API-Key": key})


def post_ndjson(client, key, payload: bytes, content_type="application/x-ndjson"):
    return client.post(BULK, data=payload, content_type=content_type,
                       headers={"X-API-Key": key})


def stored(database_url, facility) -> pd.DataFrame:
    return data.read_readings(facility, database_url=database_url)


def test_valid_rows_are_stored_when_others_are_rejected(
    client, api_key, facility, database_url
):
    t = base_ts()
    earlier = client.post("/api/hardware/data", json={**MINIMAL, "timestamp": t + 600},
                          headers={"X-API-Key": api_key})
    assert earlier.status_code == 201
    rows = [
        {**MINIMAL, "timestamp": t},                                   # 0 ok
        {**MINIMAL},                                                   # 1 no timestamp
        {**MINIMAL, "timestamp": t + 60, "device_id": "meter-2"},      # 2 ok
        {**MINIMAL, "timestamp": t, "energy_produced": 5},             # 3 dup of 0
        {**MINIMAL, "timestamp": t + 120, "voltage": 2000,
         "energy_consumed": -1},                                       # 4 invalid
        {**MINIMAL, "timestamp": t + 180, "facility_id": 2},           # 5 facility
        {**MINIMAL, "timestamp": t + 600},                             # 6 dup, earlier
        "not a reading",                                               # 7
        {**MINIMAL, "timestamp": str(t + 240), "current_load": "4.5",
         "facility_id": facility, "extra": [1]},                       # 8 ok
    ]
    response = post_bulk(client, api_key, rows)
    assert response.status_code == 200
    assert response.get_json() == {
        "accepted": 3,
        "duplicates": 2,
        "rejected": [
            {"index": 1, "details": [{"field": "timestamp", "message": "is required"}]},
            {"index": 4, "details": [
                {"field": "energy_consumed", "message": "must be >= 0"},
                {"field": "voltage", "message": "must be <= 1000"},
            ]},
            {"index": 5, "details": [
                {"field": "facility_id",
                 "message": "does not match the facility of this API key"},
            ]},
            {"index": 7, "details": [
                {"field": "", "message": "each reading must be a JSON object"},
            ]},
        ],
        "alerts": [],
    }
    frame = stored(database_url, facility)
    assert len(frame) == 4
    assert [int(ts.timestamp()) for ts in frame.index] == [t, t + 60, t + 240, t + 600]
    assert list(frame["device_id"]) == ["sensor-1", "meter-2", "sensor-1", "sensor-1"]
    assert frame.iloc[0]["energy_produced"] == 1.0  # the in-batch duplicate lost
    assert frame.iloc[2]["current_load"] == 4.5


def test_empty_array_is_fine(client, api_key, facility):
    response = post_bulk(client, api_key, [])
    assert (response.status_code, response.get_json()) == (200, EMPTY_RESULT)


def test_ndjson_lines_are_readings_and_bad_lines_are_rejected(
    client, api_key, facility, database_url
):
    t = base_ts()
    lines = [
        json.dumps({**MINIMAL, "timestamp": t}),           # 0
        "",                                                # 1 blank: skipped
        "{not json",                                       # 2
        json.dumps([MINIMAL]),                             # 3 not an object
        json.dumps({**MINIMAL, "timestamp": t + 60}),      # 4
        '{"energy_produced": NaN}',                        # 5
        json.dumps({**MINIMAL, "timestamp": t}),           # 6 duplicate of 0
        json.dumps(MINIMAL),                               # 7 no timestamp
    ]
    payload = "\r\n".join(lines).encode() + b"\n\xc3\x28\n   \n"  # 8: bad UTF-8
    response = post_ndjson(client, api_key, payload)
    assert response.status_code == 200
    assert response.get_json() == {
        "accepted": 2,
        "duplicates": 1,
        "rejected": [
            {"index": 2, "details": [{"field": "", "message": "line is not valid "
                                      "JSON: Expecting property name enclosed in "
                                      "double quotes (line 1 column 2)"}]},
            {"index": 3, "details": [{"field": "", "message": "each reading must be "
                                      "a JSON object"}]},
            {"index": 5, "details": [{"field": "", "message": "line is not valid "
                                      "JSON: NaN is not valid JSON; send a number or "
                                      "leave the field out"}]},
            {"index": 7, "details": [{"field": "timestamp", "message": "is required"}]},
            {"index": 8, "details": [{"field": "", "message": "line is not valid "
                                      "UTF-8"}]},
        ],
        "alerts": [],
    }
    assert [int(ts.timestamp()) for ts in stored(database_url, facility).index] == [
        t, t + 60
    ]


@pytest.mark.parametrize("content_type", ["application/ndjson", "application/jsonl",
                                          "application/x-ndjson; charset=utf-8"])
def test_ndjson_content_type_variants(client, api_key, facility, content_type):
    payload = json.dumps({**MINIMAL, "timestamp": base_ts()}).encode()
    response = post_ndjson(client, api_key, payload, content_type)
    assert response.get_json()["accepted"] == 1


def test_alerts_are_evaluated_in_timestamp_order_of_a_shuffled_array(
    client, api_key, facility, database_url
):
    t = base_ts()
    volts = [230, 254, 258, 266, 251, 250, 200, 230]
    rows = [{**MINIMAL, "voltage": v, "timestamp": t + 60 * i}
            for i, v in enumerate(volts)]
    random.Random(7).shuffle(rows)
    assert [r["timestamp"] for r in rows] != sorted(r["timestamp"] for r in rows)
    response = post_bulk(client, api_key, rows)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (8, 0, [])
    reported = [(a["kind"], a["level"], a["event"], a["value"], a["started_at"])
                for a in body["alerts"]]
    utc = lambda s: pd.Timestamp(t + s, unit="s", tz="UTC")  # noqa: E731
    assert [(k, lv, e, v) for k, lv, e, v, _ in reported] == [
        ("voltage_high", "critical", "opened", 266.0),
        ("voltage_low", "warning", "opened", 200.0),
    ]
    assert [pd.Timestamp(s) for *_, s in reported] == [utc(60), utc(360)]

    alerts = data.read_alerts(facility, database_url=database_url)
    alerts = alerts.sort_values("started_at").reset_index(drop=True)
    assert list(alerts["kind"]) == ["voltage_high", "voltage_low"]
    high, low = alerts.iloc[0], alerts.iloc[1]
    assert (high["level"], high["extreme_value"]) == ("critical", 266.0)
    assert (high["started_at"], high["ended_at"]) == (utc(60), utc(300))
    assert (low["level"], low["extreme_value"]) == ("warning", 200.0)
    assert (low["started_at"], low["ended_at"]) == (utc(360), utc(420))


def test_ten_thousand_rows_pass_and_one_more_is_413(
    client, api_key, facility, database_url
):
    t = base_ts() - 20_000
    rows = [{**MINIMAL, "timestamp": t + i} for i in range(10_001)]
    too_many = post_bulk(client, api_key, rows)
    assert too_many.status_code == 413
    assert too_many.get_json() == {
        "error": "too many readings: 10001 in one request, at most 10000"
    }
    ndjson = "\n".join(json.dumps(r) for r in rows).encode()
    assert post_ndjson(client, api_key, ndjson).get_json() == too_many.get_json()
    assert stored(database_url, facility).empty

    response = post_bulk(client, api_key, rows[:10_000])
    assert response.status_code == 200
    assert response.get_json() == {**EMPTY_RESULT, "accepted": 10_000}
    assert len(stored(database_url, facility)) == 10_000


def test_body_over_sixteen_mebibytes_is_413(client, api_key, facility):
    payload = b"[" + b" " * (16 * 1024 * 1024) + b"]"
    response = post_ndjson(client, api_key, payload, "application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "body too large: at most 16777216 bytes"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"energy_produced": 1}', "body must be a JSON array of readings (or NDJSON "
         "sent as application/x-ndjson)"),
        (b"[{]", "body is not valid JSON: Expecting property name enclosed in double "
         "quotes (line 1 column 3)"),
        (b"[NaN]", "body is not valid JSON: NaN is not valid JSON; send a number or "
         "leave the field out"),
        (b"", "body is empty; send a JSON document"),
    ],
    ids=["object", "broken", "nan", "empty"],
)
def test_bodies_that_are_not_json_arrays_answer_400(client, api_key, facility,
                                                     payload, message):
    response = post_ndjson(client, api_key, payload, "application/json")
    assert (response.status_code, response.get_json()) == (400, {"error": message})


def test_bulk_auth_and_content_type(client, api_key, facility):
    rows = [{**MINIMAL, "timestamp": base_ts()}]
    missing = client.post(BULK, json=rows)
    assert (missing.status_code, missing.get_json()) == (
        401, {"error": "invalid or missing API key"}
    )
    wrong = post_bulk(client, api_key + "x", rows)
    assert wrong.status_code == 401
    text = post_ndjson(client, api_key, json.dumps(rows).encode(), "text/csv")
    assert (text.status_code, text.get_json()) == (
        415,
        {"error": "unsupported Content-Type; send application/json (an array) or "
                  "application/x-ndjson"},
    )
