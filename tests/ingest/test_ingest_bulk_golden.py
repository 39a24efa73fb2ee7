"""A mixed bulk answers exactly as the row-by-row validator did.

The bulk endpoint validates whole columns at once (``domain/batch.py``); the
expected bodies below were recorded from the row-by-row implementation, so any
drift in a rejection message, its order or the counts shows here. Both engines.
"""

from __future__ import annotations

import json
import time

import pytest

from energy_dash import data

BULK = "/api/hardware/data/bulk"
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}


def mixed_rows(t: int) -> list:
    """Every kind of row a gateway or a hostile client may send, in one batch."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(t + 3600))
    return [
        {**MINIMAL, "timestamp": iso, "voltage": 231.0, "device_id": "gw-1"},  # 0
        {**MINIMAL, "timestamp": t + 1.5},                          # 1 fraction
        {**MINIMAL, "timestamp": str(t + 2), "energy_consumed": "2.5"},  # 2 strings
        {**MINIMAL, "timestamp": t + 3, "energy_produced": 1e308,
         "energy_consumed": 1e308},                                 # 3 over bounds
        {**MINIMAL, "timestamp": t + 4, "energy_produced": 40000.0},  # 4 over 1 GW
        {**MINIMAL, "timestamp": t + 5, "energy_produced": 40000.0,
         "facility_id": 99},                                        # 5 both
        {**MINIMAL, "timestamp": t + 6, "facility_id": 99},         # 6 mismatch
        {**MINIMAL, "timestamp": t + 7, "facility_id": "1"},        # 7 ok (string)
        {**MINIMAL, "timestamp": t + 8, "device_id": ""},           # 8 empty device
        {**MINIMAL, "timestamp": t + 9, "device_id": "x" * 65},     # 9 long device
        {**MINIMAL, "timestamp": t + 10, "device_id": "bad\x00id"},  # 10 NUL
        {**MINIMAL, "timestamp": t + 11, "voltage": True},          # 11 boolean
        {**MINIMAL, "timestamp": "2025-02-30T00:00:00Z"},           # 12 no such day
        {**MINIMAL, "timestamp": "2025-01-01T00:00:00"},            # 13 no offset
        {**MINIMAL, "timestamp": t * 1000},                         # 14 milliseconds
        {**MINIMAL, "timestamp": 1},                                # 15 1970
        {**MINIMAL, "timestamp": t + 7200 + 400},                   # 16 future
        {"timestamp": t + 17, "energy_consumed_total": 10.0},       # 17 register
        {"timestamp": t + 18, "current_load": 3.0},                 # 18 missing
        {**MINIMAL, "timestamp": t + 19, "frequency": 80, "power_factor": -2,
         "current": -1},                                            # 19 three
        {**MINIMAL, "timestamp": t + 20, "voltage": "230,5"},        # 20 comma
        {**MINIMAL, "timestamp": t + 21, "voltage": "١٢"},           # 21 digits
        [1, 2, 3],                                                  # 22 array
        None,                                                       # 23 null
        {**MINIMAL, "timestamp": iso, "device_id": "gw-1"},         # 24 duplicate
        {**MINIMAL, "timestamp": t + 25, "energy_produced": 400.0},  # 25 unlikely
        {**MINIMAL, "timestamp": t + 26, "device_id": "  padded  "},  # 26 stripped
        {**MINIMAL, "timestamp": t + 27, "current_load": 2**60},    # 27 huge int
    ]


def _d(field: str, message: str) -> dict:
    return {"field": field, "message": message}


OVER_1GW = ("implies more than 1 GW over 120 s (twice the facility's reporting "
            "interval); must be <= 33333.3")
MISMATCH = "does not match the facility of this API key"
NOT_OBJECT = "each reading must be a JSON object"
EXPECTED_REJECTED = [
    (3, [_d("energy_produced", "must be <= 4.8e+07"),
         _d("energy_consumed", "must be <= 4.8e+07")]),
    (4, [_d("energy_produced", OVER_1GW)]),
    (5, [_d("energy_produced", OVER_1GW)]),  # the bound is named before the facility
    (6, [_d("facility_id", MISMATCH)]),
    (8, [_d("device_id", "must be a non-empty string")]),
    (9, [_d("device_id", "must be at most 64 characters")]),
    (10, [_d("device_id", "must be printable text (no NUL, control characters or "
             "unpaired surrogates)")]),
    (11, [_d("voltage", "must be a number")]),
    (12, [_d("timestamp", "must be ISO 8601 with a UTC offset or Unix seconds")]),
    (13, [_d("timestamp", "must include a UTC offset (e.g. 2025-01-01T12:00:00Z)")]),
    (14, [_d("timestamp", "looks like milliseconds; send Unix seconds")]),
    (15, [_d("timestamp", "is before 2000-01-01; is the device clock set (NTP)?")]),
    (16, [_d("timestamp", "is more than 5 minutes in the future")]),
    (18, [_d("energy_produced", "is required"), _d("energy_consumed", "is required")]),
    (19, [_d("current", "must be >= 0"), _d("frequency", "must be <= 70"),
          _d("power_factor", "must be >= -1")]),
    (20, [_d("voltage", "must be a number")]),
    (21, [_d("voltage", "must be a number in ASCII digits")]),
    (22, [_d("", NOT_OBJECT)]),
    (23, [_d("", NOT_OBJECT)]),
    (27, [_d("current_load", "must be <= 100")]),
]
BROKEN_LINE = (28, [_d("", "line is not valid JSON: Expecting property name enclosed "
                        "in double quotes (line 1 column 2)")])
# (seconds after t, device, produced, consumed, voltage) of what is stored
EXPECTED_STORED = [
    (0, "gw-1", 1.0, 2.0, 231.0),
    (1.5, "sensor-1", 1.0, 2.0, None),
    (2, "sensor-1", 1.0, 2.5, None),
    (7, "sensor-1", 1.0, 2.0, None),
    (17, "sensor-1", 0.0, 0.0, None),  # a first register reading books nothing
    (25, "sensor-1", 400.0, 2.0, None),
    (26, "padded", 1.0, 2.0, None),
]


def post(client, key, rows, ndjson: bool):
    if ndjson:
        body = "\n".join(json.dumps(r) for r in rows) + "\n{broken\n"
        return client.post(BULK, data=body.encode(),
                           content_type="application/x-ndjson",
                           headers={"X-API-Key": key})
    return client.post(BULK, json=rows, headers={"X-API-Key": key})


@pytest.mark.parametrize("ndjson", [False, True], ids=["array", "ndjson"])
def test_mixed_bulk_answers_as_the_row_validator(
    client, api_key, facility, database_url, ndjson
):
    t = int(time.time()) - 7200
    response = post(client, api_key, mixed_rows(t), ndjson)
    assert response.status_code == 200
    rejected = EXPECTED_REJECTED + ([BROKEN_LINE] if ndjson else [])
    assert response.get_json() == {
        "accepted": 7,
        "duplicates": 1,
        "rejected": [{"index": i, "details": d} for i, d in rejected],
        "alerts": [],
    }
    stored = data.read_readings(facility, database_url=database_url)
    got = [
        (ts.timestamp() - t, device, produced, consumed,
         None if voltage != voltage else voltage)
        for ts, device, produced, consumed, voltage in zip(
            stored.index, stored["device_id"], stored["energy_produced"],
            stored["energy_consumed"], stored["voltage"], strict=True)
    ]
    assert got == EXPECTED_STORED
    events = data.read_quality_events(facility, database_url=database_url)
    assert list(events["kind"]) == ["spike"]
    assert list(events["detail"]) == [
        "energy_produced 400 kWh is more than 3x the capacity (100 kW) over 60 s "
        "(stored)"
    ]
