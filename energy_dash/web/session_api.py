"""The browser session API (login required; 401 JSON without a session):
``/api/latest-hardware-data``, ``/api/hardware-status-check`` and
``/api/export.csv`` (the CSV format of ``energy_dash.services.csv_format``).
A user sees only the facilities they belong to (:func:`replies.facility_param`).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, stream_with_context

from energy_dash.db.models import READING_FIELDS
from energy_dash.domain.times import DAY_MS, iso_local, iso_utc, now_ms
from energy_dash.services import csv_format, live
from energy_dash.web.replies import db_url as _db_url
from energy_dash.web.replies import facility_param, json_error

bp = Blueprint("session_api", __name__)


def _utc(ts_ms: int | None) -> str | None:
    return None if ts_ms is None else iso_utc(ts_ms, seconds=True)


def _local(ts_ms: int | None, zone: str) -> str | None:
    return None if ts_ms is None else iso_local(ts_ms, zone)


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@bp.get("/api/latest-hardware-data")
def latest_hardware_data():
    """The newest reading of a facility with its local time and power [kW]."""
    facility, error = facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    state, row = live.latest_state_and_row(fid, database_url=url)
    body: dict[str, Any] = {
        "facility_id": fid,
        "facility_name": facility.name,
        "timezone": facility.timezone,
        "timestamp": None,
        "local_time": None,
        "device_id": None,
        "expected_interval_s": facility.expected_interval_s,
    }
    fields = READING_FIELDS
    for name in fields:
        body[name] = None
    body.update(
        interval_s=None,
        power_kw={"produced": None, "consumed": None, "net_import": None},
        connected=False,
        age_s=None,
    )
    if row is not None and state.get("last_ms") is not None:
        body["timestamp"] = iso_utc(row.ts_ms, seconds=True)
        body["local_time"] = iso_local(row.ts_ms, facility.timezone)
        body["device_id"] = row.device_id
        for name in fields:
            body[name] = _num(getattr(row, name))
        body["interval_s"] = state["interval_s"]
        body["power_kw"] = {
            "produced": _round(state["production_kw"]),
            "consumed": _round(state["consumption_kw"]),
            "net_import": _round(state["net_import_kw"]),
        }
        body["connected"] = bool(state["connected"])
        body["age_s"] = _round(state["age_s"], 1)
    return jsonify(body)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@bp.get("/api/hardware-status-check")
def hardware_status_check():
    """Is the facility's sensor reporting? (connected, last seen, expected interval)."""
    facility, error = facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    state = live.latest_state(fid, database_url=url)
    count = live.readings_since(fid, now_ms() - DAY_MS, database_url=url)
    return jsonify(
        {
            "facility_id": fid,
            "connected": bool(state["connected"]),
            "last_seen": _utc(state["last_ms"]),
            "last_seen_local": _local(state["last_ms"], facility.timezone),
            "age_s": _round(state["age_s"], 1),
            "expected_interval_s": facility.expected_interval_s,
            "readings_24h": int(count),
            "timezone": facility.timezone,
        }
    )


EXPORT_CHUNK_MS = 7 * 86_400_000
EXPORT_MAX_DAYS = 3660


def _parse_instant(raw: str, zone: str, field: str) -> int:
    """Epoch ms from ISO 8601 (offset, or naive = facility local time) or a date."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _ParamError(
            field, f"{field} must be an ISO 8601 date or date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return int(moment.timestamp() * 1000)


class _ParamError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@bp.get("/api/export.csv")
def export_csv():
    """Every reading of ``[start, end)`` as CSV (streamed in weekly chunks)."""
    facility, error = facility_param()
    if error is not None:
        return error
    fid, url = facility.id, _db_url()
    try:
        now = now_ms()
        end_raw, start_raw = request.args.get("end"), request.args.get("start")
        end_ms = (
            _parse_instant(end_raw, facility.timezone, "end") if end_raw else now
        )
        start_ms = (
            _parse_instant(start_raw, facility.timezone, "start")
            if start_raw
            else end_ms - 86_400_000
        )
    except _ParamError as exc:
        return json_error(400, str(exc), exc.field)
    if end_ms <= start_ms:
        return json_error(400, "end must be after start", "end")
    if end_ms - start_ms > EXPORT_MAX_DAYS * 86_400_000:
        return json_error(
            400, f"the range must be at most {EXPORT_MAX_DAYS} days", "start"
        )
    name = (
        f"energy-dash-facility-{fid}-{iso_local(start_ms, facility.timezone)[:10]}"
        f"-{iso_local(end_ms - 1, facility.timezone)[:10]}.csv"
    )
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if end_ms - start_ms <= EXPORT_CHUNK_MS:
        text = csv_format.export_csv(
            fid, start_ms, end_ms, database_url=url, facility=facility
        )
        return Response(text, mimetype="text/csv", headers=headers)
    chunks = csv_format.export_chunks(
        facility, start_ms, end_ms, EXPORT_CHUNK_MS, database_url=url
    )
    return Response(
        stream_with_context(chunks), mimetype="text/csv", headers=headers
    )
