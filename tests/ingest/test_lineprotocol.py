"""Line protocol, bindings and IoTaWatt's LAST query, against InfluxDB's examples."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.lineprotocol import (
    InfluxBinding,
    binding_errors,
    format_time,
    last_response,
    parse_last_query,
    parse_lines,
    points_to_readings,
)


def one(line: str, precision: str = "ns"):
    result = parse_lines(line, precision)
    assert result.errors == [], result.errors
    [point] = result.points
    return point


def test_the_documentation_example():
    p = one('myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" '
            "1556813561098000000")
    assert p.measurement == "myMeasurement"
    assert p.tags == {"tag1": "value1", "tag2": "value2"}
    assert p.fields == {"fieldKey": "fieldValue"}
    assert p.ts_ns == 1556813561098000000


def test_home_example_with_escaped_space_and_precision_s():
    p = one(r"home,room=Living\ Room temp=21.1,hum=35.9,co=0i 1641024000", "s")
    assert p.tags == {"room": "Living Room"}
    assert p.fields == {"temp": 21.1, "hum": 35.9, "co": 0}
    assert type(p.fields["co"]) is int
    assert p.ts_ns == 1641024000 * 10**9


def test_special_characters_example():
    line = (r'"measurement\ with\ quo⚡️es\ and\ emoji",tag\ key\ with\ sp🚀ces'
            r'=tag\,value\,with"commas" field_k\ey="string field value, only \" '
            r'need be esc🍭ped"')
    p = one(line)
    assert p.measurement == '"measurement with quo⚡️es and emoji"'
    assert p.tags == {"tag key with sp🚀ces": 'tag,value,with"commas"'}
    assert p.fields == {r"field_k\ey": 'string field value, only " need be esc🍭ped'}
    assert p.ts_ns is None


@pytest.mark.parametrize(("text", "value"), [
    ("1.0", 1.0), ("1", 1.0), ("-1.5e3", -1500.0), (".5", 0.5), ("1i", 1),
    ("-9223372036854775808i", -(2**63)), ("12485903u", 12485903), ("t", True),
    ("TRUE", True), ("False", False), ('"a \\\\ b"', "a \\ b"),
])
def test_field_types(text, value):
    p = one(f"m f={text}")
    assert p.fields["f"] == value
    assert type(p.fields["f"]) is type(value)


@pytest.mark.parametrize(("precision", "ts_ns"), [
    ("ns", 1_700_000_000), ("us", 1_700_000_000_000), ("ms", 1_700_000_000_000_000),
    ("s", 1_700_000_000_000_000_000),
])
def test_precision(precision, ts_ns):
    assert one("m v=1 1700000000", precision).ts_ns == ts_ns


def test_comments_blank_lines_and_crlf_are_skipped():
    result = parse_lines(b"# header\n\nm v=1 1\r\n  \nm v=2 2\n")
    assert [p.fields["v"] for p in result.points] == [1.0, 2.0]
    assert [p.line for p in result.points] == [3, 5]


@pytest.mark.parametrize(("line", "message"), [
    ("mymeasurement", "missing fields"),
    ("m f=", "missing field value"),
    ("m f=abc", "invalid field value"),
    ("m f=1 12ab", "bad timestamp"),
    ("m f=NaN", "invalid field value"),
    ("m f=inf", "invalid field value"),
    ("m f=1e999", "float value out of range"),
    ("m f=9223372036854775808i", "integer value out of range"),
    ('m f="open', "unterminated string field"),
    ("m,t= f=1", "missing tag key or value"),
    ("m f=1 1 2", "invalid spacing"),
    (",t=1 f=1", "missing measurement"),
])
def test_bad_lines_are_reported_not_raised(line, message):
    result = parse_lines(f"m ok=1 1\n{line}\nm ok=2 2\n")
    assert [p.fields for p in result.points] == [{"ok": 1.0}, {"ok": 2.0}]
    first = result.first_error
    assert first is not None and first.line == 2 and message in first.message
    assert str(first).startswith(f"unable to parse '{line}': ")


def test_invalid_utf8_is_a_bad_line():
    result = parse_lines(b"m v=1 1\nm\xff v=1 2\n")
    assert len(result.points) == 1 and result.first_error.line == 2


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError):
        parse_lines("m v=1", "days")


# -- bindings ----------------------------------------------------------------

MAINS = InfluxBinding(1, 7, "Mains", (("device", "IotaWatt"),), None, "consumption",
                      "power", "W")
SOLAR = InfluxBinding(2, 7, "Solar", (("device", "IotaWatt"),), None, "production",
                      "power", "W")

# What IoTaWatt's v1 uploader posts to /write?precision=s&db=… (outputs sorted by
# name, measurement $name, field key "value", tag device=$device).
IOTAWATT_WRITE = (
    "Mains,device=IotaWatt value=1234.56 1767225600\n"
    "Solar,device=IotaWatt value=-345.60 1767225600\n"
    "Mains,device=IotaWatt value=1200.00 1767225610\n"
    "Solar,device=IotaWatt value=-350.25 1767225610\n"
    "Heatpump,device=IotaWatt value=800.00 1767225610\n"
)


def test_iotawatt_points_become_one_reading_per_second():
    parsed = parse_lines(IOTAWATT_WRITE, "s")
    readings, unbound = points_to_readings(parsed.points, [MAINS, SOLAR])
    assert readings == [
        (7, {"device_id": "IotaWatt", "timestamp": 1767225600.0,
             "power_consumed": pytest.approx(1.23456),
             "power_produced": pytest.approx(0.3456)}),
        (7, {"device_id": "IotaWatt", "timestamp": 1767225610.0,
             "power_consumed": pytest.approx(1.2), "power_produced": pytest.approx(
                 0.35025)}),
    ]
    assert [p.measurement for p in unbound] == ["Heatpump"]


def test_most_specific_binding_and_named_fields():
    generic = InfluxBinding(3, 7, "energy", (), "total", "consumption",
                            "energy_total", "kWh", device_id="meter")
    special = InfluxBinding(4, 7, "energy", (("phase", "L1"),), "total",
                            "consumption", "energy_total", "Wh", device_id="meter")
    parsed = parse_lines("energy,phase=L1 total=1500,other=2 10\n"
                         "energy,phase=L2 total=2.5 10\n"
                         "energy,phase=L3 other=1 10\n")
    readings, unbound = points_to_readings(parsed.points, [generic, special])
    assert readings == [(7, {"device_id": "meter", "timestamp": 1e-08,
                             "energy_consumed_total": 1.5})]
    assert [p.tags["phase"] for p in unbound] == ["L3"]


def test_telegraf_style_host_tag_names_the_device():
    binding = InfluxBinding(5, 2, "power", (), "watts", "consumption", "power", "W")
    parsed = parse_lines("power,host=pi4 watts=2500i 1700000000000000000")
    [(facility, reading)] = points_to_readings(parsed.points, [binding])[0]
    assert facility == 2
    assert reading == {"device_id": "pi4", "timestamp": 1.7e9, "power_consumed": 2.5}


def test_binding_errors_name_the_field():
    assert binding_errors("Mains", {"device": "x"}, None, "consumption", "power",
                          "W") == []
    errors = binding_errors("", {}, None, "storage", "energy", "W")
    assert [e["field"] for e in errors] == ["measurement", "role", "unit"]


# -- IoTaWatt's LAST query ----------------------------------------------------

# The form body IoTaWatt's v1 uploader posts to /query (spaces as sent).
IOTAWATT_QUERY = (
    "db=iotawatt&epoch=s&q= SELECT LAST(value) FROM Mains  WHERE device='IotaWatt'"
)
EXPECTED = ("value", "Mains", {"device": "IotaWatt"})


def test_iotawatt_query_as_sent():
    form = parse_qs(IOTAWATT_QUERY)
    q = parse_last_query(form["q"][0])
    assert (q.field, q.measurement, q.tags) == EXPECTED


@pytest.mark.parametrize("text", [
    "SELECT LAST(\"value\") FROM \"Mains\" WHERE \"device\"='IotaWatt'",
    "select last( value ) from \"iotawatt\".\"autogen\".\"Mains\" where device = "
    "'IotaWatt';",
])
def test_quoted_and_qualified_forms(text):
    q = parse_last_query(text)
    assert (q.field, q.measurement, q.tags) == EXPECTED


def test_several_conditions_and_quotes_inside_values():
    q = parse_last_query("SELECT LAST(v) FROM m WHERE a='x AND y' AND b='it\\'s'")
    assert q.tags == {"a": "x AND y", "b": "it's"}
    assert parse_last_query("SELECT LAST(v) FROM m").tags == {}


@pytest.mark.parametrize("text", [
    "SELECT * FROM m", "SELECT LAST(v) FROM m WHERE a>1", "DROP DATABASE x",
    "SELECT LAST(v) FROM m WHERE a='1' OR b='2'",
])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_last_query(text)


def test_last_response_shapes():
    q = parse_last_query("SELECT LAST(value) FROM Mains WHERE device='IotaWatt'")
    assert last_response(q, 1767225610 * 10**9, 1200.0, "s") == {"results": [{
        "statement_id": 0,
        "series": [{"name": "Mains", "columns": ["time", "last"],
                    "values": [[1767225610, 1200.0]]}],
    }]}
    assert last_response(q, None, None, "s") == {"results": [{"statement_id": 0}]}
    assert format_time(1767225610 * 10**9, None) == "2026-01-01T00:00:10Z"


# -- nothing crashes ----------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300) | st.text(
    alphabet=st.sampled_from(list('m,= \\"\n#.-+eitf0123456789u\r\tT')), max_size=120
).map(str.encode), st.sampled_from(["ns", "us", "ms", "s"]))
def test_no_body_crashes_the_parser(body, precision):
    result = parse_lines(body, precision)
    assert result.bad_lines == len(result.errors) or len(result.errors) == 100
    for point in result.points:
        assert point.measurement and point.fields


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200) | st.text(
    alphabet=st.sampled_from(list("SELCTAST()FROMWHERND \"'=\\;.xv")), max_size=80))
def test_no_query_crashes_the_query_parser(text):
    try:
        parse_last_query(text)
    except ValueError:
        pass
