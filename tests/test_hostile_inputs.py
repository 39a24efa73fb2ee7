"""Hostile but signed-in inputs: bounded dates, ASCII numerals, one schema, gzip,
``Allow`` on OPTIONS, ``no-store`` on exports (issue items 7, 8 and the minor ones).
"""

from __future__ import annotations

import gzip
import json
import math
import time

import jsonschema
import pytest
from fixtures_web import callback_result, post_callback
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_dash.domain.validation import (
    NUMBER_FIELDS,
    reading_schema,
    validate_reading,
)

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"
MINIMAL = {"energy_produced": 1.0, "energy_consumed": 2.0, "current_load": 3.0}
FACILITY = "facility-select.value"


# ------------------------------------------------------------------ dates
@pytest.mark.parametrize("start, end", [
    ("0001-01-01", "0001-01-02"),
    ("9999-12-30", "9999-12-31"),
    ("0001-01-01T00:00:00%2B14:00", "2025-01-01"),
])
def test_export_dates_out_of_range_are_a_400_naming_the_field(
    auth_client, facility, start, end
):
    client = auth_client()
    response = client.get(f"/api/export.csv?facility_id={facility}&start={start}"
                          f"&end={end}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] in ("start", "end")
    assert "between 2000-01-01 and 2099-12-31" in json.dumps(body)


def test_export_is_never_cached(auth_client, facility):
    response = auth_client().get(f"/api/export.csv?facility_id={facility}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_historical_custom_range_in_year_1_or_9999_renders(
    app, auth_client, facility, day
):
    client = auth_client()
    result = callback_result(post_callback(
        client, app, "historical-totals.children",
        {FACILITY: facility, "historical-range.value": "custom",
         "historical-start.date": day, "historical-end.date": day},
    ))
    assert "Choose a start and an end date for the custom range." in str(result)


def test_voltage_week_of_year_1_renders(app, auth_client, facility):
    client = auth_client()
    response = post_callback(client, app, "voltage-quality.children",
                             {FACILITY: facility, "voltage-week.date": "0001-01-01"})
    assert response.status_code == 200


def test_a_year_9999_timestamp_is_called_future_not_milliseconds():
    _, errors = validate_reading(
        {**MINIMAL, "timestamp": "9999-12-31T00:00:00Z"}, now_s=time.time()
    )
    assert errors == [
        {"field": "timestamp", "message": "is more than 5 minutes in the future"}
    ]


# --------------------------------------------------------------- numerals
@pytest.mark.parametrize("text", ["1_000", "١٢", "９９", "1e5\u00a0", "+1", "0x10"])
def test_only_ascii_numerals_are_numbers(text):
    _, errors = validate_reading({**MINIMAL, "current_load": text}, now_s=time.time())
    assert [e["field"] for e in errors] == ["current_load"]
    assert errors[0]["message"].startswith("must be a number")


@pytest.mark.parametrize("text, value", [(" 1.5", 1.5), ("2", 2.0), (".5", 0.5),
                                         ("1e1", 10.0), ("7.", 7.0)])
def test_ascii_numeric_strings_are_numbers(text, value):
    row, errors = validate_reading({**MINIMAL, "current_load": text},
                                   now_s=time.time())
    assert errors == [] and row["current_load"] == value


SCHEMA = reading_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
numbers = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.5, 1, 40, 70, 99.9, 100, 1000, 1e6, 4.8e7, 1e308, -0.0]),
)
numeric_text = st.from_regex(r"\A-?[0-9]{1,4}(\.[0-9]{0,3})?\Z")
values = st.one_of(numbers, numeric_text, st.text(max_size=6), st.booleans(),
                   st.none())


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries(
    {}, optional={f.name: values for f in NUMBER_FIELDS}
))
def test_schema_and_validator_accept_the_same_json_numbers(body):
    """On JSON numbers (and no value) the document and the validator agree
    exactly; numeric strings agree on syntax (the pattern), and their bounds are
    the ones of the numbers, which JSON Schema cannot state for strings."""
    body = {k: v for k, v in body.items() if v is not None}
    row, errors = validate_reading(body, now_s=time.time())
    strings = {k: v for k, v in body.items() if isinstance(v, str)}
    as_numbers = dict(body)
    for name, text in strings.items():
        try:
            number = float(text)
        except ValueError:
            continue
        if jsonschema.Draft202012Validator(SCHEMA["properties"][name]).is_valid(
            text
        ) and math.isfinite(number):
            as_numbers[name] = number
    assert VALIDATOR.is_valid(as_numbers) == (row is not None), (body, errors)


