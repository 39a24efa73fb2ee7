"""The vectorised bulk validator accepts and rejects exactly as the row validator does.

The oracle is the row-by-row rule (``check_reading`` per body, then the key's
facility and default device), as the bulk endpoint applied it before; batches
mix good rows with every kind of bad value, and the stored columns, the
rejected positions and every message must be identical.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_dash.domain.batch import (
    MISMATCH,
    ReadingTable,
    iso_seconds,
    validate_batch,
)
from energy_dash.domain.validation import (
    ALTERNATIVES,
    INPUT_FIELDS,
    NUMBER_FIELDS,
    ReadingColumns,
)
from ingest.parsing import check_reading, loads, loads_lines, ndjson_lines

NOW = time.time()
FACILITY = 1
DEVICE = "key-name"


def oracle(bodies):
    rows, rejected = [], []
    for i, body in enumerate(bodies):
        row, details = check_reading(body, NOW, require_timestamp=True)
        if row is None:
            rejected.append((i, details))
            continue
        if row["facility_id"] is not None and row["facility_id"] != FACILITY:
            rejected.append((i, MISMATCH))
            continue
        if row["device_id"] is None:
            row["device_id"] = DEVICE
        rows.append(row)
    return ReadingColumns.from_rows(rows), rejected


def fast(bodies):
    return validate_batch(
        bodies, NOW, facility_id=FACILITY, default_device=DEVICE,
        check_row=lambda b: check_reading(b, NOW, require_timestamp=True),
    )


def assert_same(bodies):
    want, want_rejected = oracle(bodies)
    got, got_rejected = fast(bodies)
    assert got_rejected == want_rejected
    assert got.ts_ms.tolist() == want.ts_ms.tolist()
    assert got.device_id.tolist() == want.device_id.tolist()
    for name, column in want.values.items():
        assert np.array_equal(got.values[name], column, equal_nan=True), name


def edges(spec):
    out = [0.0, 1.0, -1.0, 1e308, -1e308, float("inf"), 2**53, 2**63, 10**30]
    for bound in (spec.minimum, spec.maximum):
        if bound is not None:
            out += [bound, np.nextafter(bound, -1e9), np.nextafter(bound, 1e9),
                    int(bound)]
    return out


def number(spec):
    return st.one_of(
        st.floats(allow_nan=False), st.floats(-2000, 2000),
        st.integers(-10**400, 10**400), st.integers(-2000, 2000),
        st.sampled_from(edges(spec)), st.booleans(), st.none(),
        st.sampled_from(["230.5", " 12 ", "abc", "", "1e999", "nan"]),
        st.lists(st.integers(), max_size=1),
    )


def iso(moment: datetime, offset_min: int, style: int) -> str:
    zone = timezone(timedelta(minutes=offset_min))
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    suffix = local.strftime("%z")
    suffix = suffix[:3] + ":" + suffix[3:]
    return [
        text + suffix, text + "Z" if offset_min == 0 else text + suffix,
        text + ".250" + suffix, text.replace("T", " ") + suffix, " " + text + suffix,
        text, text + suffix.replace(":", ""), text + "z",
    ][style]


moments = st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))
timestamps = st.one_of(
    st.builds(iso, moments, st.integers(-23 * 60, 23 * 60), st.integers(0, 7)),
    st.builds(iso, st.just(datetime.now(UTC)), st.just(0), st.just(0)),
    st.sampled_from([
        "2025-02-29T12:00:00+01:00", "2024-02-29T12:00:00+01:00",
        "2025-13-01T00:00:00Z", "2025-04-31T00:00:00Z", "2025-01-01T24:00:00Z",
        "2025-01-01T12:60:00Z", "2025-01-01T12:00:60Z", "2025-01-01T12:00:00+24:00",
        "2025-01-01T12:00:00+23:59", "2025-01-01T12:00:00-00:00",
        "0000-01-01T00:00:00Z",
        "2025-01-01T12:00:00\u00b101:00", "２０２５-01-01T12:00:00Z", "1735732800", "",
    ]),
    st.floats(allow_nan=False), st.integers(0, 2 * 10**12),
    st.floats(9e8, NOW + 1000), st.booleans(), st.none(),
)
devices = st.one_of(
    st.none(), st.sampled_from(["gw-1", " gw-1 ", "gw-2", "", "   ", "x" * 64,
                                "x" * 65, " " + "x" * 64, "a\x00b", "tab\there",
                                "\ud800", "é"]),
    st.text(max_size=70), st.integers(), st.lists(st.text(), max_size=1),
)
facilities = st.sampled_from([None, 1, 2, "1", " 1 ", "2", 1.0, 1.5, True, "x", [1]])


def in_range(spec):
    low = spec.minimum if spec.minimum is not None else -1e6
    high = spec.maximum if spec.maximum is not None else 1e6
    return st.one_of(st.floats(low, high), st.integers(int(low) + 1, int(high)))


valid_stamps = st.one_of(
    st.builds(iso, st.datetimes(datetime(2000, 1, 2), datetime(2025, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)), st.integers(-23 * 60, 23 * 60), st.just(0)),
    st.integers(946_800_000, int(NOW)),
)


@st.composite
def body(draw):
    """A valid reading with at most two fields replaced by anything at all."""
    out = {}
    for spec in NUMBER_FIELDS:
        if spec.required or draw(st.booleans()):
            out[spec.name] = draw(in_range(spec))
    out["timestamp"] = draw(valid_stamps)
    if draw(st.booleans()):
        out["device_id"] = draw(st.sampled_from(["gw-1", " gw-2 ", "é" * 64]))
    if draw(st.booleans()):
        out["facility_id"] = 1
    weird = {
        **{spec.name: number(spec) for spec in NUMBER_FIELDS},
        "timestamp": timestamps, "device_id": devices, "facility_id": facilities,
    }
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(weird)))
        if draw(st.integers(0, 5)) == 0:
            out.pop(name, None)
        else:
            out[name] = draw(weird[name])
    return out


not_objects = st.sampled_from([[], "x", 1, None])
bodies = st.lists(st.one_of(body(), body(), body(), not_objects), max_size=40)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies)
def test_batch_matches_the_row_validator(items):
    assert_same(items)


def good(i: int, **extra) -> dict:
    moment = datetime(2025, 3, 30, 0, 30, tzinfo=UTC) + timedelta(seconds=37 * i)
    row = {"timestamp": iso(moment, 60 * (i % 3), 0), "device_id": f"gw-{i % 2}",
           "energy_produced": 0.01 * i, "energy_consumed": 0.02, "current_load": 30,
           "voltage": 230.5}
    row.update(extra)
    return row


def test_a_mostly_good_batch_keeps_order_and_the_bad_rows_details():
    items = [good(i) for i in range(50)]
    items[3]["voltage"] = "231.5"  # numeric string: valid, through the row path
    items[7]["timestamp"] = "2025-03-30T01:30:00.500+01:00"  # fraction: row path
    items[9]["current_load"] = 101
    items[11]["timestamp"] = "2025-02-30T00:00:00Z"
    items[12]["facility_id"] = 2
    items[13] = [1, 2]
    assert_same(items)
    checked = []

    def check_row(b):
        checked.append(b)
        return check_reading(b, NOW, require_timestamp=True)

    got, rejected = validate_batch(items, NOW, facility_id=FACILITY,
                                   default_device=DEVICE, check_row=check_row)
    assert len(checked) == 6  # only the odd rows take the row validator
    assert [i for i, _ in rejected] == [9, 11, 12, 13]
    assert rejected[0][1] == [{"field": "current_load", "message": "must be <= 100"}]
    assert len(got) == 46
    assert got.values["voltage"][3] == 231.5
    assert got.ts_ms[7] == int(datetime(2025, 3, 30, 0, 30, 0, 500000,
                                        tzinfo=UTC).timestamp() * 1000)


def test_iso_seconds_agree_with_fromisoformat_over_years_and_offsets():
    rng = np.random.default_rng(5)
    texts = []
    for s in rng.integers(-2_000_000_000, 4_000_000_000, 3000).tolist():
        moment = datetime.fromtimestamp(s, UTC)
        texts.append(iso(moment, int(rng.integers(-1439, 1440)), 0))
        texts.append(iso(moment, 0, 1))
    seconds, ok = iso_seconds(texts)
    assert ok.all()
    want = [int(datetime.fromisoformat(t).timestamp()) for t in texts]
    assert seconds.tolist() == want


def test_ndjson_lines_parse_like_loads_line_by_line():
    lines = [b'{"a": 1}', b'  {"b": [1, 2.5, "x"]}\r', b"\xef\xbb\xbf{}", b"[1",
             b'{"v": NaN}', b"1" * 5000, b'{"s": "\xed\xa0\x80"}', b"\xff",
             b"{} {}", b'"\\ud800"', b"null", b"\t7\t", b'{"k": 1e999}']
    data = b"\n".join(lines)
    items, errors = loads_lines(ndjson_lines(data))
    want_items, want_errors = [], []
    for index, line in ndjson_lines(data):
        try:
            want_items.append((index, loads(line, "line")))
        except Exception as exc:  # noqa: BLE001 - the reference behaviour
            want_errors.append((index, str(exc)))
    assert json.dumps(items) == json.dumps(want_items)
    assert errors == want_errors
    assert len(errors) == 4


def test_every_edge_of_every_rule_matches_the_row_validator():
    from energy_dash.domain.validation import MAX_FUTURE_S, MIN_TIMESTAMP_S

    now = int(NOW)
    stamps = [now + MAX_FUTURE_S - 1, now + MAX_FUTURE_S + 2, MIN_TIMESTAMP_S,
              MIN_TIMESTAMP_S - 1, 1e11, 1e11 + 1, float(now) + 0.0004,
              float(now) + 0.0005, float(now) + 0.0015, True, None, 2**53 + 1]
    for s in (now + MAX_FUTURE_S - 1, now + MAX_FUTURE_S + 2, MIN_TIMESTAMP_S,
              MIN_TIMESTAMP_S - 1):
        moment = datetime.fromtimestamp(s, UTC)
        stamps += [iso(moment, 0, 0), iso(moment, 0, 1), iso(moment, 90, 0),
                   iso(moment, -23 * 60 - 59, 0)]
    stamps += [
        "2025-01-01T23:59:59+23:59", "2025-01-01T24:00:00+00:00",
        "2025-01-01T12:00:00+24:00", "2025-01-01T12:00:00-24:00",
        "2025-01-01T12:00:00+23:60", "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2025-12-31T23:59:59Z",
        "2025-00-10T00:00:00Z", "2025-01-00T00:00:00Z", "2025-01-32T00:00:00Z",
    ]
    items = [good(i, timestamp=s) for i, s in enumerate(stamps)]
    for spec in NUMBER_FIELDS:
        items += [good(len(items), **{spec.name: v}) for v in edges(spec)]
    devices = ["x" * 64, "x" * 65, " " + "x" * 63 + " ", " " + "x" * 64, "\x00",
               "a\u200bb", "a\x7fb", "\u00a0", "gw\n", "\ud800", 5, None, ""]
    items += [good(len(items), device_id=d) for d in devices]
    claims = [1, 2, 0, -1, "1", True, 1.0, None]
    items += [good(len(items), facility_id=c) for c in claims]
    assert_same(items)
    assert_same(list(reversed(items)))


def test_the_columns_are_the_stored_reading_fields():
    from energy_dash.db.models import READING_FIELDS
    from energy_dash.domain.validation import READING_FIELDS as VALIDATED

    assert VALIDATED == READING_FIELDS
    assert VALIDATED == tuple(
        f.name for f in NUMBER_FIELDS if f.name not in ALTERNATIVES
    )


def test_registers_and_power_are_as_strict_as_the_row_validator():
    """The register and power fields relax the required energies and load, keep
    their own bounds, and reach the columns (the writer books them)."""
    items = []
    for name in ALTERNATIVES:
        spec = next(f for f in NUMBER_FIELDS if f.name == name)
        for value in [*edges(spec), "12.5", "abc", None, True, 5]:
            base = {"timestamp": 1_735_732_800 + len(items), "device_id": "gw-r",
                    name: value}
            items.append(dict(base))
            items.append({**base, "energy_consumed": 0.5})  # others still required
            items.append(good(len(items), **{name: value}))
    power_only = {"timestamp": 1_735_732_799, "device_id": "gw-p",
                  "power_consumed": 5}
    items.append(power_only)
    items.append({"timestamp": 1_735_732_800, "power_consumed": 2.0,
                  "current_load": 101})
    items.append({"timestamp": 1_735_732_801, "energy_produced_total": -1,
                  "energy_consumed": 1})
    assert_same(items)
    got, rejected = fast(items)
    assert set(got.values) == set(INPUT_FIELDS)
    first = items.index(power_only)
    assert first not in [i for i, _ in rejected]
    row = [i for i in range(len(items)) if i not in {i for i, _ in rejected}]
    k = row.index(first)
    assert got.values["power_consumed"][k] == 5.0
    assert np.isnan(got.values["energy_consumed"][k])
    assert got.needs_preparation()
    assert rejected[-2][1] == [{"field": "current_load", "message": "must be <= 100"}]
    assert rejected[-1][1] == [
        {"field": "energy_produced_total", "message": "must be >= 0"}]


def test_a_plain_batch_needs_no_register_preparation():
    got, rejected = fast([good(i) for i in range(5)])
    assert rejected == [] and len(got) == 5
    assert not got.needs_preparation()
    assert got.take(np.array([0])).to_rows()[0]["energy_consumed_total"] is None


TABLE_FIELDS = ("power_consumed", "power_produced", "energy_consumed",
                "energy_produced", "energy_consumed_total", "voltage")
TABLE_ROW = st.tuples(
    st.sampled_from(["IotaWatt", " pad ", "", "x" * 65, "ok\x00", "meter-1"]),
    st.sampled_from([NOW - 3600, NOW + 10 ** 6, 1.0, 1e12, 1_767_225_600.5,
                     float("inf"), NOW - 86_400.123]),
    st.lists(st.sampled_from([None, 0.0, 1.25, -3.0, 1e9, 230.0]),
             min_size=len(TABLE_FIELDS), max_size=len(TABLE_FIELDS)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TABLE_ROW, max_size=12))
def test_a_reading_table_validates_as_its_bodies_do(rows):
    """Line protocol's columns (``ReadingTable``) are accepted, stored and
    refused exactly as the same readings given as dicts, messages included."""
    values = {name: np.array([np.nan if r[2][k] is None else r[2][k]
                              for r in rows], dtype=np.float64)
              for k, name in enumerate(TABLE_FIELDS)}
    table = ReadingTable([r[0] for r in rows],
                         np.array([r[1] for r in rows], dtype=np.float64), values)
    dicts = [{"device_id": d, "timestamp": ts,
              **{n: v for n, v in zip(TABLE_FIELDS, vs, strict=True)
                 if v is not None}} for d, ts, vs in rows]
    assert list(table) == dicts
    got, got_rejected = fast(table)
    want, want_rejected = fast(dicts)
    assert got_rejected == want_rejected
    assert got.ts_ms.tolist() == want.ts_ms.tolist()
    assert got.device_id.tolist() == want.device_id.tolist()
    for name in INPUT_FIELDS:
        assert np.array_equal(got.column(name), want.column(name), equal_nan=True)
    oracle_cols, oracle_rejected = oracle(dicts)
    assert got_rejected == oracle_rejected
    assert got.ts_ms.tolist() == oracle_cols.ts_ms.tolist()
