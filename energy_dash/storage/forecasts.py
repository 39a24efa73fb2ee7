"""Stored forecast runs: one ``forecasts`` row per refresh and target.

``points`` holds ``{"timestamp": [ISO 8601 UTC], "yhat", "yhat_lower",
"yhat_upper"}`` (hourly values [kWh per hour], an 80 % interval) and ``metrics``
the rolling-origin backtest of the chosen model. Runs are kept, so the forecast
that covered a past day can be compared with what happened. Functions take the
Session they are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from energy_dash.db.models import Forecast
from energy_dash.domain.metrics import finite
from energy_dash.domain.times import HOUR, aware, iso_utc, now_or, utc_index

TARGETS: dict[str, str] = {
    "consumption": "energy_consumed",
    "production": "energy_produced",
}
"""Forecast target -> the reading column it forecasts [kWh]."""


def check_target(target: str) -> str:
    """``target`` when it is ``consumption`` or ``production``, else ValueError."""
    if target not in TARGETS:
        raise ValueError("target must be 'consumption' or 'production'")
    return target


def json_safe(value: Any) -> Any:
    """Plain JSON values (NaN -> None, numpy -> Python, timestamps -> ISO UTC)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite(value)
    if isinstance(value, pd.Timestamp | datetime):
        return iso_utc(value, seconds=True)
    return value


def forecast_frame(row: Forecast | None) -> pd.DataFrame:
    """A stored forecast row as a frame (shared by the API and the pages)."""
    columns = ["yhat", "yhat_lower", "yhat_upper"]
    if row is None:
        frame = pd.DataFrame(columns=columns, dtype="float64")
        frame.index = utc_index([], "UTC")
        return frame
    points = row.points or {}
    index = pd.DatetimeIndex(pd.to_datetime(points.get("timestamp", []), utc=True),
                             name="timestamp")
    frame = pd.DataFrame({c: points.get(c, []) for c in columns}, index=index,
                         dtype="float64")
    trained = row.trained_at
    if trained is not None and trained.tzinfo is None:
        trained = trained.replace(tzinfo=UTC)
    frame.attrs.update(
        model=row.model, trained_at=trained, metrics=row.metrics or {},
        target=row.target, facility_id=row.facility_id, note=row.note,
    )
    return frame


@dataclass(frozen=True)
class ForecastRun:
    """One stored forecast run (a plain copy; safe after the session closed)."""

    id: int
    facility_id: int
    target: str
    model: str
    trained_at: datetime
    start: datetime
    metrics: dict[str, Any]
    note: str | None
    frame: pd.DataFrame = field(repr=False)

    @property
    def end(self) -> pd.Timestamp:
        """End of the last forecast hour [UTC]."""
        if self.frame.empty:
            return pd.Timestamp(self.start)
        return self.frame.index[-1] + HOUR


def _run(row: Forecast) -> ForecastRun:
    return ForecastRun(
        id=row.id,
        facility_id=row.facility_id,
        target=row.target,
        model=row.model,
        trained_at=aware(row.trained_at),
        start=aware(row.start),
        metrics=dict(row.metrics or {}),
        note=row.note,
        frame=forecast_frame(row),
    )


def save_forecast(
    session: Session,
    facility_id: int,
    target: str,
    frame: pd.DataFrame,
    *,
    model: str,
    trained_at: Any = None,
    metrics: dict[str, Any] | None = None,
    note: str | None = None,
) -> int:
    """Store one forecast run; returns its id.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``yhat``, ``yhat_lower``, ``yhat_upper`` [kWh per hour] on a tz-aware
        hourly index (the hour starts).
    model : str
        The model that produced the numbers.
    trained_at : instant, optional
        When it was computed (default now).
    metrics : dict, optional
        Backtest figures (see the module docstring); NaN is stored as null.
    note : str, optional
        Plain-words remarks (baselines only, fallback after a timeout, ...).
    """
    check_target(target)
    if frame.empty:
        raise ValueError("a forecast needs at least one point")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        raise ValueError("forecast index must be tz-aware")
    index = index.tz_convert("UTC")
    points = {
        "timestamp": [iso_utc(t, seconds=True) for t in index],
        **{
            column: [finite(v) for v in frame[column].to_numpy(dtype=float)]
            for column in ("yhat", "yhat_lower", "yhat_upper")
        },
    }
    row = Forecast(
        facility_id=int(facility_id),
        target=target,
        model=model,
        trained_at=now_or(trained_at).to_pydatetime(),
        start=index[0].to_pydatetime(),
        metrics=json_safe(metrics or {}),
        points=points,
        note=note,
    )
    session.add(row)
    session.flush()
    return row.id


def latest_row(session: Session, facility_id: int, target: str) -> Forecast | None:
    """The newest stored row of ``target`` (by training time), or None."""
    check_target(target)
    return session.scalars(
        select(Forecast)
        .where(Forecast.facility_id == int(facility_id), Forecast.target == target)
        .order_by(Forecast.trained_at.desc(), Forecast.id.desc())
        .limit(1)
    ).first()


def latest_forecast(
    session: Session, facility_id: int, target: str = "consumption"
) -> ForecastRun | None:
    """The newest stored run of ``target`` (by training time), or None."""
    row = latest_row(session, facility_id, target)
    return _run(row) if row is not None else None


def runs_starting(
    session: Session, facility_id: int, target: str, lo: pd.Timestamp, hi: pd.Timestamp
) -> list[ForecastRun]:
    """Runs whose ``start`` lies in ``[lo, hi)``."""
    rows = session.scalars(
        select(Forecast)
        .where(
            Forecast.facility_id == int(facility_id),
            Forecast.target == target,
            Forecast.start >= lo.to_pydatetime(),
            Forecast.start < hi.to_pydatetime(),
        )
        .order_by(Forecast.start, Forecast.trained_at, Forecast.id)
    ).all()
    return [_run(r) for r in rows]