@given(st.text(max_size=12))
def test_numeric_string_syntax_matches_the_pattern(text):
    pattern = SCHEMA["properties"]["voltage"]["oneOf"][1]["pattern"]
    pattern_ok = jsonschema.Draft202012Validator(
        {"type": "string", "pattern": pattern}
    ).is_valid(text)
    _, errors = validate_reading({**MINIMAL, "voltage": text}, now_s=time.time())
    syntax_refused = any(e["field"] == "voltage" and e["message"].startswith(
        "must be a number") for e in errors)
    assert pattern_ok != syntax_refused or (
        not pattern_ok and any(e["field"] == "voltage" for e in errors)
    )


# ------------------------------------------------------------------- gzip
def test_gzip_bodies_are_accepted(client, api_key, facility):
    t = int(time.time()) - 3600
    one = gzip.compress(json.dumps({**MINIMAL, "timestamp": t}).encode())
    response = client.post(DATA, data=one, content_type="application/json",
                           headers={"X-API-Key": api_key, "Content-Encoding": "gzip"})
    assert response.status_code == 201
    rows = [{**MINIMAL, "timestamp": t + 60 * (i + 1)} for i in range(50)]
    many = gzip.compress(json.dumps(rows).encode())
    response = client.post(BULK, data=many, content_type="application/json",
                           headers={"X-API-Key": api_key, "Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.get_json()["accepted"] == 50
    lines = "\n".join(json.dumps({**MINIMAL, "timestamp": t + 3100 + i})
                      for i in range(3))
    response = client.post(BULK, data=gzip.compress(lines.encode()),
                           content_type="application/x-ndjson",
                           headers={"X-API-Key": api_key, "Content-Encoding": "gzip"})
    assert response.get_json()["accepted"] == 3


def test_gzip_bombs_broken_gzip_and_unknown_encodings(client, api_key, facility):
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))  # 2 MiB of spaces, ~2 KiB sent
    headers = {"X-API-Key": api_key, "Content-Encoding": "gzip"}
    response = client.post(DATA, data=bomb, content_type="application/json",
                           headers=headers)
    assert response.status_code == 413
    response = client.post(DATA, data=b"not gzip", content_type="application/json",
                           headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {"error": "body is not valid gzip"}
    response = client.post(DATA, data=b"{}", content_type="application/json",
                           headers={"X-API-Key": api_key, "Content-Encoding": "br"})
    assert response.status_code == 400
    assert "not supported" in response.get_json()["error"]


# ---------------------------------------------------------------- OPTIONS
@pytest.mark.parametrize("path, allow", [
    (DATA, "OPTIONS, POST"),
    (BULK, "OPTIONS, POST"),
    ("/api/hardware/status", "GET, HEAD, OPTIONS"),
])
def test_options_names_the_methods_of_the_route(client, path, allow):
    response = client.open(path, method="OPTIONS")
    assert response.status_code == 204
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("option, value", [("--start", "0001-01-01"),
                                           ("--end", "9999-12-30")])
def test_cli_export_dates_out_of_range_are_a_usage_error(
    database_url, facility, option, value
):
    from click.testing import CliRunner

    from energy_dash.cli import main

    result = CliRunner().invoke(
        main, ["export-csv", "--facility", str(facility), option, value],
        env={"DATABASE_URL": database_url},
    )
    assert result.exit_code == 2
    name = option[2:]
    assert f"{name} must be between 2000-01-01 and 2099-12-31" in result.output
