"""``GET /api/predictions``: the stored 24-hour forecast of a facility (README
"Browser session API").

Browser session API: a signed-in user (Flask-Login session cookie) who is a member
of the facility. Query parameters:

``facility_id``  required, a facility id (integer)
``target``       ``consumption`` (default) or ``production``

Answers (always JSON):

=====  ==========================================================================
200    the newest stored forecast run (below). When none is stored yet the answer
       is still 200, with ``"points": []``, ``"model": null`` and a ``message``
       saying why (for example "Forecasts need at least 2 days of readings; this
       facility has 30 hours") — a dashboard polling the endpoint needs no
       special case for a new facility.
400    ``{"error": "...", "field": "facility_id" | "target"}`` for a missing or
       malformed parameter
401    ``{"error": "login required"}`` without a session
403    ``{"error": "..."}`` when the user is not a member of the facility (also
       for ids that do not exist: existence is not revealed)
=====  ==========================================================================

Body of a 200::

    {"facility_id": 1, "target": "consumption", "timezone": "Europe/Berlin",
     "unit": "kWh", "interval": 0.8,
     "model": "prophet", "trained_at": "2026-06-18T10:20:00Z",
     "start": "2026-06-18T10:00:00Z", "end": "2026-06-19T10:00:00Z",
     "stale": false,
     "metrics": {"mae": 0.52, "wape": 0.097, "coverage": 0.8,
                 "skill_vs_naive": 0.23, "folds": 3, "baseline": "...", ...},
     "note": null, "message": null,
     "points": [{"timestamp": "2026-06-18T10:00:00Z",
                 "local_time": "2026-06-18T12:00:00+02:00",
                 "yhat": 4.1, "yhat_lower": 3.5, "yhat_upper": 4.9}, ...]}

Each point is the energy of one hour starting at ``timestamp`` [kWh];
``yhat_lower``/``yhat_upper`` bound an 80 % interval. ``metrics`` are the
rolling-origin backtest of the model (``mae`` [kWh per hour], ``wape``,
``coverage``, ``skill_vs_naive`` as fractions). ``stale`` is true when the run's
last hour has passed (the refresh job has not run since).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from flask import Blueprint, Flask, current_app, jsonify, request
from flask_login import current_user

from energy_dash.domain.metrics import finite
from energy_dash.domain.times import iso_utc, to_utc
from energy_dash.services import forecasts as store
from energy_dash.web import auth
from energy_dash.web.replies import id_param, json_error

logger = logging.getLogger(__name__)

bp = Blueprint("predictions_api", __name__)


def prediction_payload(
    facility_id: int, target: str, *, database_url: str | None = None,
    now: Any = None,
) -> dict[str, Any]:
    """The JSON body of a 200 answer (see the module docstring)."""
    info = store.facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    run = store.latest_forecast(facility_id, target, database_url=database_url)
    body: dict[str, Any] = {
        "facility_id": facility_id,
        "target": target,
        "timezone": info.timezone,
        "unit": "kWh",
        "interval": 0.8,
    }
    if run is None:
        status = store.history_status(
            facility_id, now=now, database_url=database_url
        )
        message = status["message"] or (
            "No forecast stored yet: the scheduled refresh computes one "
            "(or run `energy-dash forecast`)."
        )
        body.update(
            model=None, trained_at=None, start=None, end=None, stale=None,
            metrics={}, note=None, message=message, points=[],
        )
        return body
    moment = pd.Timestamp.now(tz="UTC") if now is None else to_utc(now)
    frame = run.frame
    local = frame.index.tz_convert(info.timezone)
    points = [
        {
            "timestamp": iso_utc(stamp, seconds=True),
            "local_time": local_stamp.isoformat(),
            "yhat": finite(row.yhat),
            "yhat_lower": finite(row.yhat_lower),
            "yhat_upper": finite(row.yhat_upper),
        }
        for stamp, local_stamp, row in zip(
            frame.index, local, frame.itertuples(index=False), strict=True
        )
    ]
    stale = bool(run.end <= moment)
    body.update(
        model=run.model,
        trained_at=iso_utc(run.trained_at, seconds=True),
        start=iso_utc(run.start, seconds=True),
        end=iso_utc(run.end, seconds=True),
        stale=stale,
        metrics=run.metrics,
        note=run.note,
        message=(
            "This forecast has expired: the refresh job has not run since it was "
            "trained." if stale else None
        ),
        points=points,
    )
    return body


@bp.get("/api/predictions")
def predictions():
    if not current_user.is_authenticated:
        return json_error(401, "login required")
    facility_id, error = id_param("facility_id")
    if error is not None:
        return error
    if facility_id is None:
        return json_error(400, "facility_id is required", "facility_id")
    target = request.args.get("target", "consumption")
    if target not in store.TARGETS:
        return json_error(400, "target must be 'consumption' or 'production'", "target")
    try:
        auth.check_facility(facility_id)
    except PermissionError as exc:
        return json_error(403, str(exc))
    url = current_app.config["ENERGY_DASH"].database_url
    try:
        body = prediction_payload(facility_id, target, database_url=url)
    except LookupError:  # deleted between the membership check and the read
        return json_error(403, "you are not a member of this facility")
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(server: Flask) -> None:
    """Register the blueprint on the Flask server (``create_app`` calls this)."""
    server.register_blueprint(bp)


__all__ = ["bp", "init_app", "prediction_payload"]
