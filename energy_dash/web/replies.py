"""Plumbing shared by the browser-facing routes: settings, JSON refusals, integer
query parameters and the checked ``facility_id`` parameter of the session API."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify, request

from energy_dash.config import Settings
from energy_dash.domain.facility import FacilityInfo
from energy_dash.services import facilities
from energy_dash.web import auth

# ASCII digits only: ``\d`` and ``str.isdigit`` also accept "١" or "²", and
# ``int()`` refuses more than 4300 digits. Ten digits hold every id up to 2**31 - 1.
_ID_DIGITS = re.compile(r"[0-9]{1,10}")
_MAX_ID = 2**31 - 1


def settings() -> Settings:
    """The app's settings (set by ``create_app``)."""
    return current_app.config["ENERGY_DASH"]


def db_url() -> str:
    return settings().database_url


def json_error(status: int, message: str, field: str | None = None) -> Response:
    """``{"error": message, "field": field}`` with ``status``."""
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def id_param(name: str) -> tuple[int | None, Response | None]:
    """The query parameter ``name`` as an id in ``[1, 2**31 - 1]``.

    Returns ``(id, None)``, ``(None, None)`` when it is absent or empty, or
    ``(None, a 400 refusal naming it)``: a malformed value is the client's error,
    never a 500.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None, None
    if not _ID_DIGITS.fullmatch(raw) or not 1 <= int(raw) <= _MAX_ID:
        return None, json_error(400, f"{name} must be a positive integer", name)
    return int(raw), None


def facility_param() -> tuple[FacilityInfo | None, Response | None]:
    """The facility of the checked ``facility_id`` parameter (default: the first).

    Returns ``(FacilityInfo, None)`` or ``(None, the JSON refusal)``.
    """
    fid, error = id_param("facility_id")
    if error is not None:
        return None, error
    if fid is None:
        mine = auth.current_user_facilities()
        if not mine:
            return None, json_error(403, "you are not a member of any facility")
        fid = mine[0]["id"]
    else:
        try:
            auth.check_facility(fid)
        except PermissionError as exc:
            return None, json_error(403, str(exc))
    facility = facilities.facility_info(fid, database_url=db_url())
    if facility is None:
        return None, json_error(403, "you are not a member of this facility")
    return facility, None
