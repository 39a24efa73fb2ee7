"""Power-fed readings prepared on columns book exactly what the row preparation
books: the same intervals, energies and loads, in the same float arithmetic."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_dash.db import session_scope
from energy_dash.domain.validation import READING_FIELDS, ReadingColumns
from energy_dash.storage.facilities import load_info
from energy_dash.storage.readings import store_many
from energy_dash.storage.registers import prepare_power_columns, prepare_rows

T0 = 1_767_225_600_000

OPTIONAL = st.none() | st.floats(0, 500)
ROW = st.fixed_dictionaries({
    "device_id": st.sampled_from(["iota", "plug", "pv"]),
    "ts_ms": st.integers(0, 600).map(lambda s: T0 + s * 1000)
    | st.integers(0, 600_000).map(lambda ms: T0 + ms),
    "power_consumed": OPTIONAL, "power_produced": OPTIONAL,
    "energy_consumed": st.none() | st.floats(0, 5),
    "energy_produced": st.none() | st.floats(0, 5),
    "current_load": st.none() | st.floats(0, 100),
    "voltage": st.none() | st.floats(200, 250),
})


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW, min_size=1, max_size=30), st.booleans())
def test_columns_prepare_as_rows_do(database_url, facility, rows, earlier):
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        if earlier:  # a stored reading before the batch: the first interval's start
            store_many(session, info, [{
                "device_id": "iota", "ts_ms": T0 - 45_000, "energy_consumed": 0.1,
                "energy_produced": 0.0, "current_load": 10.0}])
        cols = ReadingColumns.from_rows([dict(r) for r in rows])
        got = prepare_power_columns(session, info, cols)
        want_rows = [dict(r) for r in rows]
        prepare_rows(session, info, want_rows)  # fills the dicts in place
        session.rollback()
    want = ReadingColumns.from_rows(want_rows, READING_FIELDS)
    assert got.ts_ms.tolist() == want.ts_ms.tolist()
    assert got.device_id.tolist() == want.device_id.tolist()
    assert set(got.values) == set(READING_FIELDS)
    for name in READING_FIELDS:
        assert np.array_equal(got.values[name], want.values[name], equal_nan=True), (
            name)


def test_an_implausible_power_is_left_to_the_row_preparation(database_url, facility):
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        cols = ReadingColumns.from_rows([
            {"device_id": "iota", "ts_ms": T0, "power_consumed": 2.0},
            {"device_id": "iota", "ts_ms": T0 + 60_000, "power_consumed": 1e12}])
        assert prepare_power_columns(session, info, cols) is None
        session.rollback()


def test_the_previous_reading_is_found_near_and_far(database_url, facility):
    """The interval's start is the device's previous reading whether it is inside
    the interval cap (the bounded look-up) or hours before it (the open one), on
    rows and on columns: 30 s since a reading, 120 s (twice the expected 60 s)
    after a gap of an hour, 60 s for a device never seen."""
    with session_scope(database_url, write=True) as session:
        info = load_info(session, facility)
        store_many(session, info, [
            {"device_id": d, "ts_ms": ts, "energy_consumed": 0.1,
             "energy_produced": 0.0, "current_load": 10.0}
            for d, ts in (("near", T0 - 30_000), ("far", T0 - 3_600_000))])
        batch = [{"device_id": d, "ts_ms": T0, "power_consumed": 36.0}
                 for d in ("near", "far", "new")]
        rows, _ = prepare_rows(session, info, [dict(r) for r in batch])
        cols = prepare_power_columns(session, info, ReadingColumns.from_rows(batch))
        session.rollback()
    want = {"near": 0.3, "far": 1.2, "new": 0.6}  # 36 kW over 30, 120 and 60 s
    assert {r["device_id"]: round(r["energy_consumed"], 9) for r in rows} == want
    got = cols.values["energy_consumed"].round(9).tolist()
    assert dict(zip(cols.device_id.tolist(), got, strict=True)) == want
