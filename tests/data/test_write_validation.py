"""``data.write_readings`` applies the sensor API's validation, row by row.

The bad rows are also posted to the sensor API (under other device ids), so "the
same as the API" is checked against the API itself: the same rows refused with
the same field and message, the same data-quality events. The test facility has
100 kW and reports every 60 s, so more than 5 kWh in one reading is unlikely
(stored, and logged as a ``spike``).
"""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from energy_dash import data

GOOD = {"energy_produced": 0.1, "energy_consumed": 0.2, "current_load": 10.0}
T = 1_793_577_900  # 2026-11-02T00:05:00Z
BULK = "/api/hardware/data/bulk"
DATA = "/api/hardware/data"


def stored(database_url, facility) -> list[tuple]:
    """(UTC time, device, consumed [kWh]) of every stored reading, in time order."""
    frame = data.read_readings(facility, database_url=database_url)
    return [(t.isoformat(), row.device_id, row.energy_consumed)
            for t, row in frame.iterrows()]


def events(database_url, facility) -> list[tuple]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return [(t.isoformat(), row.device_id, row.kind, row.detail)
            for t, row in frame.iterrows()]


def at(seconds: int) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


# ------------------------------------------------------------------- bug 1: cells
@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"device_id": "x" * 70}, "device_id", "must be at most 64 characters"),
        ({"device_id": "a\x00b"}, "device_id", "must be printable text (no NUL, "
         "control characters or unpaired surrogates)"),
        ({"device_id": "a\ud800b"}, "device_id", "must be printable text (no NUL, "
         "control characters or unpaired surrogates)"),
        ({"device_id": "   "}, "device_id", "must be a non-empty string"),
        ({"device_id": 7}, "device_id", "must be a non-empty string"),
        ({"energy_consumed": True}, "energy_consumed", "must be a number"),
        ({"energy_consumed": "12abc"}, "energy_consumed", "must be a number"),
        ({"energy_consumed": "1_000"}, "energy_consumed",
         "must be a number in ASCII digits"),
        ({"energy_consumed": "inf"}, "energy_consumed", "must be a finite number"),
        ({"energy_consumed": "١٢"}, "energy_consumed",
         "must be a number in ASCII digits"),
        ({"voltage": [230.0]}, "voltage", "must be a number"),
        ({"voltage": Decimal("230")}, "voltage", "must be a number"),
        ({"energy_consumed": 10**400}, "energy_consumed", "must be a finite number"),
        ({"facility_id": "one"}, "facility_id", "must be an integer"),
    ],
)
def test_a_bad_cell_is_refused_as_the_api_refuses_it_and_good_rows_stay(
    database_url, facility, client, api_key, bad, field, message
):
    frame = pd.DataFrame([GOOD, GOOD], index=[at(T), at(T + 60)])
    for name, value in bad.items():  # one odd cell in an object column
        frame[name] = pd.Series([GOOD.get(name), value], index=frame.index,
                                dtype=object)
    result = data.write_readings(frame, facility, database_url=database_url)
    details = [{"field": field, "message": message}]
    assert result == {"accepted": 1, "duplicates": 0,
                      "rejected": [{"index": 1, "details": details}]}
    assert stored(database_url, facility) == [
        ("2026-11-02T00:05:00+00:00", "notebook", 0.2)]
    if not isinstance(bad.get("voltage"), Decimal):  # JSON has no Decimal
        answer = client.post(DATA, json={**GOOD, **bad, "timestamp": T + 60},
                             headers={"X-API-Key": api_key})
        assert answer.status_code == 422
        assert answer.get_json()["details"] == details


def test_what_the_api_accepts_is_stored_as_the_api_stores_it(database_url, facility):
    frame = pd.DataFrame(
        [{**GOOD, "device_id": "  meter  "}, {**GOOD, "energy_consumed": " 0.25 "},
         {**GOOD, "energy_consumed": 3, "facility_id": str(facility)},
         {**GOOD, "device_id": "m" * 64, "facility_id": float(facility)}],
        index=[at(T), at(T + 60), at(T + 120), at(T + 180)],
    )
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert stored(database_url, facility) == [
        ("2026-11-02T00:05:00+00:00", "meter", 0.2),
        ("2026-11-02T00:06:00+00:00", "notebook", 0.25),
        ("2026-11-02T00:07:00+00:00", "notebook", 3.0),
        ("2026-11-02T00:08:00+00:00", "m" * 64, 0.2),
    ]


def test_rows_checked_one_by_one_keep_their_frame_positions(database_url, facility):
    # "0.5" and "x" take the row validator; 40 000 kWh passes it but not the
    # facility's physical bound (1 GW over twice its 60 s interval).
    frame = pd.DataFrame(GOOD, index=[at(T + 60 * i) for i in range(4)])
    frame["energy_consumed"] = pd.Series(["0.5", "x", 40_000.0, 0.2],
                                         index=frame.index, dtype=object)
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result == {"accepted": 2, "duplicates": 0, "rejected": [
        {"index": 1, "details": [{"field": "energy_consumed",
                                  "message": "must be a number"}]},
        {"index": 2, "details": [{"field": "energy_consumed", "message":
                                  "implies more than 1 GW over 120 s (twice the "
                                  "facility's reporting interval); must be <= "
                                  "33333.3"}]},
    ]}
    assert stored(database_url, facility) == [
        ("2026-11-02T00:05:00+00:00", "notebook", 0.5),
        ("2026-11-02T00:08:00+00:00", "notebook", 0.2)]


