"""The reading validator shared by the API, the CLI and data.write_readings."""

import math

from hypothesis import given
from hypothesis import strategies as st

from energy_dash.domain.validation import validate_reading

NOW = 1_750_000_000.0
GOOD = {"energy_produced": 75.5, "energy_consumed": 62.3, "current_load": 35.8}


def test_contract_example_is_valid():
    body = dict(
        GOOD,
        voltage=220.5,
        current=15.2,
        current1=5.1,
        current2=5.0,
        current3=5.1,
        frequency=50.0,
        power_factor=0.95,
        facility_id=1,
    )
    row, errors = validate_reading(body, now_s=NOW)
    assert errors == []
    assert row["voltage"] == 220.5 and row["facility_id"] == 1 and row["ts_ms"] is None


def test_numeric_strings_and_unknown_fields():
    row, errors = validate_reading(
        {
            "energy_produced": " 1.5",
            "energy_consumed": "2",
            "current_load": "0",
            "firmware": "1.2.3",
        },
        now_s=NOW,
    )
    assert errors == [] and row["energy_produced"] == 1.5 and "firmware" not in row


def test_every_bad_field_is_named():
    _, errors = validate_reading(
        {
            "energy_produced": -1,
            "energy_consumed": True,
            "current_load": 101,
            "voltage": "NaN",
            "frequency": 39,
            "power_factor": 1.5,
            "device_id": "x" * 65,
            "facility_id": "one",
        },
        now_s=NOW,
    )
    assert errors == [
        {"field": "energy_produced", "message": "must be >= 0"},
        {"field": "energy_consumed", "message": "must be a number"},
        {"field": "current_load", "message": "must be <= 100"},
        {"field": "voltage", "message": "must be a finite number"},
        {"field": "frequency", "message": "must be >= 40"},
        {"field": "power_factor", "message": "must be <= 1"},
        {"field": "device_id", "message": "must be at most 64 characters"},
        {"field": "facility_id", "message": "must be an integer"},
    ]


def test_timestamps():
    def stamp(value):
        return validate_reading(dict(GOOD, timestamp=value), now_s=NOW)

    assert stamp("2025-06-15T15:06:40+00:00")[0]["ts_ms"] == 1_750_000_000_000
    assert stamp("2025-06-15T17:06:40+02:00")[0]["ts_ms"] == 1_750_000_000_000
    assert stamp(1_750_000_000)[0]["ts_ms"] == 1_750_000_000_000
    assert stamp(NOW + 299)[1] == []
    assert stamp(NOW + 301)[1] == [
        {"field": "timestamp", "message": "is more than 5 minutes in the future"}
    ]
    assert stamp("2025-06-15T14:06:40")[1][0]["message"].startswith("must include")
    assert stamp(1_750_000_000_000)[1][0]["message"].startswith("looks like milli")
    assert stamp(0)[1][0]["message"].startswith("is before 2000")
    assert validate_reading(GOOD, require_timestamp=True)[1] == [
        {"field": "timestamp", "message": "is required"}
    ]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.integers()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "energy_produced",
        "energy_consumed",
        "current_load",
        "voltage",
        "frequency",
        "power_factor",
        "timestamp",
        "device_id",
        "facility_id",
        "current1",
    ]
)


@given(st.dictionaries(fields, json_values) | json_values)
def test_any_json_gives_a_clean_row_or_named_errors(body):
    row, errors = validate_reading(body, now_s=NOW)
    assert (row is None) == bool(errors)
    for error in errors:
        assert set(error) == {"field", "message"} and error["message"]
    if row is not None:
        for name in ("energy_produced", "energy_consumed", "current_load"):
            assert math.isfinite(row[name])
