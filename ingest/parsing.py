"""Defensive body parsing for the sensor API: no client input may raise out of here.

JSON is parsed with the standard library on the raw bytes (UTF-8, or UTF-16/32
with a BOM as RFC 8259 allows), strictly: ``NaN``/``Infinity`` are not JSON and
are refused. Integers too large for a float are treated as infinite, so the
validator rejects them as not finite (no overflow, no 500). Duplicate keys keep
the last value, as in every mainstream JSON parser.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from energy_dash.domain.validation import integer_id, validate_reading

NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)
MAX_INT_DIGITS = 300  # longer integer literals are parsed as float (-> inf)

Detail = dict[str, str]


class BodyError(ValueError):
    """The body (or an NDJSON line) is not usable JSON; the message is for clients."""


def is_json_type(mimetype: str) -> bool:
    """``application/json`` or any ``application/…+json`` (without parameters)."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def is_ndjson_type(mimetype: str) -> bool:
    return mimetype in NDJSON_TYPES


def _refuse_constant(name: str) -> Any:
    raise BodyError(f"{name} is not valid JSON; send a number or leave the field out")


def _parse_int(text: str) -> int | float:
    # float() of a huge literal is inf, which the validator rejects as not finite;
    # int() would raise (or later overflow when converted to float).
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)


def loads(data: bytes | str, what: str = "body") -> Any:
    """Parse JSON or raise :class:`BodyError` with a short, payload-free message."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except Exception as exc:  # noqa: BLE001 - parsed again below for the message
        huge_int = isinstance(exc, ValueError) and "integer string" in str(exc)
    if huge_int:
        # An integer literal of thousands of digits: parse again with big integers
        # as float (a per-integer hook, too slow for every body, fine for this one).
        return _loads_strict(data, what, parse_int=_parse_int)
    return _loads_strict(data, what)


def _loads_strict(data: bytes | str, what: str, **hooks: Any) -> Any:
    try:
        return json.loads(data, parse_constant=_refuse_constant, **hooks)
    except BodyError as exc:
        raise BodyError(f"{what} is not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        if not exc.doc or not str(exc.doc).strip():
            raise BodyError(f"{what} is empty; send a JSON document") from None
        raise BodyError(
            f"{what} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno} column {exc.colno})"
        ) from None
    except UnicodeDecodeError:
        raise BodyError(f"{what} is not valid UTF-8") from None
    except RecursionError:
        raise BodyError(f"{what} is nested too deeply") from None
    except (ValueError, TypeError, OverflowError, MemoryError):
        raise BodyError(f"{what} is not valid JSON") from None


def decode_body(data: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` (InfluxDB writers and many loggers send it).

    Decompression stops at ``limit`` bytes (OverflowError), so a small bomb cannot
    expand into memory; an unknown encoding or broken gzip is a BodyError.
    """
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        return data
    if name not in ("gzip", "x-gzip"):
        raise BodyError(f"Content-Encoding {name!r} is not supported; send gzip "
                        "or no encoding")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise BodyError("body is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise OverflowError("decompressed body too large")
    if not inflater.eof:
        raise BodyError("body is not valid gzip (truncated)")
    return out


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_JSON_SPACE = " \t\n\r"


def loads_lines(
    lines: list[tuple[int, bytes]],
) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """Parse NDJSON lines: ``(index, value)`` for each good line, ``(index, message)``
    for each bad one (the message :func:`loads` gives).

    A plain UTF-8 line goes straight to one reused decoder (``json.loads`` with a
    hook builds a new decoder per call, which is most of a short line's cost);
    anything unusual — a BOM, another encoding, invalid JSON, a huge integer —
    is parsed again by :func:`loads`, so values and messages stay the same.
    """
    scan = _DECODER.scan_once
    items: list[tuple[int, Any]] = []
    errors: list[tuple[int, str]] = []
    for index, line in lines:
        try:
            text = line.decode("utf-8").strip(_JSON_SPACE)
            value, end = scan(text, 0)
            if end != len(text):
                raise ValueError("extra data")
        except Exception:  # noqa: BLE001 - loads() below gives the exact answer
            try:
                items.append((index, loads(line, "line")))
            except BodyError as exc:
                errors.append((index, str(exc)))
            continue
        items.append((index, value))
    return items, errors


def ndjson_lines(data: bytes) -> list[tuple[int, bytes]]:
    """(0-based line number, line) of every non-blank line of an NDJSON body."""
    return [(i, line) for i, line in enumerate(data.split(b"\n")) if line.strip()]


def check_reading(
    body: Any, now_s: float, *, require_timestamp: bool = False
) -> tuple[dict[str, Any] | None, list[Detail]]:
    """:func:`energy_dash.domain.validation.validate_reading`, with a last line of
    defence.

    The validator already names every bad field (huge numbers, NUL characters and
    lone surrogates included); anything it did not foresee is still a 422, not a
    500.
    """
    try:
        return validate_reading(body, now_s=now_s, require_timestamp=require_timestamp)
    except (ValueError, TypeError, ArithmeticError):
        return None, [
            {
                "field": "",
                "message": "could not be validated; send numbers, an ISO 8601 or Unix "
                "timestamp and an integer facility_id",
            }
        ]


def claimed_facility(body: dict[str, Any]) -> int | None:
    """The integer ``facility_id`` a body claims, normalised like the validator."""
    return integer_id(body.get("facility_id"))
