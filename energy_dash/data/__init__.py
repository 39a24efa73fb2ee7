"""Energy Dash data API for notebooks: tidy, tz-aware frames (README "Notebooks").

The app itself never imports this package; it calls the services.

Importing this module starts no server, no Dash app and no scheduler. Every
function opens its own short session on ``database_url`` (default: the
``DATABASE_URL`` environment variable, else the embedded SQLite database).

Examples
--------
>>> from energy_dash import data
>>> hourly = data.read_readings(1, "2025-06-01", "2025-06-08", resample="1h")
>>> hourly[["energy_produced", "energy_consumed"]].plot()
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from energy_dash.db import get_engine, session_scope
from energy_dash.db.models import Alert, Facility
from energy_dash.domain.times import to_utc
from energy_dash.services.readings import read_readings, write_readings
from energy_dash.storage.forecasts import check_target, forecast_frame, latest_row

__all__ = [
    "list_facilities",
    "read_readings",
    "write_readings",
    "read_forecast",
    "read_alerts",
]

FACILITY_COLUMNS = (
    "id", "name", "location", "country", "timezone", "capacity_kw", "panel_count",
    "nominal_voltage", "expected_interval_s", "voltage_warning_pct",
    "voltage_critical_pct", "voltage_hysteresis_pct",
)


# ---------------------------------------------------------------------- facilities
def list_facilities(*, database_url: str | None = None) -> pd.DataFrame:
    """All facilities, one row each (id, name, time zone, capacity [kW], bands [%])."""
    with session_scope(database_url) as session:
        rows = session.scalars(select(Facility).order_by(Facility.id)).all()
        records = [{c: getattr(f, c) for c in FACILITY_COLUMNS} for f in rows]
    return pd.DataFrame.from_records(records, columns=list(FACILITY_COLUMNS))


# ----------------------------------------------------------------------- forecasts
def read_forecast(
    facility_id: int, target: str = "consumption", *, database_url: str | None = None
) -> pd.DataFrame:
    """The newest stored forecast of ``target`` (``consumption`` or ``production``).

    Returns a frame indexed by hour (UTC) with ``yhat``, ``yhat_lower`` and
    ``yhat_upper`` [kWh per hour]; ``attrs`` carry ``model``, ``trained_at`` and
    the backtest ``metrics``. Empty when no forecast was stored yet.
    """
    check_target(target)
    with session_scope(database_url) as session:
        return forecast_frame(latest_row(session, facility_id, target))


# -------------------------------------------------------------------------- alerts
ALERT_COLUMNS = (
    "id", "facility_id", "kind", "level", "started_at", "ended_at", "extreme_value",
    "message", "device_id", "acknowledged_at", "acknowledged_by",
)


def read_alerts(
    facility_id: int | None = None,
    start: Any = None,
    end: Any = None,
    *,
    database_url: str | None = None,
) -> pd.DataFrame:
    """Alerts active at any moment of ``[start, end)``, newest first.

    Columns: ``id``, ``facility_id``, ``kind`` (``voltage_high``, ``voltage_low``,
    ``outage``, …), ``level`` (``warning``/``critical``), ``started_at``,
    ``ended_at`` (NaT while open), ``extreme_value`` [V for voltage kinds],
    ``message``, ``device_id``, ``acknowledged_at``, ``acknowledged_by``,
    ``duration_s``.
    """
    start_at, end_at = to_utc(start), to_utc(end)
    stmt = select(*(getattr(Alert, c) for c in ALERT_COLUMNS))
    if facility_id is not None:
        stmt = stmt.where(Alert.facility_id == int(facility_id))
    if end_at is not None:
        stmt = stmt.where(Alert.started_at < end_at.to_pydatetime())
    if start_at is not None:
        stmt = stmt.where(
            (Alert.ended_at.is_(None)) | (Alert.ended_at >= start_at.to_pydatetime())
        )
    with get_engine(database_url).connect() as conn:
        stmt = stmt.order_by(Alert.started_at.desc(), Alert.id.desc())
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=list(ALERT_COLUMNS))
    for name in ("started_at", "ended_at", "acknowledged_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    frame["duration_s"] = (frame["ended_at"] - frame["started_at"]).dt.total_seconds()
    return frame
