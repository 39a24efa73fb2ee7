"""Plumbing shared by the browser-facing routes: settings, JSON refusals, the
checked ``facility_id`` parameter of the session API."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify, request

from energy_dash.config import Settings
from energy_dash.domain.facility import FacilityInfo
from energy_dash.services import facilities
from energy_dash.web import auth

FACILITY_ID = re.compile(r"\s*\d{1,12}\s*")


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


def facility_param() -> tuple[FacilityInfo | None, Response | None]:
    """The facility of the checked ``facility_id`` parameter (default: the first).

    Returns ``(FacilityInfo, None)`` or ``(None, the JSON refusal)``.
    """
    raw = request.args.get("facility_id")
    if raw is None or raw == "":
        mine = auth.current_user_facilities()
        if not mine:
            return None, json_error(403, "you are not a member of any facility")
        fid = mine[0]["id"]
    elif not FACILITY_ID.fullmatch(raw):
        return None, json_error(
            400, "facility_id must be a positive integer", "facility_id"
        )
    else:
        try:
            fid = auth.check_facility(int(raw))
        except PermissionError as exc:
            return None, json_error(403, str(exc))
    facility = facilities.facility_info(fid, database_url=db_url())
    if facility is None:
        return None, json_error(403, "you are not a member of this facility")
    return facility, None
