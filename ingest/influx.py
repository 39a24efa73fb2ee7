"""InfluxDB-compatible endpoints: ``/api/v2/write``, ``/write`` and ``/query``.

IoTaWatt, Telegraf (``outputs.influxdb`` / ``outputs.influxdb_v2``), vzlogger and
Home Assistant's InfluxDB integration post line protocol here unchanged. The
device key is the credential: ``Authorization: Token <key>`` (v2), or ``u``/``p``
parameters or Basic auth with the key as password (v1). Points are mapped to
the key's facility by its line-protocol bindings and stored through the sensor
API's validation. Answers follow InfluxDB: 204 when written, 400 naming the first
bad line (the good lines are still written), 401, 413; ``/query`` answers the
``SELECT LAST(…)`` that IoTaWatt's uploader asks before it resumes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import zlib

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from energy_dash.db import session_scope
from energy_dash.domain import quality
from energy_dash.domain.quality import QualityEvent
from energy_dash.services.bindings import influx_bindings, last_stored
from energy_dash.services.meters import ingest_readings
from energy_dash.storage.devices import find_api_key
from ingest.lineprotocol import (
    PRECISIONS,
    InfluxBinding,
    LastQuery,
    checked_bodies,
    device_of,
    last_response,
    parse_last_query,
    query_binding,
    query_error,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest line-protocol body, compressed or not (IoTaWatt posts a few KiB)."""
V2_PRECISIONS = ("ns", "us", "ms", "s")

EXTENSION = "energy_dash_influx"

bp = Blueprint("influx", __name__)


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _database_url() -> str | None:
    return current_app.extensions[EXTENSION]


def _answer(status: int, message: str, *, v2: bool) -> Response:
    codes = {400: "invalid", 401: "unauthorized", 413: "request too large",
             503: "unavailable"}
    if v2:
        body = {"code": codes.get(status, "internal error"), "message": message}
    else:
        body = {"error": message}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _secret(*, v2: bool) -> str | None:
    """The device key from ``Token``/``Bearer``, Basic auth, or ``u``/``p``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    if not v2:
        # /query sends its parameters form-encoded; /write keeps them in the URL
        # (reading the form there would consume the line-protocol body).
        password = request.args.get("p")
        if not password and request.path == "/query":
            password = request.form.get("p")
        return password or None
    return None


def _facility_for(secret: str | None) -> int | None:
    if not secret:
        return None
    with session_scope(_database_url()) as session:
        key = find_api_key(session, secret)
    return None if key is None else key.facility_id


def _body() -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise _Refusal(413, f"request body too large: at most {MAX_BODY_BYTES} bytes")
    request.max_content_length = MAX_BODY_BYTES + 1
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        raise _Refusal(413, f"request body too large: at most {MAX_BODY_BYTES} bytes")
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(data, MAX_BODY_BYTES + 1)
        except zlib.error:
            raise _Refusal(400, "body is not valid gzip") from None
        if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise _Refusal(413, "decompressed body too large: at most "
                           f"{MAX_BODY_BYTES} bytes")
    return data


def _bindings(facility_id: int) -> list[InfluxBinding]:
    return [
        InfluxBinding(row["id"], row["facility_id"], row["measurement"],
                      tuple(sorted((row["tags"] or {}).items())), row["field"],
                      row["role"], row["kind"], row["unit"], row["device_id"])
        for row in influx_bindings(_database_url(), facility_id)
    ]


def _write(*, v2: bool, precision: str) -> Response:
    received_s = time.time()
    try:
        facility_id = _facility_for(_secret(v2=v2))
        if facility_id is None:
            return _answer(401, "unauthorized access" if v2 else
                           "authorization failed", v2=v2)
        allowed = V2_PRECISIONS if v2 else tuple(PRECISIONS)
        if precision not in allowed:
            return _answer(400, f"invalid precision {precision[:20]!r}; use "
                           + ", ".join(allowed), v2=v2)
        data = _body()
        bindings = _bindings(facility_id)
        bodies, unbound, parsed = checked_bodies(data, precision, bindings,
                                                 received_s)
        events: list[tuple[int | None, QualityEvent]] = []
        if unbound:
            names = sorted({p.measurement for p in unbound})
            events.append((facility_id, QualityEvent(
                int(received_s * 1000), quality.UNBOUND, None,
                f"{len(unbound)} line-protocol points of {', '.join(names)[:200]} "
                "match no binding")))
        if parsed.bad_lines:
            first = parsed.first_error
            events.append((facility_id, QualityEvent(
                int(received_s * 1000), quality.MALFORMED, None,
                f"{parsed.bad_lines} bad line(s); line {first.line}: {first.message}")))
        if len(bodies) or events:
            ingest_readings(_database_url(), {facility_id: bodies}, events,
                            now_s=received_s)
    except _Refusal as refusal:
        return _answer(refusal.status, refusal.message, v2=v2)
    except SQLAlchemyError:
        logger.exception("line-protocol write failed")
        return _answer(503, "database unavailable; retry", v2=v2)
    if parsed.first_error is not None:
        message = str(parsed.first_error)
        if len(bodies) or unbound:  # some points were good
            message = f"partial write: {message}"
        return _answer(400, message, v2=v2)
    return Response(status=204)


@bp.post("/api/v2/write")
def write_v2() -> Response:
    """InfluxDB 2 write: ``?bucket=&org=&precision=``, ``Authorization: Token``."""
    return _write(v2=True, precision=request.args.get("precision", "ns"))


@bp.post("/write")
def write_v1() -> Response:
    """InfluxDB 1 write: ``?db=&precision=``, ``u``/``p`` or Basic auth."""
    return _write(v2=False, precision=request.args.get("precision", "ns"))


def _last(facility_id: int, query: LastQuery) -> tuple[int | None, float | None]:
    """Time [ns] and value, as the meter sent it, of what the binding the query
    names stored last; ``(None, None)`` when nothing."""
    binding = query_binding(query, _bindings(facility_id))
    if binding is None:
        return None, None
    found = last_stored(_database_url(), facility_id,
                        device_of(binding, query.tags), binding.role, binding.kind)
    if found is None:
        return None, None
    ts_ms, stored, interval_s = found
    return ts_ms * 1_000_000, binding.sent(stored, interval_s)


@bp.route("/query", methods=["GET", "POST"])
def query() -> Response:
    """The InfluxQL subset IoTaWatt asks: ``SELECT LAST("f") FROM "m" WHERE …``."""
    try:
        facility_id = _facility_for(_secret(v2=False))
        if facility_id is None:
            return _answer(401, "authorization failed", v2=False)
        text = request.values.get("q", "")
        epoch = request.values.get("epoch") or None
        if epoch is not None and epoch not in PRECISIONS:
            return Response(json.dumps(query_error("invalid epoch")), status=400,
                            mimetype="application/json")
        try:
            parsed = parse_last_query(text)
        except ValueError as exc:
            return Response(json.dumps(query_error(str(exc))), status=400,
                            mimetype="application/json")
        ts_ns, value = _last(facility_id, parsed)
        body = last_response(parsed, ts_ns, value, epoch)
    except SQLAlchemyError:
        logger.exception("line-protocol query failed")
        return _answer(503, "database unavailable; retry", v2=False)
    return Response(json.dumps(body), status=200, mimetype="application/json")


def init_app(server: Flask, database_url: str | None) -> None:
    """Register the InfluxDB-compatible endpoints on the server."""
    server.extensions[EXTENSION] = database_url
    server.register_blueprint(bp)
