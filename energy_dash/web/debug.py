"""Debug endpoints (``ENERGY_DASH_ENV=development`` only; login and a writing role
required): ``/api/debug/test-hardware`` stores one realistic reading,
``/api/debug/voltage-demo?condition=`` a run of readings in a voltage band, both
through the sensor API's validation and storage.

``energy_dash.web.init_app`` registers this blueprint only outside production: in
production these paths answer 404 like any unknown path, signed in or not."""

from __future__ import annotations

import random
import time

from flask import Blueprint, Response, jsonify, request

from energy_dash.demo.readings import (
    VOLTAGE_CONDITIONS,
    realistic_reading,
    voltage_profile,
)
from energy_dash.domain.times import iso_utc
from energy_dash.services import facilities, ingest
from energy_dash.web import auth
from energy_dash.web.replies import db_url as _db_url
from energy_dash.web.replies import id_param, json_error

bp = Blueprint("debug", __name__)


def _debug_facility() -> tuple[int | None, Response | None]:
    fid, error = id_param("facility_id")
    if error is not None:
        return None, error
    facilities = auth.current_user_facilities()
    if fid is None:
        writable = [f["id"] for f in facilities if f["role"] in ("admin", "operator")]
        if not facilities:
            return None, json_error(403, "you are not a member of any facility")
        if not writable:
            return None, json_error(403, "your role in this facility is read-only")
        return writable[0], None
    try:
        return auth.check_facility(fid, write=True), None
    except PermissionError as exc:
        return None, json_error(403, str(exc))


@bp.get("/api/debug/test-hardware")
def debug_test_hardware():
    """Development only: store one realistic reading through validate + store_one."""
    fid, error = _debug_facility()
    if error is not None:
        return error
    now_s = time.time()
    facility = facilities.facility_info(fid, database_url=_db_url())
    payload = realistic_reading(facility, now_s, random.Random())
    outcome = ingest.store_reading(_db_url(), facility.id, payload, now_s)
    if outcome.details:  # pragma: no cover - the generator makes valid readings
        return jsonify({"error": "validation_error", "details": outcome.details}), 422
    created, reading_id, alerts, row = (
        outcome.created, outcome.id, outcome.alerts, outcome.row
    )
    return jsonify(
        {
            "status": "ok" if created else "duplicate",
            "id": reading_id,
            "facility_id": fid,
            "timestamp": iso_utc(row["ts_ms"], seconds=True),
            "reading": payload,
            "alerts": alerts,
        }
    ), 201 if created else 200


@bp.get("/api/debug/voltage-demo")
def debug_voltage_demo():
    """Development only: readings with a voltage profile, via validate + store."""
    fid, error = _debug_facility()
    if error is not None:
        return error
    condition = request.args.get("condition", "normal")
    if condition not in VOLTAGE_CONDITIONS:
        return json_error(
            400,
            "condition must be one of " + ", ".join(VOLTAGE_CONDITIONS),
            "condition",
        )
    count = 12
    now_s = time.time()
    rng = random.Random()
    facility = facilities.facility_info(fid, database_url=_db_url())
    interval = max(1, facility.expected_interval_s or 300)
    volts = voltage_profile(
        condition,
        facility.nominal_voltage,
        facility.voltage_warning_pct,
        facility.voltage_critical_pct,
        count,
    )
    payloads = []
    for i, volt in enumerate(volts):
        at = now_s - (count - 1 - i) * interval
        payload = realistic_reading(facility, at, rng)
        payload.update(voltage=volt, device_id="voltage-demo")
        payloads.append(payload)
    result = ingest.store_readings(_db_url(), facility.id, payloads, now_s)
    return jsonify(
        {
            "status": "ok",
            "condition": condition,
            "facility_id": fid,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "voltages": volts,
            "alerts": result.alerts,
        }
    ), 201
