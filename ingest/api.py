"""The sensor API (README "Sensor API"): a Flask blueprint on the Dash app's server.

Endpoints: ``POST /api/hardware/data`` (one reading), ``POST /api/hardware/data/bulk``
(JSON array or NDJSON), ``GET /api/hardware/status``, ``GET /api/hardware/config``,
``GET /api/openapi.json`` and ``GET /healthz``. Every error under ``/api/`` is JSON.

The single-reading endpoint is the hot path: header checks, then the body is
parsed (stdlib, raw bytes) and validated, the key looked up by digest with a
prebuilt statement (remembered for a second per process, see
:meth:`IngestState.authenticate`), then one short write transaction (insert,
alert evaluation, commit) on a kept connection (:func:`kept_connection`).
On SQLite the write transactions of this API queue on a file lock
(:mod:`ingest.writelock`) instead of SQLite's sleeping busy handler. Facility
thresholds are cached per process for a few seconds and ``last_used_at`` is
written at most once a minute per key and process. Bulk requests are validated
as columns (:func:`energy_dash.domain.batch.validate_batch`, the row validator
for every row it is not sure of) and stored as columns. A duplicate that carries
other values than the stored reading becomes a ``conflict`` data-quality event;
only duplicates pay for that comparison. Keys and payloads are never
logged. The rate limit is per key, shared by every worker
(:mod:`energy_dash.storage.limits`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, request
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from werkzeug.exceptions import HTTPException

from energy_dash.config import Settings
from energy_dash.db import (
    ROW_REFUSALS,
    driver_connection,
    get_engine,
    kept_connection,
    session_scope,
)
from energy_dash.domain.batch import physical_refusals, validate_batch
from energy_dash.domain.times import iso_utc
from energy_dash.domain.validation import (
    ReadingColumns,
    physical_errors,
    unlikely_events,
)
from energy_dash.services import quality
from energy_dash.storage import readings as _readings
from energy_dash.storage.columnar import store_columns
from energy_dash.storage.devices import DeviceKey

from .openapi import (
    API_KEY_HEADER,
    MAX_BODY_BYTES,
    MAX_BULK_BYTES,
    MAX_BULK_ROWS,
)
from .parsing import (
    BodyError,
    check_reading,
    claimed_facility,
    is_ndjson_type,
    loads,
    loads_lines,
    ndjson_lines,
)
from .replies import (
    EXTENSION,
    JsonAnswer,
    TooLarge,
    api_routing,
    db_failure,
    error,
    forbidden,
    header_checks,
    http_error,
    invalid,
    json_error_safety_net,
    rate_limited,
    read_body,
    reply,
    too_large,
    unauthorized,
)
from .state import IngestState, current_state

logger = logging.getLogger(__name__)

FACILITY_TTL_S = 5.0  # thresholds changed in the UI reach the ingest path this fast
TOUCH_EVERY_S = 60.0  # last_used_at resolution
HEALTH_TIMEOUT_S = 2
DB_RETRY_AFTER_S = 5
DAY_MS = 86_400_000
DASH_CATCH_ALL = "/<path:path>"
BOOTSTRAP_FACILITY = 1


bp = Blueprint("ingest", __name__)


# -------------------------------------------------------------------- endpoints
@bp.post("/api/hardware/data")
def post_reading():
    """Store one reading (README "Sensor API"); see :func:`ingest_one`."""
    answer = ingest_one(current_state(), request)
    return answer.response() if isinstance(answer, JsonAnswer) else answer


def ingest_one(state: IngestState, req) -> Response | JsonAnswer:
    """Store one reading: the whole answer to ``POST /api/hardware/data``.

    ``req`` is Flask's request or, on the sensor lane (:mod:`ingest.lane`), the
    lane's own request; nothing here needs Flask's request context. The common
    answers (stored, duplicate) come as a :class:`JsonAnswer`.

    The body is parsed and validated, and the key checked in a read-only
    transaction, before the write transaction starts: writers of one database
    queue behind each other (SQLite's lock), so the write transaction holds only
    the insert, its rollup and alert evaluation. Answers keep their precedence:
    401, 429, then 400/403/422.
    """
    received_s = time.time()
    plain = None if req is request else req
    secret = req.headers.get(API_KEY_HEADER)
    if not secret:
        return unauthorized()
    early = header_checks(MAX_BODY_BYTES, allow_ndjson=False, req=plain)
    if early is not None:
        return early
    row, refusal, claimed = _parse_reading(received_s, plain)
    try:
        with kept_connection(state.database_url) as conn:
            key = state.authenticate(conn, secret)
            facility = None if key is None else state.facility(conn, key.facility_id)
            if key is None or facility is None:
                return unauthorized()
            retry = state.rate_limited(key, conn)
            if retry:
                return rate_limited(retry)
            if claimed is not None and claimed != key.facility_id:
                return forbidden()
            if row is None:
                return refusal
            bounds = physical_errors(row, facility)
            if bounds:
                return invalid(bounds)
            if row["ts_ms"] is None:
                row["ts_ms"] = int(received_s * 1000)
            if row["device_id"] is None:
                row["device_id"] = key.name
            outcome = None
            if not unlikely_events(row, facility):  # else logged with the reading
                with state.writer.hold():
                    outcome = _readings.store_one_quick(conn, facility, row)
        if outcome is None:  # an alert may change, or an event joins the reading
            with state.writer.hold(), session_scope(
                state.database_url, write=True
            ) as session:
                outcome = _readings.store_one(session, facility, row)
                if outcome[0]:  # of the filled row (energies from power)
                    quality.record(session, facility.id,
                                   unlikely_events(row, facility))
        created, reading_id, alerts = outcome
        if not created:  # only a duplicate pays for the comparison
            _record_conflict(state, facility.id, row)
        state.touch(key)
    except SQLAlchemyError as exc:
        return db_failure(exc)
    if not created:
        return JsonAnswer({"status": "duplicate", "id": reading_id}, 200)
    return JsonAnswer(
        {
            "status": "ok",
            "id": reading_id,
            "timestamp": iso_utc(row["ts_ms"]),
            "alerts": alerts,
        },
        201,
    )


def _record_conflict(state: IngestState, facility_id: int, row: dict) -> None:
    """Log a duplicate that carries other values than the stored reading."""
    with driver_connection(state.database_url) as conn:
        event = _readings.conflict_with_stored(conn, facility_id, row)
    if event is not None:
        quality.record_now(state.database_url, facility_id, [event])


def _parse_reading(received_s: float, req=None):
    """(row, None, claimed) for a valid body, else (None, refusal, claimed)."""
    try:
        body = loads(read_body(MAX_BODY_BYTES, req))
    except BodyError as exc:
        return None, error(400, str(exc)), None
    except TooLarge:
        return None, too_large(MAX_BODY_BYTES), None
    if type(body) is not dict:
        return None, error(
            400,
            "body must be a JSON object (one reading); send arrays to "
            "/api/hardware/data/bulk",
        ), None
    claimed = claimed_facility(body)
    row, details = check_reading(body, received_s)
    if row is None:
        return None, invalid(details), claimed
    return row, None, claimed


@bp.post("/api/hardware/data/bulk")
def post_bulk():
    """Store up to 10 000 readings from a JSON array or NDJSON."""
    received_s = time.time()
    state = current_state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return unauthorized()
    early = header_checks(MAX_BULK_BYTES, allow_ndjson=True)
    if early is not None:
        return early
    ndjson = is_ndjson_type(request.mimetype)
    try:
        with session_scope(state.database_url) as session:
            key = state.authenticate(session, secret)
            facility = None if key is None else state.facility(
                session, key.facility_id
            )
        if key is None or facility is None:
            return unauthorized()
        retry = state.rate_limited(key)
        if retry:
            return rate_limited(retry)

        try:
            data = read_body(MAX_BULK_BYTES)
        except TooLarge:
            return too_large(MAX_BULK_BYTES)
        except BodyError as exc:
            return error(400, str(exc))
        rejected: list[dict[str, Any]] = []
        if ndjson:
            lines = ndjson_lines(data)
            if len(lines) > MAX_BULK_ROWS:
                return _too_many(len(lines))
            items, bad_lines = loads_lines(lines)
            for index, message in bad_lines:
                detail = {"field": "", "message": message}
                rejected.append({"index": index, "details": [detail]})
        else:
            try:
                body = loads(data)
            except BodyError as exc:
                return error(400, str(exc))
            if type(body) is not list:
                return error(
                    400,
                    "body must be a JSON array of readings (or NDJSON sent as "
                    "application/x-ndjson)",
                )
            if len(body) > MAX_BULK_ROWS:
                return _too_many(len(body))
            items = list(enumerate(body))

        cols, positions = _valid_columns(items, key, facility, received_s, rejected)
        result = _store_isolated(state, facility, cols, positions, rejected)
        rejected.sort(key=lambda r: r["index"])
        if result.accepted:
            state.touch(key)
        accepted, duplicates, alerts = (
            result.accepted, result.duplicates, result.alerts
        )
    except SQLAlchemyError as exc:
        return db_failure(exc)
    return reply(
        {
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
            "alerts": alerts,
        }
    )


def _too_many(count: int):
    return error(
        413, f"too many readings: {count} in one request, at most {MAX_BULK_ROWS}"
    )


_REFUSED = [{"field": "", "message": "refused by the database"}]


def _store_batch(state: IngestState, facility, cols: ReadingColumns):
    """Store columns with their data-quality events (unlikely values of the
    energies booked, conflicting duplicates) in one transaction: a re-post of
    the same rows is all duplicates, so an event left out now is never logged."""
    with state.writer.hold(), session_scope(
        state.database_url, write=True
    ) as session:
        result = store_columns(session, facility, cols, conflicts=True)
        quality.record(session, facility.id, result.unlikely + result.conflicts)
        return result


def _store_isolated(
    state: IngestState, facility, cols: ReadingColumns, positions: np.ndarray,
    rejected: list,
) -> _readings.BulkResult:
    """Store the batch in one transaction; when the database refuses it, store row
    by row so only the rows it refuses are rejected (each with its index, and
    each stored row with its events)."""
    if not len(cols):
        return _readings.BulkResult()
    try:
        result = _store_batch(state, facility, cols)
    except ROW_REFUSALS as exc:
        logger.warning("sensor API: database refused a batch (%s); storing row by "
                       "row", type(exc).__name__)
        result = _readings.BulkResult()
        for k, index in enumerate(positions.tolist()):
            try:
                one = _store_batch(state, facility, cols.take(np.array([k])))
            except ROW_REFUSALS:
                rejected.append({"index": index, "details": _REFUSED})
                continue
            result.accepted += one.accepted
            result.duplicates += one.duplicates
            result.alerts += one.alerts  # each row's events committed with it
    return result


def _valid_columns(
    items, key: DeviceKey, facility, now_s: float, rejected: list
) -> tuple[ReadingColumns, np.ndarray]:
    """The rows that pass validation and the physical bounds, as columns, and the
    request index of each; the others join ``rejected`` with the row validator's
    details (the vectorised checks only ever accept on their own)."""
    index = np.fromiter((i for i, _ in items), dtype=np.int64, count=len(items))
    bodies = [body for _, body in items]

    def check_row(body):
        row, details = check_reading(body, now_s, require_timestamp=True)
        if row is not None:
            details = physical_errors(row, facility)
            if details:
                return None, details
        return row, details

    cols, refused = validate_batch(
        bodies, now_s, facility_id=key.facility_id, default_device=key.name,
        check_row=check_row,
    )
    keep = np.ones(len(items), dtype=bool)
    for position, details in refused:
        rejected.append({"index": int(index[position]), "details": details})
        keep[position] = False
    index = index[keep]
    over = physical_refusals(cols, facility)
    if over:
        fine = np.ones(len(cols), dtype=bool)
        for k, details in over:
            rejected.append({"index": int(index[k]), "details": details})
            fine[k] = False
        cols, index = cols.take(np.flatnonzero(fine)), index[fine]
    return cols, index


def _keyed_facility(session, state: IngestState, secret: str):
    """(facility, None) for a valid, unthrottled key; else (None, the refusal)."""
    key = state.authenticate(session, secret)
    if key is None:
        return None, unauthorized()
    retry = state.rate_limited(key)
    if retry:
        return None, rate_limited(retry)
    facility = state.facility(session, key.facility_id, fresh=True)
    if facility is None:
        return None, unauthorized()
    state.touch(key)
    return facility, None


@bp.get("/api/hardware/status")
def get_status():
    """Is the key's facility connected: last reading, expected interval, 24 h count."""
    state = current_state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return unauthorized()
    now_ms = int(time.time() * 1000)
    try:
        with session_scope(state.database_url) as session:
            facility, refusal = _keyed_facility(session, state, secret)
            if refusal is not None:
                return refusal
            last = _readings.last_reading(session, facility.id)
            count = _readings.count_since(session, facility.id, now_ms - DAY_MS)
    except SQLAlchemyError as exc:
        return db_failure(exc)
    interval_s = int(facility.expected_interval_s)
    last_ms = None if last is None else int(last.ts_ms)
    return reply(
        {
            "facility_id": facility.id,
            "connected": facility.connected(last_ms, now_ms),
            "last_seen": None if last_ms is None else iso_utc(last_ms),
            "expected_interval_s": interval_s,
            "readings_24h": int(count),
        }
    )


@bp.get("/api/hardware/config")
def get_config():
    """What a device needs: reporting interval, time zone, nominal voltage, bands."""
    state = current_state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return unauthorized()
    try:
        with session_scope(state.database_url) as session:
            facility, refusal = _keyed_facility(session, state, secret)
            if refusal is not None:
                return refusal
    except SQLAlchemyError as exc:
        return db_failure(exc)
    thresholds = facility.thresholds
    return reply(
        {
            "facility_id": facility.id,
            "reporting_interval_s": int(facility.expected_interval_s),
            "timezone": facility.timezone,
            "nominal_voltage": float(facility.nominal_voltage),
            "thresholds": {
                "warning_pct": float(facility.voltage_warning_pct),
                "critical_pct": float(facility.voltage_critical_pct),
                "hysteresis_pct": float(facility.voltage_hysteresis_pct),
                "volts": thresholds.bands(),
            },
            "server_time": iso_utc(int(time.time() * 1000)),
        }
    )


@bp.get("/api/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API."""
    return Response(current_state().openapi, mimetype="application/json")


@bp.get("/healthz")
def healthz():
    """200 when the database answers within a couple of seconds, else 503."""
    try:
        with _health_engine(current_state().database_url).connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return reply({"status": "error", "database": "unreachable"}, 503)
    return reply({"status": "ok", "database": "ok"})


_health_engines: dict[str, Engine] = {}
_health_lock = threading.Lock()


def _health_engine(database_url: str) -> Engine:
    """SQLite: the app's engine. PostgreSQL: a pool-less engine with short timeouts."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return get_engine(database_url)
    with _health_lock:
        engine = _health_engines.get(database_url)
        if engine is None:
            timeout_ms = HEALTH_TIMEOUT_S * 1000
            engine = create_engine(
                url,
                poolclass=NullPool,
                connect_args={
                    "connect_timeout": HEALTH_TIMEOUT_S,
                    "options": f"-c statement_timeout={timeout_ms}",
                },
            )
            _health_engines[database_url] = engine
    return engine


# ------------------------------------------------------------------------- init
def init_app(server: Flask, settings: Settings) -> None:
    """Register the sensor API blueprint and JSON error handling on the server."""
    state = IngestState(settings)
    server.extensions[EXTENSION] = state
    server.register_blueprint(bp)
    server.register_error_handler(HTTPException, http_error)
    server.before_request(api_routing)
    server.after_request(json_error_safety_net)
    state.register_bootstrap_key()
    from .lane import install

    install(server, state)


__all__ = ["IngestState", "bp", "ingest_one", "init_app"]
