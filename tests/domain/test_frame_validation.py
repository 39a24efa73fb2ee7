"""The scalar and the vectorised validator apply one rule table: every value the
sensor API refuses, ``frame_to_columns`` refuses too, naming the same field."""

import math
import time

import pandas as pd
import pytest

from energy_dash.domain.validation import (
    NUMBER_FIELDS,
    frame_to_columns,
    validate_reading,
)

NOW = time.time()
GOOD = {"energy_produced": 1.0, "energy_consumed": 1.0, "current_load": 10.0}


def _edge_values():
    for spec in NUMBER_FIELDS:
        for value in (spec.minimum, spec.maximum):
            if value is None:
                continue
            for delta in (-1e-9, 0.0, 1e-9):
                yield spec.name, value + delta
        yield spec.name, math.inf


@pytest.mark.parametrize(("name", "value"), list(_edge_values()))
def test_scalar_and_frame_validators_agree(name, value):
    stamp = pd.Timestamp(NOW - 60, unit="s", tz="UTC")
    body = {**GOOD, name: value, "timestamp": stamp.timestamp()}
    row, details = validate_reading(body, now_s=NOW, require_timestamp=True)
    frame = pd.DataFrame([{**GOOD, name: value}], index=[stamp])
    columns, rejected = frame_to_columns(frame, 1, "probe")
    assert (row is None) == bool(rejected), (name, value)
    if rejected:
        assert [d["field"] for d in rejected[0]["details"]] == [
            d["field"] for d in details
        ]
    else:
        assert columns.values[name][0] == value


def test_frame_timestamps_follow_the_api_rules():
    frame = pd.DataFrame(
        [GOOD, GOOD, GOOD],
        index=pd.to_datetime([time.time() - 60, time.time() + 3600, 1.0], unit="s",
                             utc=True),
    )
    columns, rejected = frame_to_columns(frame, 1, "probe")
    assert len(columns) == 1
    assert [(r["index"], r["details"][0]["field"]) for r in rejected] == [
        (1, "timestamp"), (2, "timestamp"),
    ]