def test_a_nul_device_beside_a_good_row_stores_the_good_row(database_url, facility):
    # PostgreSQL refuses NUL bytes in text: the whole batch failed with DataError.
    frame = pd.DataFrame({**GOOD, "device_id": ["meter", "a\x00b"]},
                         index=[at(T), at(T + 60)])
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1]
    assert stored(database_url, facility) == [
        ("2026-11-02T00:05:00+00:00", "meter", 0.2)]


def test_a_boolean_column_is_refused_on_every_row(database_url, facility):
    frame = pd.DataFrame({**GOOD, "energy_consumed": [True, False]},
                         index=[at(T), at(T + 60)])
    result = data.write_readings(frame, facility, database_url=database_url)
    assert result["accepted"] == 0
    assert result["rejected"] == [
        {"index": i, "details": [{"field": "energy_consumed",
                                  "message": "must be a number"}]}
        for i in (0, 1)
    ]


def test_an_invalid_default_device_is_an_error(database_url, facility):
    frame = pd.DataFrame([GOOD], index=[at(T)])
    with pytest.raises(ValueError, match="device_id must be at most 64 characters"):
        data.write_readings(frame, facility, device_id="d" * 65,
                            database_url=database_url)
    assert stored(database_url, facility) == []


# -------------------------------------------------------------- bug 2: timestamps
def timestamp_frame(stamps: list) -> pd.DataFrame:
    return pd.DataFrame({**GOOD, "timestamp": stamps})


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        ([1793577900, 1793578200],
         ["2026-11-02T00:05:00+00:00", "2026-11-02T00:10:00+00:00"]),
        ([1793577900.5, 1793578200.25],
         ["2026-11-02T00:05:00.500000+00:00", "2026-11-02T00:10:00.250000+00:00"]),
        (["2026-11-01T01:10:00+01:00", "2026-11-01T01:15:00Z"],
         ["2026-11-01T00:10:00+00:00", "2026-11-01T01:15:00+00:00"]),
        ([1793577900, "2026-11-01T01:15:00Z"],
         ["2026-11-01T01:15:00+00:00", "2026-11-02T00:05:00+00:00"]),
        (["1793577900", " 2026-11-01T01:15:00.250+00:00 "],
         ["2026-11-01T01:15:00.250000+00:00", "2026-11-02T00:05:00+00:00"]),
    ],
    ids=["unix-int", "unix-float", "mixed-offsets", "int-and-iso", "strings"],
)
def test_timestamps_the_api_accepts_are_stored(database_url, facility, stamps,
                                               expected):
    result = data.write_readings(timestamp_frame(stamps), facility,
                                 database_url=database_url)
    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert [t for t, _, _ in stored(database_url, facility)] == expected


def test_bad_timestamps_are_refused_per_row_as_the_bulk_api_does(
    database_url, facility, client, api_key
):
    future = int(time.time()) + 3600
    stamps = [
        T, "2026-11-01T01:10:00", "yesterday", 1_793_577_900_000, None, future,
        946_684_799, True, "2026-02-30T00:00:00Z", 10**400, float("nan"),
        "2026-11-01T01:20:00+01:00", T + 60,
    ]
    bodies = [{**GOOD, "timestamp": s} for s in stamps]
    bodies[10].pop("timestamp")  # JSON has no NaN: the field left out instead
    frame = timestamp_frame(stamps)
    result = data.write_readings(frame, facility, database_url=database_url)

    def refused(message):
        return [{"field": "timestamp", "message": message}]

    assert result == {
        "accepted": 3, "duplicates": 0,
        "rejected": [
            {"index": 1, "details": refused(
                "must include a UTC offset (e.g. 2025-01-01T12:00:00Z)")},
            {"index": 2, "details": refused(
                "must be ISO 8601 with a UTC offset or Unix seconds")},
            {"index": 3, "details": refused(
                "looks like milliseconds; send Unix seconds")},
            {"index": 4, "details": refused("is required")},
            {"index": 5, "details": refused("is more than 5 minutes in the future")},
            {"index": 6, "details": refused(
                "is before 2000-01-01; is the device clock set (NTP)?")},
            {"index": 7, "details": refused(
                "must be ISO 8601 with a UTC offset or Unix seconds")},
            {"index": 8, "details": refused(
                "must be ISO 8601 with a UTC offset or Unix seconds")},
            {"index": 9, "details": refused("must be a finite number of seconds")},
            {"index": 10, "details": refused("is required")},
        ],
    }
    assert [t for t, _, _ in stored(database_url, facility)] == [
        "2026-11-01T00:20:00+00:00", "2026-11-02T00:05:00+00:00",
        "2026-11-02T00:06:00+00:00"]

    answer = client.post(BULK, data=_json(bodies), content_type="application/json",
                         headers={"X-API-Key": api_key})
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["accepted"], body["rejected"]) == (3, result["rejected"])


