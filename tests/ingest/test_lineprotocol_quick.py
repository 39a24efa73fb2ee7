"""The one-pass path for plain line-protocol bodies answers exactly as the full
parser followed by the bindings does, and leaves every other body to them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from energy_dash.domain.batch import ReadingTable
from ingest.lineprotocol import (
    PRECISIONS,
    InfluxBinding,
    _plans,
    _uniform_columns,
    index_bindings,
    one_direction,
    parse_lines,
    plain_readings,
    points_to_readings,
    write_bodies,
)

BINDINGS = [
    InfluxBinding(1, 7, "Mains", (("device", "IotaWatt"),), None, "consumption",
                  "power", "W"),
    InfluxBinding(2, 7, "Solar", (("device", "IotaWatt"),), None, "production",
                  "power", "W"),
    InfluxBinding(3, 7, "Solar", (), "value", "production", "power", "kW"),
    InfluxBinding(4, 7, "cpu", (("host", "a"),), "usage", "consumption", "energy",
                  "Wh", "meter-1"),
    InfluxBinding(5, 7, "cpu", (), None, "consumption", "energy_total", "kWh"),
]


def full(body, precision, bindings):
    parsed = parse_lines(body, precision)
    return parsed, points_to_readings(parsed.points, bindings)


def test_iotawatt_body_takes_the_quick_path_with_the_same_readings():
    body = ("Mains,device=IotaWatt value=1234.56 1767225600\n"
            "Solar,device=IotaWatt value=-345.60 1767225600\n"
            "Heatpump,device=IotaWatt value=800 1767225600\n")
    quick = plain_readings(body.encode(), "s", BINDINGS)
    assert quick is not None
    readings, unbound = quick
    assert readings == [(7, {"device_id": "IotaWatt", "timestamp": 1767225600.0,
                             "power_consumed": 1234.56 * 0.001,
                             "power_produced": 345.6 * 0.001})]
    assert [p.measurement for p in unbound] == ["Heatpump"]
    assert quick == full(body, "s", BINDINGS)[1]


def test_escapes_strings_booleans_and_bad_lines_take_the_full_parser():
    for body in (r"Mains,device=Iota\ Watt value=1 1767225600",
                 'Mains,device=IotaWatt value=1,note="x" 1767225600',
                 "Mains,device=IotaWatt value=t 1767225600",
                 "Mains,device=IotaWatt value=1e999 1767225600",
                 "Mains,device=IotaWatt value=1 1767225600\nbroken",
                 "Mains,device=IotaWatt value=1,value=2 1767225600",
                 b"Mains,device=Iota\xffWatt value=1 1767225600"):
        assert plain_readings(body, "s", BINDINGS) is None, body


PIECE = st.sampled_from(["Mains", "Solar", "cpu", "m", "#c", "", "a b", "x=y",
                         "Iota\\ Watt", '"q"', "é"])
TAG = st.tuples(st.sampled_from(["device", "host", "k", "", "a=b"]),
                st.sampled_from(["IotaWatt", "a", "b", "", "=", "x,y"]))
VALUE = st.sampled_from(["1", "-2.5", ".5", "1.", "3e2", "1e999", "7i", "8u", "t",
                         "FALSE", '"s"', "1_0", "+1", "nan", "١", "-0", "", "1.2.3"])
FIELD = st.tuples(st.sampled_from(["value", "usage", "v", ""]), VALUE)
STAMP = st.sampled_from(["", " 1767225600", " 1767225601", " -5", " +7",
                         " 99999999999999999999", " 1_0", " 12a", "  1767225600"])


@st.composite
def line(draw):
    tags = "".join(f",{k}={v}" for k, v in draw(st.lists(TAG, max_size=2)))
    fields = ",".join(f"{k}={v}" for k, v in draw(st.lists(FIELD, min_size=1,
                                                            max_size=3)))
    text = f"{draw(PIECE)}{tags} {fields}{draw(STAMP)}"
    return draw(st.sampled_from(["", " ", "\r", "\t"])) + text if draw(
        st.booleans()) else text


@settings(max_examples=600, deadline=None)
@given(st.lists(line() | st.sampled_from(["", "# comment", "  "]), max_size=8),
       st.sampled_from(["\n", "\r\n"]), st.sampled_from(["s", "ms", "ns"]),
       st.lists(st.sampled_from(BINDINGS), max_size=5))
def test_quick_path_equals_parse_then_bind(lines, newline, precision, bindings):
    body = newline.join(lines)
    quick = plain_readings(body, precision, bindings)
    parsed, answer = full(body, precision, bindings)
    if quick is not None:
        assert parsed.errors == []
        assert quick == answer


PLAIN_LINE = st.builds(
    lambda m, tags, name, value, ts: f"{m}{tags} {name}={value} {ts}",
    st.sampled_from(["Mains", "Solar", "cpu", "Heatpump"]),
    st.sampled_from(["", ",device=IotaWatt", ",host=a", ",host=b,device=IotaWatt"]),
    st.sampled_from(["value", "usage", "v"]),
    st.floats(-1e6, 1e6).map(repr) | st.integers(-10**6, 10**6).map(lambda i: f"{i}i"),
    st.integers(1_700_000_000, 1_800_000_000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PLAIN_LINE, min_size=1, max_size=20),
       st.lists(st.sampled_from(BINDINGS), max_size=5))
def test_plain_bodies_are_taken_by_the_quick_path(lines, bindings):
    body = "\n".join(lines) + "\n"
    quick = plain_readings(body, "s", bindings)
    assert quick is not None
    assert quick == full(body, "s", bindings)[1]


def uniform(body, precision, bindings):
    """The column path's readings and unbound points (None: not uniform)."""
    found = _uniform_columns(body, PRECISIONS[precision],
                             _plans(index_bindings(bindings)))
    return None if found is None else (found.readings(), found.unbound)


