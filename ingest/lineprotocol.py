"""InfluxDB line protocol: parser, bindings to reading fields, and the ``LAST`` query.

IoTaWatt, Telegraf, vzlogger and Home Assistant's InfluxDB integration write
line protocol (``measurement,tag=v field=1.5 1700000000``). This module parses it
exactly as InfluxDB does (escapes, field types, precision), maps points to a
facility's reading fields through bindings (measurement + tags + field -> role,
kind, unit), and understands the one InfluxQL statement that IoTaWatt's uploader
asks before it resumes: ``SELECT LAST("<field>") FROM "<m>" WHERE "<tag>"='<v>'``.
Pure functions: the HTTP endpoints call them and then the ingest service.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from energy_dash.domain.batch import ReadingTable, validate_batch
from energy_dash.domain.bindings import TARGETS, influx_problems
from energy_dash.domain.metrics import power_kw
from energy_dash.domain.validation import validate_reading

logger = logging.getLogger(__name__)

PRECISIONS: dict[str, int] = {
    "ns": 1, "n": 1, "us": 1_000, "u": 1_000, "µ": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
MAX_ERRORS = 100
_INT64 = 2**63
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
_INT = re.compile(r"[-+]?\d+\Z")
_UINT = re.compile(r"\d+\Z")
_TRUE = frozenset(("t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("f", "F", "false", "False", "FALSE"))

FieldValue = float | int | str | bool


class Point(NamedTuple):
    """One parsed point; ``ts_ns`` is ``None`` when the line had no timestamp."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    ts_ns: int | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class LineError:
    """The first problem of one bad line (``line`` counts from 1)."""

    line: int
    text: str
    message: str

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 200 else self.text[:200] + "…"
        return f"unable to parse '{shown}': {self.message}"


@dataclass
class ParseResult:
    """Points of every good line and the errors of the bad ones (at most 100 kept)."""

    points: list[Point] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    bad_lines: int = 0

    @property
    def first_error(self) -> LineError | None:
        return self.errors[0] if self.errors else None


class _Bad(ValueError):
    pass


_PLAIN_END = frozenset("0123456789.")


def _value(text: str) -> FieldValue:
    if not text:
        raise _Bad("missing field value")
    last = text[-1]
    if last in _PLAIN_END and "_" not in text and text[0] != "+":
        # Fast path for the usual float; float() alone would also take "1_0".
        try:
            number = float(text)
        except ValueError:
            raise _Bad(f"invalid field value {text[:40]!r}") from None
        if number - number == 0.0:  # finite
            return number
        raise _Bad("float value out of range")
    if last == "i" and _INT.match(text, 0, len(text) - 1) and len(text) > 1:
        number = int(text[:-1])
        if not -_INT64 <= number < _INT64:
            raise _Bad("integer value out of range")
        return number
    if last == "u" and len(text) > 1 and _UINT.match(text, 0, len(text) - 1):
        number = int(text[:-1])
        if number >= 2 * _INT64:
            raise _Bad("unsigned value out of range")
        return number
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _FLOAT.match(text):
        number = float(text)
        if math.isfinite(number):
            return number
        raise _Bad("float value out of range")
    raise _Bad(f"invalid field value {text[:40]!r}")


def _timestamp(text: str, scale: int) -> int:
    if text.isdigit() and text.isascii():  # the usual case
        ts = int(text) * scale
    else:
        try:
            if "_" in text or not text.isascii():
                raise ValueError(text)
            ts = int(text) * scale
        except ValueError:
            raise _Bad(f"bad timestamp {text[:40]!r}") from None
    if not -_INT64 <= ts < _INT64:
        raise _Bad("timestamp out of range")
    return ts


def _series(text: str) -> tuple[str, dict[str, str]]:
    """Measurement and tags of an unescaped series key, as :func:`_fast` reads it."""
    key, *tag_items = text.split(",")
    if not key:
        raise _Bad("missing measurement")
    tags: dict[str, str] = {}
    for item in tag_items:
        name, sep, val = item.partition("=")
        if not sep or not name or not val:
            raise _Bad("missing tag key or value")
        tags[name] = val
    return key, tags


def _fast(line: str, scale: int) -> tuple[str, dict, dict, int | None]:
    """Lines without escapes or strings: plain splits (the common, fast case)."""
    parts = line.split(" ")
    if len(parts) not in (2, 3) or not all(parts):
        raise _Bad("missing fields" if len(parts) < 2 else "invalid spacing")
    key, tags = _series(parts[0])
    fields: dict[str, FieldValue] = {}
    for item in parts[1].split(","):
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise _Bad("missing field key or value")
        fields[name] = _value(val)
    ts = _timestamp(parts[2], scale) if len(parts) == 3 else None
    return key, tags, fields, ts