def _json(bodies: list[dict]) -> str:
    """JSON text of ``bodies``; Python's json writes the 400-digit integer too."""
    import json

    return json.dumps(bodies)


def test_datetime_columns_and_indexes_keep_working(database_url, facility):
    berlin = pd.date_range("2026-11-01 01:00", periods=2, freq="1min",
                           tz="Europe/Berlin")
    as_column = pd.DataFrame({**GOOD, "timestamp": berlin})
    naive_index = pd.DataFrame(GOOD, index=pd.date_range("2026-11-01 03:00",
                                                         periods=2, freq="1min"))
    ms_index = pd.DataFrame(GOOD, index=pd.DatetimeIndex(
        ["2026-11-01 04:00:00.123456789"], tz="UTC"))
    for frame in (as_column, naive_index, ms_index):
        result = data.write_readings(frame, facility, database_url=database_url)
        assert result["rejected"] == []
    assert [t for t, _, _ in stored(database_url, facility)] == [
        "2026-11-01T00:00:00+00:00", "2026-11-01T00:01:00+00:00",
        "2026-11-01T03:00:00+00:00", "2026-11-01T03:01:00+00:00",
        "2026-11-01T04:00:00.123000+00:00",
    ]


def test_odd_timestamp_sources_are_refused_not_raised(database_url, facility):
    from datetime import datetime

    old = pd.DataFrame({**GOOD, "timestamp": [datetime(1, 1, 1), at(T)]})
    far = pd.DataFrame(GOOD, index=pd.DatetimeIndex(
        np.array(["9999-01-01", "2026-11-02T00:05"], dtype="datetime64[s]")))
    no_times = pd.DataFrame([GOOD])  # a RangeIndex: 0 seconds
    strange = pd.DataFrame({**GOOD, "timestamp": pd.Series(
        [pd.Timedelta(5), np.timedelta64(5, "s"), pd.Period("2026-11"), 1 + 2j,
         np.datetime64("NaT")], dtype=object)})
    results = [data.write_readings(f, facility, database_url=database_url)
               for f in (old, far, no_times, strange)]
    not_a_time = [{"field": "timestamp",
                   "message": "must be ISO 8601 with a UTC offset or Unix seconds"}]
    assert [(r["accepted"], r["rejected"]) for r in results] == [
        (1, [{"index": 0, "details": [{"field": "timestamp", "message":
              "is before 2000-01-01; is the device clock set (NTP)?"}]}]),
        (0, [{"index": 0, "details": [{"field": "timestamp", "message":
              "is more than 5 minutes in the future"}]}]),
        (0, [{"index": 0, "details": [{"field": "timestamp", "message":
              "is before 2000-01-01; is the device clock set (NTP)?"}]}]),
        (0, [*({"index": i, "details": not_a_time} for i in range(4)),
             {"index": 4, "details": [{"field": "timestamp",
                                       "message": "is required"}]}]),
    ]
    assert [t for t, _, _ in stored(database_url, facility)] == [
        "2026-11-02T00:05:00+00:00"]


# ------------------------------------------------------------ bug 3: data quality
SPIKE = ("energy_consumed 30 kWh is more than 3x the capacity (100 kW) over 60 s "
         "(stored)")
CONFLICT = "same timestamp, different energy_consumed; first kept"


def test_unlikely_values_and_conflicts_are_logged_as_the_api_logs_them(
    database_url, facility, client, api_key
):
    first = {**GOOD, "energy_consumed": 30.0}
    again = {**first, "energy_consumed": 31.0}
    results = [data.write_readings(pd.DataFrame([body], index=[at(T)]), facility,
                                   device_id="frame-meter", database_url=database_url)
               for body in (first, again, first)]
    assert [(r["accepted"], r["duplicates"]) for r in results] == [
        (1, 0), (0, 1), (0, 1)]
    assert events(database_url, facility) == [
        ("2026-11-02T00:05:00+00:00", "frame-meter", "spike", SPIKE),
        ("2026-11-02T00:05:00+00:00", "frame-meter", "conflict", CONFLICT),
    ]
    for body, status in ((first, 201), (again, 200)):
        answer = client.post(DATA, json={**body, "timestamp": T,
                                         "device_id": "api-meter"},
                             headers={"X-API-Key": api_key})
        assert answer.status_code == status
    api = [e for e in events(database_url, facility) if e[1] == "api-meter"]
    assert [(t, kind, detail) for t, _, kind, detail in api] == [
        ("2026-11-02T00:05:00+00:00", "spike", SPIKE),
        ("2026-11-02T00:05:00+00:00", "conflict", CONFLICT),
    ]
