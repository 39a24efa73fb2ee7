"""The sensor lane: ``POST /api/hardware/data`` answered before Flask's dispatch.

A reading is the busiest request the server gets, and for it nearly all of the
app-wide request machinery is a no-op by design: no session (devices carry no
cookie), no login gate (the API key is the credential), no CSRF or page
routing, and only two security headers (see :mod:`energy_dash.web.security`). Yet
walking it — request context, seven hooks, session open and save, URL
matching over every Dash route — costs about as much as storing the reading.
This WSGI middleware sends exactly that method and path straight to
:func:`ingest.api.ingest_one`; every other request goes through Flask unchanged.
A body with a ``Content-Length`` (what sensors send) is read straight from the
WSGI environ (:class:`LaneRequest`); anything else (chunked, or a malformed
length) gets a plain werkzeug request, which knows every such case. The answers
(status, JSON body, headers) are the ones the Flask route gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from energy_dash.web.security import SENSOR_API_HEADERS

from . import api
from .openapi import MAX_BODY_BYTES
from .replies import JsonAnswer, error, too_large
from .state import IngestState

logger = logging.getLogger(__name__)

PATH = "/api/hardware/data"
LANE_HEADERS = list(SENSOR_API_HEADERS.items())


class SensorLane:
    """WSGI middleware in front of the Flask app for single readings."""

    def __init__(self, server: Flask, state: IngestState) -> None:
        self.server = server
        self.state = state
        self.inner = server.wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("SCRIPT_NAME")
        ):
            return self.inner(environ, start_response)
        try:
            response = api.ingest_one(self.state, lane_request(environ))
        except HTTPException as exc:  # e.g. a streamed body over the limit
            response = _http_error(exc)
        except Exception:
            if self.server.config.get("PROPAGATE_EXCEPTIONS") or self.server.testing:
                raise
            logger.exception("sensor API: unexpected error")
            response = error(500, HTTP_STATUS_CODES[500].lower())
        # What ``response(environ, start_response)`` sends for these JSON answers
        # (never 204/304, no Location), without rebuilding its header list.
        if type(response) is JsonAnswer:
            headers, data = response.wsgi_headers(), response.data
        else:
            headers, data = response.headers.to_wsgi_list(), response.get_data()
        headers.extend(LANE_HEADERS)
        start_response(response.status, headers)
        return [data]


class _EnvironHeaders:
    """``headers.get`` of werkzeug's EnvironHeaders, for the few names the lane asks."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        return self.environ.get(key, default)


class LaneRequest:
    """What :func:`ingest.api.ingest_one` reads of a request with a valid
    ``Content-Length``, straight from the environ (see the module docstring)."""

    __slots__ = ("content_length", "environ", "headers", "max_content_length")

    def __init__(self, environ: dict[str, Any], content_length: int) -> None:
        self.environ = environ
        self.headers = _EnvironHeaders(environ)
        self.content_length = content_length
        self.max_content_length: int | None = None

    @property
    def mimetype(self) -> str:
        return self.environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()

    def get_data(self, cache: bool = True) -> bytes:
        """The body: exactly ``Content-Length`` bytes (header checks have already
        refused a length over the limit); a client gone before sending them all
        is a 400, as werkzeug answers."""
        length = self.content_length
        if not length:
            return b""
        data = self.environ["wsgi.input"].read(length)
        if len(data) < length:
            raise ClientDisconnected()
        return data


def lane_request(environ: dict[str, Any]) -> LaneRequest | Request:
    """:class:`LaneRequest` for a plain ``Content-Length``, else werkzeug's request."""
    length = environ.get("CONTENT_LENGTH")
    if (
        length
        and length.isdigit()
        and length.isascii()
        and "HTTP_TRANSFER_ENCODING" not in environ
    ):
        return LaneRequest(environ, int(length))
    return Request(environ)


def _http_error(exc: HTTPException):
    if exc.code == 413:
        return too_large(MAX_BODY_BYTES)
    status = exc.code or 500
    return error(status, HTTP_STATUS_CODES.get(status, "error").lower())


def install(server: Flask, state: IngestState) -> None:
    """Put the lane in front of ``server.wsgi_app`` (the test client uses it too)."""
    server.wsgi_app = SensorLane(server, state)


__all__ = ["PATH", "LaneRequest", "SensorLane", "install", "lane_request"]
