"""The sensor API of CONTRACT §4: a Flask blueprint on the Dash app's server.

Endpoints: ``POST /api/hardware/data`` (one reading), ``POST /api/hardware/data/bulk``
(JSON array or NDJSON), ``GET /api/hardware/status``, ``GET /api/hardware/config``,
``GET /api/openapi.json`` and ``GET /healthz``. Every error under ``/api/`` is JSON.

The single-reading endpoint is the hot path: header checks, then the body is
parsed (stdlib, raw bytes) and validated, then one short write transaction (key
lookup by digest with a prebuilt statement, insert, alert evaluation, commit).
On SQLite the write transactions of this API queue on a file lock
(:mod:`ingest.writelock`) instead of SQLite's sleeping busy handler. Facility
thresholds are cached per process for a few seconds and ``last_used_at`` is
written at most once a minute per key and process. Keys and payloads are never
logged. The rate limit is per key and per process (:mod:`ingest.ratelimit`).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule

from energy_dash.alerts import Thresholds
from energy_dash.config import Settings
from energy_dash.data import readings as _readings
from energy_dash.data.devices import (
    DeviceKey,
    digest,
    ensure_bootstrap_key,
    touch_api_key,
)
from energy_dash.db import (
    as_driver,
    driver_connection,
    get_engine,
    session_scope,
)
from energy_dash.domain.batch import validate_batch
from energy_dash.storage.columnar import store_columns

from .openapi import (
    API_KEY_HEADER,
    MAX_BODY_BYTES,
    MAX_BULK_BYTES,
    MAX_BULK_ROWS,
    build_spec,
)
from .parsing import (
    BodyError,
    check_reading,
    claimed_facility,
    is_json_type,
    is_ndjson_type,
    loads,
    loads_lines,
    ndjson_lines,
)
from .ratelimit import RateLimiter
from .writelock import WriterLock

logger = logging.getLogger(__name__)

EXTENSION = "energy_dash_ingest"
FACILITY_TTL_S = 5.0  # thresholds changed in the UI reach the ingest path this fast
TOUCH_EVERY_S = 60.0  # last_used_at resolution
HEALTH_TIMEOUT_S = 2
DB_RETRY_AFTER_S = 5
DAY_MS = 86_400_000
DASH_CATCH_ALL = "/<path:path>"
BOOTSTRAP_FACILITY = 1


bp = Blueprint("ingest", __name__)


# ------------------------------------------------------------------------ state
@dataclass(frozen=True, slots=True)
class FacilityInfo:
    """The facility fields the ingest path needs (stands in for the ORM row)."""

    id: int
    name: str
    timezone: str
    nominal_voltage: float
    expected_interval_s: int
    voltage_warning_pct: float
    voltage_critical_pct: float
    voltage_hysteresis_pct: float


_FACILITY_SQL = (
    f"SELECT {', '.join(FacilityInfo.__dataclass_fields__)} FROM facilities "
    "WHERE id = %s"
)


class IngestState:
    """Per-app, per-process state: limiter, caches, bootstrap key, OpenAPI bytes."""

    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.database_url
        self.limiter = RateLimiter.from_setting(settings.ingest_rate)
        self.writer = WriterLock(settings.database_url)
        self.openapi = json.dumps(build_spec(), separators=(",", ":")).encode()
        self._facilities: dict[int, tuple[float, FacilityInfo]] = {}
        self._touched: dict[int, float] = {}
        self._bootstrap_secret = settings.hardware_api_key or None
        self._bootstrap_digest = (
            digest(self._bootstrap_secret) if self._bootstrap_secret else None
        )

    # -- keys
    def register_bootstrap_key(self) -> None:
        """HARDWARE_API_KEY becomes a hashed key of facility 1 (if it exists yet)."""
        if not self._bootstrap_secret:
            return
        try:
            with session_scope(self.database_url) as session:
                ensure_bootstrap_key(
                    session, self._bootstrap_secret, BOOTSTRAP_FACILITY
                )
        except SQLAlchemyError as exc:
            logger.warning(
                "HARDWARE_API_KEY not registered at start-up (%s); "
                "retried on first use",
                type(exc).__name__,
            )

    def authenticate(self, target, secret: str) -> DeviceKey | None:
        """The key for ``secret`` (``target``: a session or driver transaction)."""
        key = find_key(target, secret)
        if (
            key is None
            and self._bootstrap_digest is not None
            and hmac.compare_digest(digest(secret), self._bootstrap_digest)
        ):
            # Facility 1 may have been created after start-up: register lazily. This
            # runs only on the 401 path for the bootstrap secret, so it costs nothing
            # on the hot path.
            with session_scope(self.database_url, write=True) as session:
                ensure_bootstrap_key(
                    session, self._bootstrap_secret, BOOTSTRAP_FACILITY
                )
            key = find_key(target, secret)
        return key

    def rate_limited(self, key: DeviceKey) -> int:
        return 0 if self.limiter is None else self.limiter.hit(key.id)

    def touch(self, key: DeviceKey, session=None) -> None:
        """Record the key's last use, at most once a minute per key and process."""
        now = time.monotonic()
        last = self._touched.get(key.id)
        if last is not None and now - last < TOUCH_EVERY_S:
            return
        self._touched[key.id] = now
        if session is not None:
            touch_api_key(session, key.id)
            return
        with session_scope(self.database_url, write=True) as own:
            touch_api_key(own, key.id)

    # -- facilities
    def facility(self, target, facility_id: int, *, fresh: bool = False):
        """The facility's ingest fields, cached a few seconds per process."""
        now = time.monotonic()
        if not fresh:
            hit = self._facilities.get(facility_id)
            if hit is not None and hit[0] > now:
                return hit[1]
        row = as_driver(target).execute(_FACILITY_SQL, (facility_id,)).fetchone()
        if row is None:
            self._facilities.pop(facility_id, None)
            return None
        info = FacilityInfo(*row)
        self._facilities[facility_id] = (now + FACILITY_TTL_S, info)
        return info


