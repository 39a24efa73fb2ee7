"""The sensor lane: ``POST /api/hardware/data`` answered before Flask's dispatch.

A reading is the busiest request the server gets, and for it nearly all of the
app-wide request machinery is a no-op by design: no session (devices carry no
cookie), no login gate (the API key is the credential), no CSRF or page
routing, and only two security headers (see :mod:`energy_dash.web.security`). Yet
walking it — request context, seven hooks, session open and save, URL
matching over every Dash route — costs about as much as storing the reading.
This WSGI middleware sends exactly that method and path straight to
:func:`ingest.api.ingest_one` on a plain werkzeug request; every other request
goes through Flask unchanged. The answers (status, JSON body, headers) are the
ones the Flask route gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from energy_dash.web.security import SENSOR_API_HEADERS

from . import api
from .openapi import MAX_BODY_BYTES
from .replies import error, too_large
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
            response = api.ingest_one(self.state, Request(environ))
        except HTTPException as exc:  # e.g. a streamed body over the limit
            response = _http_error(exc)
        except Exception:
            if self.server.config.get("PROPAGATE_EXCEPTIONS") or self.server.testing:
                raise
            logger.exception("sensor API: unexpected error")
            response = error(500, HTTP_STATUS_CODES[500].lower())
        # What ``response(environ, start_response)`` sends for these JSON answers
        # (never 204/304, no Location), without rebuilding its header list.
        headers = response.headers.to_wsgi_list()
        headers.extend(LANE_HEADERS)
        start_response(response.status, headers)
        return [response.get_data()]


def _http_error(exc: HTTPException):
    if exc.code == 413:
        return too_large(MAX_BODY_BYTES)
    status = exc.code or 500
    return error(status, HTTP_STATUS_CODES.get(status, "error").lower())


def install(server: Flask, state: IngestState) -> None:
    """Put the lane in front of ``server.wsgi_app`` (the test client uses it too)."""
    server.wsgi_app = SensorLane(server, state)


__all__ = ["PATH", "SensorLane", "install"]
