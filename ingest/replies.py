"""The sensor API's answers: JSON bodies and headers for every outcome, the header
and body-size checks, and JSON errors (404/405/413, any abort) under ``/api/``."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule

from .parsing import decode_body, is_json_type, is_ndjson_type

logger = logging.getLogger(__name__)

EXTENSION = "energy_dash_ingest"
DB_RETRY_AFTER_S = 5
DASH_CATCH_ALL = "/<path:path>"

def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


class JsonAnswer:
    """A JSON answer without a werkzeug Response: what the sensor lane sends for
    the outcomes of nearly every reading (stored, duplicate). Building a Response
    and reading its headers back costs more than the answer itself; the lane
    takes ``status``, :meth:`wsgi_headers` and ``data`` as they are, and a Flask
    view returns :meth:`response`. Both give the same status, headers and body."""

    __slots__ = ("data", "status_code")

    def __init__(self, body: Any, status_code: int = 200) -> None:
        self.data = json.dumps(body, separators=(",", ":")).encode()
        self.status_code = status_code

    @property
    def status(self) -> str:
        return f"{self.status_code} {HTTP_STATUS_CODES[self.status_code].upper()}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"),
                ("Content-Length", str(len(self.data)))]

    def response(self) -> Response:
        return Response(self.data, status=self.status_code,
                        mimetype="application/json")


def error(status: int, message: str, headers: dict[str, str] | None = None):
    return reply({"error": message}, status, headers)


def unauthorized():
    return error(401, "invalid or missing API key")


def forbidden():
    return error(403, "facility_id does not match the facility of this API key")


def rate_limited(retry_after: int):
    return error(
        429,
        f"too many requests for this API key; retry after {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def too_large(limit: int, what: str = "body"):
    return error(413, f"{what} too large: at most {limit} bytes")


def invalid(details: list[dict[str, str]]):
    return reply({"error": "validation_error", "details": details}, 422)


def unavailable():
    return error(
        503,
        "database unavailable; nothing was stored, retry later",
        {"Retry-After": str(DB_RETRY_AFTER_S)},
    )


def db_failure(exc: SQLAlchemyError):
    """A database error as 503 (retry later) or 422 (the database refused the data)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        logger.warning("sensor API: database unavailable (%s)", type(exc).__name__)
        return unavailable()
    if isinstance(exc, DataError | IntegrityError):
        logger.warning("sensor API: database refused data (%s)", type(exc).__name__)
        return invalid([{"field": "", "message": "refused by the database"}])
    raise exc


def header_checks(limit: int, *, allow_ndjson: bool, req=None):
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
        return error(415, f"unsupported Content-Type; send {wanted}")
    # One byte of slack: werkzeug stops a streamed (chunked) body at the maximum
    # without an error, so reading limit + 1 bytes is how an oversize one shows.
    req.max_content_length = limit + 1
    if in_flask:
        g.ingest_body_limit = limit
    length = req.content_length
    if length is not None and length > limit:
        return too_large(limit)
    return None


class TooLarge(Exception):
    pass


def read_body(limit: int, req=None) -> bytes:
    """The body, gunzipped when sent with ``Content-Encoding: gzip`` (at most
    ``limit`` bytes either way); ``req`` is the lane's request, else Flask's."""
    req = request if req is None else req
    data = req.get_data(cache=False)
    if len(data) > limit:
        raise TooLarge
    try:
        data = decode_body(data, req.headers.get("Content-Encoding"), limit)
    except OverflowError:
        raise TooLarge from None
    return data


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path in ("/api", "/healthz")


def http_error(exc: HTTPException):
    """HTTP errors under /api/ as JSON; other paths keep Flask's default."""
    if not is_api_path(request.path) or exc.code is None:
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
            return too_large(limit)
    message = HTTP_STATUS_CODES.get(status, "error").lower()
    return error(status, message, headers or None)


def json_error_safety_net(response: Response) -> Response:
    """Whatever produced an error under /api/ (another handler, a plain abort), the
    client gets JSON."""
    if (
        response.status_code >= 400
        and response.mimetype != "application/json"
        and is_api_path(request.path)
    ):
        message = HTTP_STATUS_CODES.get(response.status_code, "error").lower()
        response.direct_passthrough = False
        response.set_data(json.dumps({"error": message}))
        response.mimetype = "application/json"
    return response


def api_routing():
    """Under /api/, Dash's catch-all page route must not answer: 404/405 as JSON."""
    path = request.path
    if not path.startswith("/api/"):
        return None
    if request.method == "OPTIONS":
        # Flask would answer from the whole map, Dash's GET catch-all included.
        methods = api_map(current_app).bind("localhost").allowed_methods(path)
        if not methods:
            return error(404, "not found")
        return Response(status=204, headers={"Allow": ", ".join(sorted(methods))})
    rule = request.url_rule
    if rule is not None and rule.rule != DASH_CATCH_ALL:
        return None
    if rule is None and not isinstance(request.routing_exception, MethodNotAllowed):
        return None  # NotFound and friends reach http_error
    try:
        api_map(current_app).bind("localhost").match(path, method=request.method)
    except MethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.valid_methods or ()))
        headers = {"Allow": allowed} if allowed else None
        return error(405, "method not allowed", headers)
    except HTTPException:
        pass
    return error(404, "not found")


def api_map(app: Flask) -> Map:
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
    routes = Map(rules, converters=app.url_map.converters)
    app.extensions[EXTENSION + ".map"] = (count, routes)
    return routes