UNIFORM_LINE = st.builds(
    lambda m, tags, name, value, ts: f"{m}{tags} {name}={value} {ts}",
    st.sampled_from(["Mains", "Solar", "cpu", "Heatpump", "a=b", ",x"]),
    st.sampled_from(["", ",device=IotaWatt", ",host=a", ",host=b,device=IotaWatt",
                     ",device=IotaWatt,host=a", ",k", ",k="]),
    st.sampled_from(["value", "usage", "v"]),
    st.floats(-1e6, 1e6).map(repr) | st.sampled_from(
        ["+1", "1.", ".5", "-0", "1e3", "1E+2", "1e999", "-", "1.2.3", "e5", "1e"]),
    st.integers(0, 99_999_999_999).map(str) | st.sampled_from(
        ["1767225600", "9223372036", "9223372036854775807"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(UNIFORM_LINE, min_size=1, max_size=30),
       st.lists(st.sampled_from(BINDINGS), max_size=5),
       st.sampled_from(["s", "ms", "ns"]), st.sampled_from(["", "\n", "\n\n"]))
def test_uniform_bodies_resolved_on_columns_equal_parse_then_bind(
        lines, bindings, precision, tail):
    """One number field and a timestamp per line (the column path): same
    readings in the same order, same unbound points, and ``None`` exactly when
    the full parser finds a bad line."""
    body = "\n".join(lines) + tail
    columns = uniform(body, precision, bindings)
    parsed, answer = full(body, precision, bindings)
    assert (columns is None) == bool(parsed.errors)
    if columns is not None:
        assert columns == answer
        assert plain_readings(body, precision, bindings) == answer
    bodies, unbound, parsed_too = write_bodies(body, precision, bindings)
    # and the endpoint's bodies give a one-direction interval energy its other 0
    assert list(bodies) == one_direction([reading for _, reading in answer[0]])
    assert unbound == answer[1]
    assert parsed_too.errors == parsed.errors
    assert isinstance(bodies, ReadingTable) == (columns is not None)


def test_uniform_body_ties_go_to_the_first_most_specific_binding():
    """Two bindings of one rank feed one field: the first line's wins, and a more
    specific binding later in the body still takes it over."""
    bindings = [
        InfluxBinding(1, 7, "A", (), None, "consumption", "power", "kW", "d"),
        InfluxBinding(2, 7, "B", (), None, "consumption", "power", "kW", "d"),
        InfluxBinding(3, 7, "C", (("x", "1"),), None, "consumption", "power", "kW",
                      "d"),
    ]
    body = "B v=2 100\nA v=1 100\nA v=5 200\nC,x=1 v=-3 200\nB v=4 200\n"
    quick = uniform(body, "s", bindings)
    assert quick == ([(7, {"device_id": "d", "timestamp": 100.0,
                           "power_consumed": 2.0}),
                      (7, {"device_id": "d", "timestamp": 200.0,
                           "power_consumed": 0.0})], [])
    assert quick == full(body, "s", bindings)[1]