def _token(line: str, pos: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read until an unescaped stop character; returns (text, index of the stop)."""
    out: list[str] = []
    n = len(line)
    while pos < n:
        char = line[pos]
        if char == "\\" and pos + 1 < n and line[pos + 1] in escapable:
            out.append(line[pos + 1])
            pos += 2
            continue
        if char in stops:
            break
        out.append(char)
        pos += 1
    return "".join(out), pos


def _slow(line: str, scale: int) -> tuple[str, dict, dict, int | None]:
    """The full grammar: backslash escapes and quoted string fields."""
    n = len(line)
    key, pos = _token(line, 0, ", ", ", \\")
    if not key:
        raise _Bad("missing measurement")
    tags: dict[str, str] = {}
    while pos < n and line[pos] == ",":
        name, pos = _token(line, pos + 1, "=, ", ",= \\")
        if pos >= n or line[pos] != "=" or not name:
            raise _Bad("missing tag value")
        val, pos = _token(line, pos + 1, ", =", ",= \\")
        if not val:
            raise _Bad("missing tag value")
        tags[name] = val
    if pos >= n or line[pos] != " ":
        raise _Bad("missing fields")
    pos += 1
    fields: dict[str, FieldValue] = {}
    while True:
        name, pos = _token(line, pos, "=, ", ",= \\")
        if pos >= n or line[pos] != "=" or not name:
            raise _Bad("missing field value")
        pos += 1
        if pos < n and line[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < n and line[pos] != '"':
                if line[pos] == "\\" and pos + 1 < n and line[pos + 1] in '"\\':
                    pos += 1
                chars.append(line[pos])
                pos += 1
            if pos >= n:
                raise _Bad("unterminated string field")
            fields[name] = "".join(chars)
            pos += 1
        else:
            end = pos
            while end < n and line[end] not in ", ":
                end += 1
            fields[name] = _value(line[pos:end])
            pos = end
        if pos < n and line[pos] == ",":
            pos += 1
            continue
        break
    ts = None
    if pos < n:
        rest = line[pos + 1:]
        if line[pos] != " " or not rest or " " in rest:
            raise _Bad("invalid spacing")
        ts = _timestamp(rest, scale)
    return key, tags, fields, ts


def parse_lines(body: bytes | str, precision: str = "ns") -> ParseResult:
    """Parse a line-protocol body; good lines become points, bad lines errors.

    ``precision`` is the unit of the timestamps (``ns``, ``us``, ``ms``, ``s``; v1's
    ``n``, ``u``, ``m``, ``h`` too). Blank lines and ``#`` comments are skipped.
    Raises ``ValueError`` for an unknown precision.
    """
    scale = PRECISIONS.get(precision)
    if scale is None:
        raise ValueError("precision must be ns, us, ms or s")
    check_utf8 = False
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, check_utf8 = body.decode("utf-8", "surrogateescape"), True
    else:
        text = body
    result = ParseResult()
    points = result.points
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        try:
            if check_utf8 and any(0xDC80 <= ord(c) <= 0xDCFF for c in line):
                raise _Bad("invalid UTF-8")
            if "\\" in line or '"' in line:
                key, tags, fields, ts = _slow(line, scale)
            else:
                key, tags, fields, ts = _fast(line, scale)
        except _Bad as exc:
            result.bad_lines += 1
            if len(result.errors) < MAX_ERRORS:
                shown = line.encode("utf-8", "replace").decode("utf-8", "replace")
                result.errors.append(LineError(number, shown, str(exc)))
            continue
        points.append(Point(key, tags, fields, ts, number))
    return result


# -- bindings ----------------------------------------------------------------

SENT_DIGITS = 12
"""Significant digits of a value rebuilt from what is stored (see
:meth:`InfluxBinding.sent`)."""


@dataclass(frozen=True)
class InfluxBinding:
    """Points of ``measurement`` carrying all of ``tags`` feed one reading field."""

    id: int
    facility_id: int
    measurement: str
    tags: tuple[tuple[str, str], ...]
    field: str | None
    role: str
    kind: str
    unit: str
    device_id: str | None = None

    @property
    def target(self) -> str:
        """The reading field this binding writes."""
        return TARGETS[(self.role, self.kind)]

    @property
    def factor(self) -> float:
        """One ``unit`` in the reading field's unit (kW or kWh)."""
        return 0.001 if self.unit in ("W", "Wh") else 1.0

    def scale(self, value: float) -> float:
        """The value in the reading field's unit (kW or kWh)."""
        return value * self.factor

    def sent(self, stored: float, interval_s: float | None = None) -> float:
        """What the meter sent, in ``unit``, rebuilt from what this binding stored.

        ``stored`` is a reading's interval energy [kWh] (kinds ``power`` and
        ``energy``) or the register [kWh] (``energy_total``). A power is that
        energy's average over the reading's interval ``interval_s`` [s], the
        inverse of how it was booked; it comes back as stored: production
        unsigned, consumption not below 0. The few float roundings of the way
        there and back (about 1e-15 of the value) are rounded off at
        :data:`SENT_DIGITS`, so a value sent with up to 12 digits comes back
        exactly as sent.
        """
        value = power_kw(stored, interval_s) if self.kind == "power" else stored
        if self.kind != "power" and self.factor == 1.0:
            return value  # stored as sent
        return float(f"{value / self.factor:.{SENT_DIGITS}g}")


def device_of(binding: InfluxBinding, tags: dict[str, str]) -> str:
    """The device a bound point is stored under: the binding's own, else the
    point's ``device`` or ``host`` tag, else ``influx``. Not cut to length: an
    overlong one is refused like any device id the sensor API refuses."""
    return binding.device_id or tags.get("device") or tags.get("host") or "influx"


def binding_errors(
    measurement: str, tags: dict[str, str], field_name: str | None,
    role: str, kind: str, unit: str,
) -> list[dict[str, str]]:
    """What is wrong with a binding definition (each detail names its field)."""
    return influx_problems(measurement, tags, field_name, role, kind, unit)


def _field_of(point: Point, binding: InfluxBinding) -> float | None:
    if binding.field is not None:
        value = point.fields.get(binding.field)
    elif "value" in point.fields:
        value = point.fields["value"]
    else:
        numeric = [v for v in point.fields.values()
                   if type(v) in (int, float)]
        value = numeric[0] if len(numeric) == 1 else None
    if type(value) not in (int, float):
        return None
    return float(value)


def index_bindings(
    bindings: Iterable[InfluxBinding],
) -> dict[str, list[InfluxBinding]]:
    """Bindings by measurement, most specific (most tags) first."""
    index: dict[str, list[InfluxBinding]] = {}
    for binding in bindings:
        index.setdefault(binding.measurement, []).append(binding)
    for items in index.values():
        items.sort(key=lambda b: (-len(b.tags), b.id))
    return index


def points_to_readings(
    points: Sequence[Point],
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[Point]]:
    """Readings built from bound points, and the points no binding took.

    Points of one device with one timestamp become one reading (IoTaWatt sends
    ``Mains`` and ``Solar`` as separate points of the same second). For each
    reading field the most specific matching binding wins. Power is stored as the
    reading fields take it: production unsigned, no negative draw (IoTaWatt's
    solar CT and many grid meters report generation as negative watts). Returns
    ``([(facility_id, reading)], unbound_points)``; a reading's ``timestamp`` is
    Unix seconds, absent when the line had none (time of receipt).
    """
    readings, unbound, _ = _bind(points, bindings)
    return readings, unbound


def _bind(
    points: Sequence[Point],
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[Point], list[dict[str, int]]]:
    """:func:`points_to_readings`, and for each reading the line each of its
    fields came from (``{field: line}``)."""
    index = bindings if isinstance(bindings, dict) else index_bindings(bindings)
    plans = _plans(index)
    grouped: dict[tuple[int, str, int | None], dict[str, Any]] = {}
    sources: dict[tuple[int, str, int | None], dict[str, int]] = {}
    specificity: dict[tuple[int, str, int | None, str], int] = {}
    unbound: list[Point] = []
    for point in points:
        taken = False
        tags = point.tags
        for binding, want, rank, field_name, target, scale, sign in plans.get(
            point.measurement, ()
        ):
            if want and any(tags.get(k) != v for k, v in want):
                continue
            if field_name is not None:
                value = point.fields.get(field_name)
                if type(value) not in (int, float):
                    continue
            else:
                value = _field_of(point, binding)
                if value is None:
                    continue
            key = (binding.facility_id, device_of(binding, tags), point.ts_ns)
            slot = (*key, target)
            if specificity.get(slot, -1) >= rank:
                taken = True
                continue
            specificity[slot] = rank
            reading = grouped.get(key)
            if reading is None:
                reading = grouped[key] = {"device_id": key[1]}
                sources[key] = {}
                if point.ts_ns is not None:
                    reading["timestamp"] = point.ts_ns / 1e9
            value = float(value) * scale
            if sign > 0:  # production power: unsigned
                value = abs(value)
            elif sign < 0 and value < 0:  # consumption power: no negative draw
                value = 0.0
            reading[target] = value
            sources[key][target] = point.line
            taken = True
        if not taken:
            unbound.append(point)
    readings = [(key[0], reading) for key, reading in grouped.items()]
    return readings, unbound, list(sources.values())


# -- the quick path for plain bodies ------------------------------------------


def _contributions(
    tags: dict[str, str], names: tuple[str, ...], plan: list[tuple]
) -> list[tuple]:
    """What each binding of the measurement takes from points of this shape,
    ``(field position, target, scale, sign, rank, facility, device)``, in the
    order :func:`points_to_readings` tries them (every value is a number)."""
    taken = []
    for binding, want, rank, field_name, target, scale, sign in plan:
        if want and any(tags.get(k) != v for k, v in want):
            continue
        if field_name is None:
            field_name = "value" if "value" in names else (
                names[0] if len(names) == 1 else None)
        if field_name not in names:
            continue
        taken.append((names.index(field_name), target, scale, sign, rank,
                       binding.facility_id, device_of(binding, tags)))
    return taken


def _plans(index: dict[str, list[InfluxBinding]]) -> dict[str, list[tuple]]:
    """Per binding once: tags, field, target, scale and sign (the loop is per
    point)."""
    return {
        name: [(b, b.tags, len(b.tags), b.field, b.target, b.factor,
                (b.role == "production") - (b.role != "production")
                if b.kind == "power" else 0)
               for b in items]
        for name, items in index.items()
    }


def _plain_text(body: bytes | str, precision: str) -> tuple[str, int] | None:
    """The text and timestamp scale of a body the quick paths may read."""
    scale = PRECISIONS.get(precision)
    if scale is None:
        return None
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = body
    if "\\" in text or '"' in text:
        return None
    return text, scale


def _index(
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
) -> dict[str, list[tuple]]:
    return _plans(bindings if isinstance(bindings, dict)
                  else index_bindings(bindings))


def plain_readings(
    body: bytes | str,
    precision: str,
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[Point]] | None:
    """:func:`parse_lines` then :func:`points_to_readings` in one pass, for a body
    without escapes or strings whose every line is good; ``None`` for any other
    body, which then takes those two (and gets its bad lines named).

    Each line is read as :func:`_fast` reads it (the same splits, ``_value`` and
    ``_timestamp``), but no point is built: a series key is parsed once, a shape
    (series, field names) is matched against the bindings once, and each line
    only adds its numbers to its reading. The answer is that of the two steps.
    """
    plain = _plain_text(body, precision)
    if plain is None:
        return None
    plans = _index(bindings)
    uniform = _uniform_columns(*plain, plans)
    if uniform is not None:
        return uniform.readings(), uniform.unbound
    return _line_readings(*plain, plans)


def write_bodies(
    body: bytes | str,
    precision: str,
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
) -> tuple[Sequence[dict[str, Any]], list[Point], ParseResult]:
    """The reading bodies of a write, its unbound points and its parse result.

    The cheapest path that answers exactly: a uniform body (one number field
    and a timestamp a line) as columns, a plain one through the line loop, any
    other through :func:`parse_lines` and :func:`points_to_readings`. The bodies
    are those of every binding (an endpoint passes one facility's bindings).
    Raises ``ValueError`` for an unknown precision.
    """
    plans = _index(bindings)
    plain = _plain_text(body, precision)
    if plain is not None:
        uniform = _uniform_columns(*plain, plans)
        if uniform is not None:
            return one_direction(uniform.table()), uniform.unbound, ParseResult()
        quick = _line_readings(*plain, plans)
        if quick is not None:
            return one_direction([r for _, r in quick[0]]), quick[1], ParseResult()
    parsed = parse_lines(body, precision)
    readings, unbound = points_to_readings(parsed.points, bindings)
    return one_direction([r for _, r in readings]), unbound, parsed


ENERGIES = ("energy_consumed", "energy_produced")


def one_direction(bodies):
    """A meter bound for one direction's interval energy sends none for the
    other: that one is 0, as a power-fed reading gets (the sensor API itself
    requires both). Works on body dicts and on a :class:`ReadingTable`."""
    if isinstance(bodies, ReadingTable):
        values = bodies.values
        if all(name in values for name in ENERGIES):
            consumed, produced = (values[name] for name in ENERGIES)
            produced[np.isnan(produced) & ~np.isnan(consumed)] = 0.0
            consumed[np.isnan(consumed) & ~np.isnan(produced)] = 0.0
        else:
            for name in ENERGIES:
                other = ENERGIES[1 - ENERGIES.index(name)]
                if name in values and other not in values:
                    values[other] = np.where(np.isnan(values[name]), np.nan, 0.0)
        return bodies
    for body in bodies:
        sent = [name for name in ENERGIES if name in body]
        if len(sent) == 1:
            body[ENERGIES[1 - ENERGIES.index(sent[0])]] = 0.0
    return bodies


def checked_bodies(
    body: bytes | str,
    precision: str,
    bindings: Iterable[InfluxBinding] | dict[str, list[InfluxBinding]],
    now_s: float,
) -> tuple[Sequence[dict[str, Any]], list[Point], ParseResult]:
    """:func:`write_bodies` held to the sensor API's validator, as of ``now_s``.

    A point whose value, device or time the validator refuses is a bad line like
    an unparsable one (InfluxDB answers both alike): its reading is not among
    the bodies, and the line is in the errors, which stay in line order. The
    other lines of such a reading (IoTaWatt's ``Solar`` next to a refused
    ``Mains``) are still written when the rest of it passes.
    """
    bodies, unbound, parsed = write_bodies(body, precision, bindings)
    if not _refusals(bodies, now_s):
        return bodies, unbound, parsed
    parsed = parse_lines(body, precision)  # the full path: which line gave what
    readings, unbound, sources = _bind(parsed.points, bindings)
    bodies = [reading for _, reading in readings]
    refused = dict(_refusals(bodies, now_s))
    kept: list[dict[str, Any]] = []
    bad: dict[int, str] = {}
    for k, reading in enumerate(bodies):
        if k not in refused:
            kept.append(reading)
            continue
        rest = _rest(reading, sources[k], refused[k], bad, now_s)
        if rest is not None:
            kept.append(rest)
    lines = _text(body).split("\n")
    parsed.errors = sorted(
        parsed.errors + [LineError(n, lines[n - 1].strip(" \t\r"), message)
                         for n, message in bad.items()],
        key=lambda e: e.line)[:MAX_ERRORS]
    parsed.bad_lines += len(bad)
    return kept, unbound, parsed


def _refusals(
    bodies: Sequence[dict[str, Any]], now_s: float
) -> list[tuple[int, list[dict[str, str]]]]:
    """``(index, details)`` of the reading bodies the sensor API's validator
    refuses; vectorised for dated bodies, one by one for undated ones (the
    ingest service dates those at receipt)."""
    check = partial(validate_reading, now_s=now_s)

    def dated(items: Sequence[dict[str, Any]]) -> list[tuple[int, list]]:
        return validate_batch(items, now_s, facility_id=0, default_device="influx",
                              check_row=check)[1]  # the bodies name no facility

    if isinstance(bodies, ReadingTable):  # always dated
        return dated(bodies)
    at = [k for k, body in enumerate(bodies) if "timestamp" in body]
    found = [(at[j], details) for j, details in dated([bodies[k] for k in at])]
    found += [(k, details) for k, body in enumerate(bodies)
              if "timestamp" not in body and (details := check(body)[1])]
    return sorted(found, key=lambda item: item[0])


def _rest(
    reading: dict[str, Any], lines: dict[str, int], details: list[dict[str, str]],
    bad: dict[int, str], now_s: float,
) -> dict[str, Any] | None:
    """What may still be written of a refused reading; adds each refused line's
    message to ``bad``. Only values can be refused line by line: a refused
    device or time is every line's, and so is a rest that does not pass."""
    if all(d["field"] in lines for d in details):
        for d in details:
            bad.setdefault(lines[d["field"]], _said([d]))
        refused = {d["field"] for d in details}
        rest = {k: v for k, v in reading.items() if k not in refused}
        if any(name in lines for name in rest):
            details = validate_reading(rest, now_s=now_s)[1]
            if not details:
                return rest
    for line in lines.values():
        bad.setdefault(line, _said(details))
    return None


def _said(details: list[dict[str, str]]) -> str:
    return "; ".join(f"{d.get('field') or 'reading'}: {d.get('message')}"
                     for d in details)


def _text(body: bytes | str) -> str:
    return body if isinstance(body, str) else body.decode("utf-8", "replace")


def _line_readings(
    text: str, scale: int, plans: dict[str, list[tuple]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Point]] | None:
    """:func:`plain_readings` line by line (any plain body)."""
    series_of: dict[str, tuple[str, dict[str, str]]] = {}
    shapes: dict[tuple[str, str], list[tuple]] = {}
    grouped: dict[tuple[int, str, int | None], dict[str, Any]] = {}
    specificity: dict[tuple, int] = {}
    unbound: list[Point] = []
    value_of, stamp_of = _value, _timestamp
    try:
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip(" \t\r")
            if not line or line[0] == "#":
                continue
            parts = line.split(" ")
            if len(parts) not in (2, 3) or not all(parts):
                return None
            head = parts[0]
            series = series_of.get(head)
            if series is None:
                series = series_of[head] = _series(head)
            fields = parts[1]
            if "," in fields:
                pairs = [item.partition("=") for item in fields.split(",")]
                names = tuple(name for name, _, _ in pairs)
                shape_key = (head, ",".join(names))
                texts = [val for _, _, val in pairs]
            else:  # one field: the usual line
                name, sep, val = fields.partition("=")
                pairs = [(name, sep, val)]
                names = (name,)
                shape_key = (head, name)
                texts = [val]
            taken = shapes.get(shape_key)
            if taken is None:
                if any(not sep or not name for name, sep, _ in pairs) or len(
                        set(names)) != len(names):
                    return None  # bad, or repeated (the full parser keeps the last)
                taken = shapes[shape_key] = _contributions(
                    series[1], names, plans.get(series[0], []))
            values = [value_of(val) for val in texts]
            for value in values:
                kind = type(value)
                if kind is not float and kind is not int:
                    return None  # booleans: the full parser's rules for them
            ts_ns = stamp_of(parts[2], scale) if len(parts) == 3 else None
            if not taken:
                unbound.append(Point(series[0], dict(series[1]),
                                     dict(zip(names, values, strict=True)), ts_ns,
                                     number))
                continue
            for position, target, factor, sign, rank, facility_id, device in taken:
                slot = (facility_id, device, ts_ns, target)
                if specificity.get(slot, -1) >= rank:
                    continue
                specificity[slot] = rank
                key = (facility_id, device, ts_ns)
                reading = grouped.get(key)
                if reading is None:
                    reading = grouped[key] = {"device_id": device}
                    if ts_ns is not None:
                        reading["timestamp"] = ts_ns / 1e9
                value = float(values[position]) * factor
                if sign > 0:  # production power: unsigned
                    value = abs(value)
                elif sign < 0 and value < 0:  # consumption power: no negative draw
                    value = 0.0
                reading[target] = value
    except _Bad:
        return None
    return [(key[0], reading) for key, reading in grouped.items()], unbound


_UNIFORM_LINE = r"[^ \n]+ [^ \n=,]+=[-+.0-9eE]+ [0-9]{1,19}"
_UNIFORM = re.compile(f"(?:{_UNIFORM_LINE}\n)*{_UNIFORM_LINE}")
"""Lines of one number field and a timestamp, the body IoTaWatt and vzlogger
post. ``_fast`` reads each part of such a line the same way: ``_series``, then
``_value`` is ``float()`` for these characters, and ``_timestamp`` the digits."""


def _uniform_columns(
    text: str, scale: int, plans: dict[str, list[tuple]]
) -> _Uniform | None:
    """The readings of a body that ``_UNIFORM`` matches, resolved on
    columns; ``None`` for any other body (the line loop takes it).

    One regex checks the body, splits cut it into columns (strings only: no
    tuple per line for the garbage collector to walk), a series key is parsed
    and a shape matched against the bindings once, and which binding wins each
    reading field (most specific, then first in line order) and the order of
    the readings (first contribution) are found by sorting: only readings and
    unbound points become Python objects.
    """
    core = text.rstrip("\n")
    if ("\r" in core or "\t" in core or core[:1] == "#" or "\n#" in core
            or _UNIFORM.fullmatch(core) is None):
        return None  # blank lines, comments, other shapes: the line loop
    tokens = core.replace("\n", " ").split(" ")
    heads, stamp_texts = tokens[0::3], tokens[2::3]
    named = " ".join(tokens[1::3]).replace("=", " ").split(" ")
    names, value_texts = named[0::2], named[1::2]
    count = len(heads)
    try:
        values = np.fromiter(map(float, value_texts), dtype=np.float64,
                             count=count)
    except ValueError:
        return None
    if not np.isfinite(values).all():
        return None  # the line loop refuses the body ("out of range")
    stamps = list(map(int, stamp_texts))
    if max(stamps) * scale >= _INT64:
        return None
    head_of = {h: k for k, h in enumerate(dict.fromkeys(heads))}
    name_of = {n: k for k, n in enumerate(dict.fromkeys(names))}
    pair = (np.fromiter(map(head_of.__getitem__, heads), dtype=np.int64,
                        count=count) * len(name_of)
            + np.fromiter(map(name_of.__getitem__, names), dtype=np.int64,
                          count=count))
    _, first_at, shape_ids = np.unique(pair, return_index=True,
                                       return_inverse=True)
    shape_ids = shape_ids.reshape(-1)
    shapes = [(heads[i], names[i]) for i in first_at.tolist()]
    series_of: dict[str, tuple[str, dict[str, str]]] = {}
    takes: list[list[tuple]] = []
    try:
        for head, name in shapes:
            series = series_of.get(head)
            if series is None:
                series = series_of[head] = _series(head)
            takes.append(_contributions(series[1], (name,),
                                        plans.get(series[0], [])))
    except _Bad:
        return None
    ts_ns = np.array(stamps, dtype=np.int64) * scale
    devices: dict[tuple[int, str], int] = {}
    targets: dict[str, int] = {}
    parts: list[tuple] = []  # per (shape, contribution): its lines and what it does
    width = max(map(len, takes)) or 1
    by_shape = np.argsort(shape_ids, kind="stable")
    bounds = np.searchsorted(shape_ids[by_shape], np.arange(len(takes) + 1))
    unbound_at: list[np.ndarray] = []
    for shape, taken in enumerate(takes):
        at = by_shape[bounds[shape]:bounds[shape + 1]]
        if not taken:
            unbound_at.append(at)
        for j, (_, target, factor, sign, rank, facility_id, device) in enumerate(
                taken):
            parts.append((at, j, devices.setdefault((facility_id, device),
                                                    len(devices)),
                          targets.setdefault(target, len(targets)), rank, factor,
                          sign))
    unbound: list[Point] = []
    if unbound_at:
        for i in np.sort(np.concatenate(unbound_at)).tolist():
            key, tags = series_of[heads[i]]
            unbound.append(Point(key, dict(tags), {names[i]: float(values[i])},
                                 int(ts_ns[i]), i + 1))
    if not parts:
        return _Uniform([], [], np.zeros(0, dtype=np.int64), {}, unbound)
    at = np.concatenate([p[0] for p in parts])
    sizes = [len(p[0]) for p in parts]

    def spread(k: int, dtype: Any) -> np.ndarray:
        return np.repeat(np.array([p[k] for p in parts], dtype=dtype), sizes)

    order = at * width + spread(1, np.int64)  # line order, then binding order
    group, target, rank = (spread(2, np.int64), spread(3, np.int64),
                           spread(4, np.int64))
    stamp = ts_ns[at]
    by_pair = np.lexsort((stamp, group))  # (np.unique(axis=0) sorts 10x slower)
    starts = np.ones(len(by_pair), dtype=bool)
    starts[1:] = (group[by_pair][1:] != group[by_pair][:-1]) | (
        stamp[by_pair][1:] != stamp[by_pair][:-1])
    key_id = np.empty(len(by_pair), dtype=np.int64)
    key_id[by_pair] = np.cumsum(starts) - 1
    keys = np.stack([group[by_pair][starts], stamp[by_pair][starts]], axis=1)
    # A reading is created by its first contribution (which always wins its
    # field): readings are numbered in that order.
    by_key = np.lexsort((order, key_id))
    starts = np.ones(len(by_key), dtype=bool)
    starts[1:] = key_id[by_key][1:] != key_id[by_key][:-1]
    created = order[by_key[starts]]  # per key, in key order
    reading_of = np.empty(len(keys), dtype=np.int64)
    reading_of[np.argsort(created, kind="stable")] = np.arange(len(keys))
    # The winner of a reading field: highest rank, then first.
    ranked = np.lexsort((order, -rank, target, key_id))
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = (key_id[ranked][1:] != key_id[ranked][:-1]) | (
        target[ranked][1:] != target[ranked][:-1])
    won = ranked[first]
    value = values[at[won]] * spread(5, np.float64)[won]
    sign = spread(6, np.int64)[won]
    value = np.where(sign > 0, np.abs(value), value)
    value = np.where((sign < 0) & (value < 0), 0.0, value)
    rows = np.empty(len(keys), dtype=np.int64)
    rows[reading_of] = np.arange(len(keys))  # key of each reading, in order
    device_of = list(devices)
    pairs = [device_of[g] for g in keys[rows, 0].tolist()]
    columns: dict[str, np.ndarray] = {}
    for name, k in targets.items():
        mine = target[won] == k
        column = columns[name] = np.full(len(keys), np.nan)
        column[reading_of[key_id[won[mine]]]] = value[mine]
    return _Uniform([f for f, _ in pairs], [d for _, d in pairs], keys[rows, 1],
                    columns, unbound)


class _Uniform(NamedTuple):
    """The readings of a uniform body as columns (NaN: the field is absent)."""

    facility_id: list[int]
    device_id: list[str]
    ts_ns: np.ndarray
    values: dict[str, np.ndarray]
    unbound: list[Point]

    def readings(self) -> list[tuple[int, dict[str, Any]]]:
        """``(facility_id, reading)`` as :func:`points_to_readings` gives them."""
        fields = [(name, column.tolist()) for name, column in self.values.items()]
        out = []
        for k, (facility_id, device, ts) in enumerate(zip(
                self.facility_id, self.device_id, self.ts_ns.tolist(), strict=True)):
            reading = {"device_id": device, "timestamp": ts / 1e9}
            for name, column in fields:
                if column[k] == column[k]:  # not NaN
                    reading[name] = column[k]
            out.append((facility_id, reading))
        return out

    def table(self) -> ReadingTable:
        """The reading bodies as columns, for the ingest service."""
        return ReadingTable(self.device_id, self.ts_ns / 1e9, self.values)


# -- the InfluxQL subset IoTaWatt asks -----------------------------------------

_IDENT = r'(?:"(?:[^"\\]|\\.)*"|[^\s,()"\';=.]+)'
_LAST = re.compile(
    r"\s*SELECT\s+LAST\s*\(\s*(?P<field>" + _IDENT + r")\s*\)\s+FROM\s+"
    r"(?P<source>" + _IDENT + r"(?:\." + _IDENT + r"){0,2})"
    r"(?:\s+WHERE\s+(?P<where>.*?))?\s*;?\s*\Z",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"\s*(?P<key>" + _IDENT + r")\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*",
    re.DOTALL,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class LastQuery:
    """``SELECT LAST(field) FROM measurement WHERE tag='v' AND …``."""

    field: str
    measurement: str
    tags: dict[str, str]


def query_binding(
    query: LastQuery, bindings: Iterable[InfluxBinding]
) -> InfluxBinding | None:
    """The binding whose points a ``LAST`` query asks for, chosen as a point is
    bound: its measurement, all its tags among the query's conditions, its
    field (one without a field answers for any: it takes ``value`` or a point's
    only field), the most specific first."""
    for binding in index_bindings(bindings).get(query.measurement, ()):
        if binding.field not in (None, query.field):
            continue
        if all(query.tags.get(k) == v for k, v in binding.tags):
            return binding
    return None


def _unquote(ident: str) -> str:
    if ident.startswith('"'):
        return re.sub(r"\\(.)", r"\1", ident[1:-1])
    return ident


def _split_source(source: str) -> str:
    parts = re.findall(_IDENT, source)
    return _unquote(parts[-1])


def parse_last_query(q: str) -> LastQuery:
    """Parse the one query IoTaWatt sends; ``ValueError`` for anything else."""
    if not isinstance(q, str) or len(q) > 4096:
        raise ValueError("query must be text of at most 4096 characters")
    match = _LAST.match(q)
    if match is None:
        raise ValueError("only SELECT LAST(\"field\") FROM \"measurement\" "
                         "[WHERE \"tag\"='value' [AND …]] is supported")
    tags: dict[str, str] = {}
    where = match.group("where")
    if where:
        for cond in _split_and(where):
            found = _COND.fullmatch(cond)
            if found is None:
                raise ValueError(f"unsupported condition {cond.strip()[:60]!r}")
            value = re.sub(r"\\(.)", r"\1", found.group("value"))
            tags[_unquote(found.group("key"))] = value
    return LastQuery(_unquote(match.group("field")), _split_source(
        match.group("source")), tags)


def _split_and(where: str) -> list[str]:
    """Split on AND outside single-quoted strings."""
    pieces: list[str] = []
    start, pos, quoted = 0, 0, False
    while pos < len(where):
        char = where[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "'":
            quoted = not quoted
        elif not quoted:
            found = _AND.match(where, pos)
            if found and pos > start:
                pieces.append(where[start:pos])
                start = pos = found.end()
                continue
        pos += 1
    pieces.append(where[start:])
    return pieces


def format_time(ts_ns: int, epoch: str | None) -> int | str:
    """A time as InfluxQL JSON shows it: an integer in ``epoch`` units, or RFC 3339."""
    if epoch:
        scale = PRECISIONS.get(epoch)
        if scale is None:
            raise ValueError("epoch must be ns, u, ms, s, m or h")
        return ts_ns // scale
    moment = datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def last_response(
    query: LastQuery, ts_ns: int | None, value: float | None, epoch: str | None
) -> dict[str, Any]:
    """InfluxQL JSON for a ``LAST`` answer; no series when nothing is stored."""
    statement: dict[str, Any] = {"statement_id": 0}
    if ts_ns is not None:
        statement["series"] = [{
            "name": query.measurement,
            "columns": ["time", "last"],
            "values": [[format_time(ts_ns, epoch), value]],
        }]
    return {"results": [statement]}


def query_error(message: str) -> dict[str, str]:
    """InfluxQL JSON for a query that could not be answered."""
    return {"error": f"error parsing query: {message}"}