_KEY_LOOKUP_SQL = (
    "SELECT id, facility_id, name, key_hash FROM api_keys "
    "WHERE key_hash = %s AND revoked_at IS NULL"
)


def find_key(target, secret: str | None) -> DeviceKey | None:
    """:func:`energy_dash.data.devices.find_api_key` on the hot path.

    Same rule (SHA-256 digest looked up by its unique index, compared again in
    constant time, revoked keys refused) as one plain DB-API statement: a fraction
    of an ORM query's cost per request.
    """
    if not secret or len(secret) > 256:
        return None
    hashed = digest(secret)
    row = as_driver(target).execute(_KEY_LOOKUP_SQL, (hashed,)).fetchone()
    if row is None or not hmac.compare_digest(row[3], hashed):
        return None
    return DeviceKey(row[0], row[1], row[2])


def _state() -> IngestState:
    return current_app.extensions[EXTENSION]


# -------------------------------------------------------------------- responses
def _reply(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None):
    return _reply({"error": message}, status, headers)


def _unauthorized():
    return _error(401, "invalid or missing API key")


def _forbidden():
    return _error(403, "facility_id does not match the facility of this API key")


def _rate_limited(retry_after: int):
    return _error(
        429,
        f"too many requests for this API key; retry after {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def _too_large(limit: int, what: str = "body"):
    return _error(413, f"{what} too large: at most {limit} bytes")


def _invalid(details: list[dict[str, str]]):
    return _reply({"error": "validation_error", "details": details}, 422)


def _unavailable():
    return _error(
        503,
        "database unavailable; nothing was stored, retry later",
        {"Retry-After": str(DB_RETRY_AFTER_S)},
    )


def _db_failure(exc: SQLAlchemyError):
    """A database error as 503 (retry later) or 422 (the database refused the data)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        logger.warning("sensor API: database unavailable (%s)", type(exc).__name__)
        return _unavailable()
    if isinstance(exc, DataError | IntegrityError):
        logger.warning("sensor API: database refused data (%s)", type(exc).__name__)
        return _invalid([{"field": "", "message": "refused by the database"}])
    raise exc


def iso_utc(ts_ms: int) -> str:
    """ISO 8601 UTC with ``Z``; milliseconds only when there are any."""
    seconds, millis = divmod(int(ts_ms), 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def _header_checks(limit: int, *, allow_ndjson: bool, req=None):
    """415 and 413 from the headers alone, before any work.

    ``req``: a plain werkzeug request (the sensor lane) instead of Flask's.
    """
    in_flask = req is None
    req = request if in_flask else req
    mimetype = req.mimetype
    if not (is_json_type(mimetype) or (allow_ndjson and is_ndjson_type(mimetype))):
        wanted = (
            "application/json (an array) or application/x-ndjson"
            if allow_ndjson
            else "application/json"
        )
        return _error(415, f"unsupported Content-Type; send {wanted}")
    # One byte of slack: werkzeug stops a streamed (chunked) body at the maximum
    # without an error, so reading limit + 1 bytes is how an oversize one shows.
    req.max_content_length = limit + 1
    if in_flask:
        g.ingest_body_limit = limit
    length = req.content_length
    if length is not None and length > limit:
        return _too_large(limit)
    return None


class _TooLarge(Exception):
    pass


def _read_body(limit: int, req=None) -> bytes:
    data = (request if req is None else req).get_data(cache=False)
    if len(data) > limit:
        raise _TooLarge
    return data


# -------------------------------------------------------------------- endpoints
@bp.post("/api/hardware/data")
def post_reading():
    """Store one reading (CONTRACT §4); see :func:`ingest_one`."""
    return ingest_one(_state(), request)


def ingest_one(state: IngestState, req) -> Response:
    """Store one reading: the whole answer to ``POST /api/hardware/data``.

    ``req`` is Flask's request or, on the sensor lane (:mod:`ingest.lane`), a plain
    werkzeug request; nothing here needs Flask's request context.

    The body is parsed and validated, and the key checked in a read-only
    transaction, before the write transaction starts: writers of one database
    queue behind each other (SQLite's lock), so the write transaction holds only
    the insert, its rollup and alert evaluation. Answers keep their precedence:
    401, 429, then 400/403/422.
    """
    received_s = time.time()
    in_flask = req is request
    secret = req.headers.get(API_KEY_HEADER)
    if not secret:
        return _unauthorized()
    early = _header_checks(MAX_BODY_BYTES, allow_ndjson=False,
                           req=None if in_flask else req)
    if early is not None:
        return early
    row, refusal, claimed = _parse_reading(received_s, None if in_flask else req)
    try:
        with driver_connection(state.database_url) as conn:
            key = state.authenticate(conn, secret)
            facility = None if key is None else state.facility(conn, key.facility_id)
            if key is None or facility is None:
                return _unauthorized()
            retry = state.rate_limited(key)
            if retry:
                return _rate_limited(retry)
            if claimed is not None and claimed != key.facility_id:
                return _forbidden()
            if row is None:
                return refusal
            if row["ts_ms"] is None:
                row["ts_ms"] = int(received_s * 1000)
            if row["device_id"] is None:
                row["device_id"] = key.name
            with state.writer.hold():
                outcome = _readings.store_one_quick(conn, facility, row)
        if outcome is None:  # an alert may open, escalate or close: the full path
            with state.writer.hold(), session_scope(
                state.database_url, write=True
            ) as session:
                outcome = _readings.store_one(session, facility, row)
        created, reading_id, alerts = outcome
        state.touch(key)
    except SQLAlchemyError as exc:
        return _db_failure(exc)
    if not created:
        return _reply({"status": "duplicate", "id": reading_id}, 200)
    return _reply(
        {
            "status": "ok",
            "id": reading_id,
            "timestamp": iso_utc(row["ts_ms"]),
            "alerts": alerts,
        },
        201,
    )


def _parse_reading(received_s: float, req=None):
    """(row, None, claimed) for a valid body, else (None, refusal, claimed)."""
    try:
        body = loads(_read_body(MAX_BODY_BYTES, req))
    except BodyError as exc:
        return None, _error(400, str(exc)), None
    except _TooLarge:
        return None, _too_large(MAX_BODY_BYTES), None
    if type(body) is not dict:
        return None, _error(
            400,
            "body must be a JSON object (one reading); send arrays to "
            "/api/hardware/data/bulk",
        ), None
    claimed = claimed_facility(body)
    row, details = check_reading(body, received_s)
    if row is None:
        return None, _invalid(details), claimed
    return row, None, claimed


@bp.post("/api/hardware/data/bulk")
def post_bulk():
    """Store up to 10 000 readings from a JSON array or NDJSON (CONTRACT §4)."""
    received_s = time.time()
    state = _state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return _unauthorized()
    early = _header_checks(MAX_BULK_BYTES, allow_ndjson=True)
    if early is not None:
        return early
    ndjson = is_ndjson_type(request.mimetype)
    try:
        with session_scope(state.database_url) as session:
            key = state.authenticate(session, secret)
        if key is None:
            return _unauthorized()
        retry = state.rate_limited(key)
        if retry:
            return _rate_limited(retry)

        try:
            data = _read_body(MAX_BULK_BYTES)
        except _TooLarge:
            return _too_large(MAX_BULK_BYTES)
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
                return _error(400, str(exc))
            if type(body) is not list:
                return _error(
                    400,
                    "body must be a JSON array of readings (or NDJSON sent as "
                    "application/x-ndjson)",
                )
            if len(body) > MAX_BULK_ROWS:
                return _too_many(len(body))
            items = list(enumerate(body))

        columns = _valid_columns(items, key, received_s, rejected)
        rejected.sort(key=lambda r: r["index"])
        accepted = duplicates = 0
        alerts: list[dict[str, Any]] = []
        if len(columns):
            with state.writer.hold(), session_scope(
                state.database_url, write=True
            ) as session:
                facility = state.facility(session, key.facility_id)
                if facility is None:
                    return _unauthorized()
                result = store_columns(session, facility, columns)
                state.touch(key, session)
            accepted, duplicates, alerts = (
                result.accepted, result.duplicates, result.alerts
            )
    except SQLAlchemyError as exc:
        return _db_failure(exc)
    return _reply(
        {
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
            "alerts": alerts,
        }
    )


def _too_many(count: int):
    return _error(
        413, f"too many readings: {count} in one request, at most {MAX_BULK_ROWS}"
    )


def _valid_columns(items, key: DeviceKey, now_s: float, rejected: list):
    """The valid readings as columns; the rest appended to ``rejected`` by index."""
    columns, refused = validate_batch(
        [body for _, body in items], now_s,
        facility_id=key.facility_id, default_device=key.name,
        check_row=lambda body: check_reading(body, now_s, require_timestamp=True),
    )
    for at, details in refused:
        rejected.append({"index": items[at][0], "details": details})
    return columns


def _keyed_facility(session, state: IngestState, secret: str):
    """(facility, None) for a valid, unthrottled key; else (None, the refusal)."""
    key = state.authenticate(session, secret)
    if key is None:
        return None, _unauthorized()
    retry = state.rate_limited(key)
    if retry:
        return None, _rate_limited(retry)
    facility = state.facility(session, key.facility_id, fresh=True)
    if facility is None:
        return None, _unauthorized()
    state.touch(key, session)
    return facility, None


@bp.get("/api/hardware/status")
def get_status():
    """Is the key's facility connected: last reading, expected interval, 24 h count."""
    state = _state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return _unauthorized()
    now_ms = int(time.time() * 1000)
    try:
        with session_scope(state.database_url) as session:
            facility, refusal = _keyed_facility(session, state, secret)
            if refusal is not None:
                return refusal
            last = _readings.last_reading(session, facility.id)
            count = _readings.count_since(session, facility.id, now_ms - DAY_MS)
    except SQLAlchemyError as exc:
        return _db_failure(exc)
    interval_s = int(facility.expected_interval_s)
    last_ms = None if last is None else int(last.ts_ms)
    return _reply(
        {
            "facility_id": facility.id,
            "connected": last_ms is not None
            and now_ms - last_ms < 2 * interval_s * 1000,
            "last_seen": None if last_ms is None else iso_utc(last_ms),
            "expected_interval_s": interval_s,
            "readings_24h": int(count),
        }
    )


@bp.get("/api/hardware/config")
def get_config():
    """What a device needs: reporting interval, time zone, nominal voltage, bands."""
    state = _state()
    secret = request.headers.get(API_KEY_HEADER)
    if not secret:
        return _unauthorized()
    try:
        with session_scope(state.database_url) as session:
            facility, refusal = _keyed_facility(session, state, secret)
            if refusal is not None:
                return refusal
    except SQLAlchemyError as exc:
        return _db_failure(exc)
    thresholds = Thresholds.of(facility)
    return _reply(
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
    return Response(_state().openapi, mimetype="application/json")


@bp.get("/healthz")
def healthz():
    """200 when the database answers within a couple of seconds, else 503."""
    try:
        with _health_engine(_state().database_url).connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return _reply({"status": "error", "database": "unreachable"}, 503)
    return _reply({"status": "ok", "database": "ok"})


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


# ------------------------------------------------------------------ JSON errors
def _is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path in ("/api", "/healthz")


def _http_error(exc: HTTPException):
    """HTTP errors under /api/ as JSON; other paths keep Flask's default."""
    if not _is_api_path(request.path) or exc.code is None:
        return exc
    status = exc.code
    headers = {
        k: v for k, v in exc.get_headers() if k.lower() not in {"content-type",
                                                                "content-length"}
    }
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if status == 413:
        limit = g.get("ingest_body_limit")
        if limit is not None:
            return _too_large(limit)
    message = HTTP_STATUS_CODES.get(status, "error").lower()
    return _error(status, message, headers or None)


def _json_error_safety_net(response: Response) -> Response:
    """Whatever produced an error under /api/ (another handler, a plain abort), the
    client gets JSON."""
    if (
        response.status_code >= 400
        and response.mimetype != "application/json"
        and _is_api_path(request.path)
    ):
        message = HTTP_STATUS_CODES.get(response.status_code, "error").lower()
        response.direct_passthrough = False
        response.set_data(json.dumps({"error": message}))
        response.mimetype = "application/json"
    return response


def _api_routing():
    """Under /api/, Dash's catch-all page route must not answer: 404/405 as JSON."""
    path = request.path
    if not path.startswith("/api/"):
        return None
    rule = request.url_rule
    if rule is not None and rule.rule != DASH_CATCH_ALL:
        return None
    if rule is None and not isinstance(request.routing_exception, MethodNotAllowed):
        return None  # NotFound and friends reach _http_error
    try:
        _api_map(current_app).bind("localhost").match(path, method=request.method)
    except MethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.valid_methods or ()))
        headers = {"Allow": allowed} if allowed else None
        return _error(405, "method not allowed", headers)
    except HTTPException:
        pass
    return _error(404, "not found")


def _api_map(app: Flask) -> Map:
    """The app's /api/ rules without Dash's catch-all (rebuilt when rules change)."""
    cached = app.extensions.get(EXTENSION + ".map")
    count = len(list(app.url_map.iter_rules()))
    if cached is not None and cached[0] == count:
        return cached[1]
    rules = [
        Rule(r.rule, endpoint=r.endpoint, methods=r.methods)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.rule != DASH_CATCH_ALL
    ]
    api_map = Map(rules, converters=app.url_map.converters)
    app.extensions[EXTENSION + ".map"] = (count, api_map)
    return api_map


# ------------------------------------------------------------------------- init
def init_app(server: Flask, settings: Settings) -> None:
    """Register the sensor API blueprint and JSON error handling on the server."""
    state = IngestState(settings)
    server.extensions[EXTENSION] = state
    server.register_blueprint(bp)
    server.register_error_handler(HTTPException, _http_error)
    server.before_request(_api_routing)
    server.after_request(_json_error_safety_net)
    state.register_bootstrap_key()
    from .lane import install

    install(server, state)


error_reply = _error  # for the sensor lane (ingest.lane): the same JSON errors
too_large = _too_large


__all__ = [
    "FacilityInfo", "IngestState", "bp", "error_reply", "find_key", "ingest_one",
    "init_app", "iso_utc", "too_large",
]
