"""The forecast refresh: fit and store the next 24 hours of every facility's
consumption and production (the ``forecast_refresh`` job and ``energy-dash
forecast``). The models are :mod:`energy_dash.forecasting`; the history and the
stored runs are :mod:`energy_dash.services.forecasts`.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from energy_dash.config import Settings
from energy_dash.forecasting import BASELINES, backtest, forecast, warm_up
from energy_dash.services import forecasts as store
from energy_dash.services.weather import WeatherUnavailable, fetch_weather

logger = logging.getLogger(__name__)

FORECAST_FOLDS = 7
WEATHER_TIMEOUT = 5.0
MODEL_WORDS = {
    "seasonal_naive_day": "same time yesterday",
    "seasonal_naive_week": "same time last week",
    "mstl": "MSTL",
    "mstl_ets": "MSTL",
    "prophet": "Prophet",
    "solar": "the sun's geometry at the site",
    "ensemble": "an ensemble",
}
_warm = {"done": False}


def warm_once() -> None:
    """Import and exercise the model libraries once per process, in the job."""
    if not _warm["done"]:
        _warm["done"] = True
        try:
            warm_up()
        except Exception:  # a failed warm-up only costs the first refresh time
            logger.exception("forecasting warm-up failed")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def refresh_forecasts(
    settings: Settings,
    facility_id: int | None = None,
    *,
    now: datetime | None = None,
    timeout: float | None = 60.0,
    model: str = "auto",
    n_jobs: int | None = None,
) -> list[dict[str, Any]]:
    """Fit and store the next 24 hours of consumption and production forecasts.

    For every facility (or only ``facility_id``): the last up to 90 days of
    hourly energy (``services.forecasts.hourly_history``: a regular local-hour grid,
    gaps up to 3 hours interpolated, longer gaps left out) go to
    :func:`energy_dash.forecasting.forecast` with a horizon of 24 hours, the
    facility's holiday country, for production its coordinates (the sun's
    geometry) and, when ``settings.weather_url`` is set, the site's weather from
    that endpoint (a failure or timeout is noted and the forecast goes on
    without it), ``nonnegative=True`` for production and a hard
    ``timeout`` per Prophet fit. With 14 days or more, ``model="auto"`` may
    choose Prophet or the ensemble by backtest; with 2–14 days only the
    seasonal-naive baselines compete (the stored note says so); under 2 days
    nothing is stored. A Prophet fit that fails or times out falls back to the
    best baseline and the note says why. One ``forecasts`` row per target and
    run; earlier runs are kept.

    Parameters
    ----------
    settings : Settings
        ``database_url`` is used.
    facility_id : int, optional
        Only this facility (``LookupError`` when it does not exist).
    now : datetime, optional
        The moment of the run (default now): history ends at the start of the
        local hour containing it, the forecast starts there, and it is stored as
        ``trained_at``.
    timeout : float or None
        Deadline per Prophet fit [s].
    model : str
        Passed to ``forecast`` (``"auto"`` in production).
    n_jobs : int, optional
        Prophet fits in parallel (default: CPU count, at most 4).

    Returns
    -------
    list of dict
        One per facility and target: ``facility_id``, ``target``, ``model``
        (None when nothing was stored), ``status`` (``stored``,
        ``not_enough_history`` or ``failed``), ``message`` (plain words), and
        ``forecast_id`` when stored.
    """
    url = settings.database_url
    moment = _utc(now)
    warm_once()
    if facility_id is not None:
        if store.facility_info(facility_id, database_url=url) is None:
            raise LookupError(f"facility {facility_id} does not exist")
        ids = [int(facility_id)]
    else:
        ids = store.facility_ids(database_url=url)
    results: list[dict[str, Any]] = []
    for fid in ids:
        try:
            results.extend(
                _refresh_facility(url, fid, moment, timeout, model, n_jobs,
                                  settings.weather_url)
            )
        except Exception as exc:  # one facility's failure must not stop the rest
            logger.exception("forecast refresh of facility %s failed", fid)
            results.extend(
                {
                    "facility_id": fid,
                    "target": target,
                    "model": None,
                    "status": "failed",
                    "message": f"forecast refresh failed: {type(exc).__name__}: {exc}",
                }
                for target in ("consumption", "production")
            )
    for item in results:
        logger.info(
            "forecast facility=%s target=%s status=%s model=%s",
            item["facility_id"], item["target"], item["status"], item["model"],
        )
    return results


def refresh_one(
    settings: Settings,
    facility_id: int,
    target: str,
    *,
    now: datetime,
    slot: datetime | None = None,
    timeout: float | None = 60.0,
    model: str = "auto",
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Fit and store one facility's forecast of one target (one Celery task).

    As :func:`refresh_forecasts` for a single (facility, target). With ``slot``
    the stored run is tied to that refresh slot: when the slot already has a
    run of this facility and target, nothing is stored and the status is
    ``duplicate``. A facility deleted meanwhile gives status ``gone``.
    """
    results = _refresh_facility(
        settings.database_url, int(facility_id), _utc(now), timeout, model, n_jobs,
        settings.weather_url, targets=(target,), slot=slot,
    )
    if not results:
        return {
            "facility_id": facility_id, "target": target, "model": None,
            "status": "gone", "message": "the facility no longer exists",
        }
    return results[0]


def _refresh_facility(
    url: str,
    fid: int,
    moment: datetime,
    timeout: float | None,
    model: str,
    n_jobs: int | None,
    weather_url: str | None = None,
    *,
    targets: tuple[str, ...] | None = None,
    slot: datetime | None = None,
) -> list[dict[str, Any]]:
    info = store.facility_info(fid, database_url=url)
    if info is None:  # deleted meanwhile
        return []
    wanted = {t: c for t, c in store.TARGETS.items() if targets is None or t in targets}
    history = store.hourly_history(fid, end=moment, database_url=url, tz=info.timezone)
    hours = int(history.attrs["hours_with_data"])
    if hours < store.MIN_HISTORY_HOURS:
        message = store.not_enough_history_message(hours)
        return [
            {
                "facility_id": fid,
                "target": target,
                "model": None,
                "status": "not_enough_history",
                "message": message,
            }
            for target in wanted
        ]
    weather, weather_note = _weather(info, weather_url)
    out = []
    for target, column in wanted.items():
        try:
            out.append(
                _refresh_target(
                    url, info, target, history[column], hours, moment, timeout,
                    model, n_jobs, slot, weather=weather, weather_note=weather_note,
                )
            )
        except Exception as exc:  # the other target still gets its forecast
            logger.exception("forecast of facility %s %s failed", fid, target)
            out.append({
                "facility_id": fid,
                "target": target,
                "model": None,
                "status": "failed",
                "message": f"forecast failed: {type(exc).__name__}: {exc}",
            })
    return out


def _weather(info, url: str | None) -> tuple[Any, str | None]:
    """The site's weather frame, or None with the sentence the page shows."""
    if not url or info.location is None:
        return None, None
    try:
        return fetch_weather(url, *info.location, timeout=WEATHER_TIMEOUT), None
    except WeatherUnavailable as exc:
        logger.warning("weather for facility %s unavailable: %s", info.id, exc)
        return None, (
            f"Weather forecast unavailable ({exc}): production forecast from the "
            "sun's geometry and recent production alone."
        )


def _refresh_target(
    url: str,
    info,
    target: str,
    series,
    hours: int,
    moment: datetime,
    timeout: float | None,
    model: str,
    n_jobs: int | None,
    slot: datetime | None = None,
    *,
    weather: Any = None,
    weather_note: str | None = None,
) -> dict[str, Any]:
    notes: list[str] = []
    production = target == "production"
    location = info.location if production else None
    short = (hours < store.PROPHET_HISTORY_HOURS and model in ("auto", "ensemble")
             and location is None)
    if short:
        notes.append(
            f"Only {hours / 24:.1f} days of history: seasonal-naive baselines only "
            "(MSTL and Prophet need 14 days)."
        )
    if production and info.location is None:
        notes.append(
            "No coordinates for this facility: production is forecast from its own "
            "past only (set latitude and longitude in Settings to follow the sun)."
        )
    if production and weather_note:
        notes.append(weather_note)
    options = dict(
        model=model, nonnegative=production, timeout=timeout, folds=FORECAST_FOLDS,
        n_jobs=n_jobs, location=location,
        weather=weather if production else None,
    )
    country = info.country
    try:
        frame = forecast(series, store.HORIZON_HOURS, country=country, **options)
    except ValueError as exc:
        if not (country and "holiday country" in str(exc)):
            raise
        notes.append(f"No public-holiday calendar for {country!r}: holidays ignored.")
        frame = forecast(series, store.HORIZON_HOURS, country=None, **options)
    attrs = frame.attrs
    chosen = attrs["model"]
    if not production:  # consumption cannot be negative either
        frame = frame.clip(lower=0.0)
    if attrs.get("note") and not short:
        notes.append(attrs["note"][0].upper() + attrs["note"][1:] + ".")
    if attrs.get("fallback_reason"):
        reason = attrs["fallback_reason"]
        notes.append(
            f"{reason[0].upper() + reason[1:]}: Prophet was left out and "
            f"{MODEL_WORDS.get(chosen, chosen)} was used."
        )
    metrics = _metrics(attrs, hours)
    metrics["history_end"] = series.index[-1].tz_convert("UTC").isoformat()
    metrics["location"] = bool(attrs.get("location"))
    metrics["weather"] = list(attrs.get("weather") or [])
    if attrs.get("members"):
        metrics["members"] = list(attrs["members"])
    if not metrics.get("folds") and chosen in BASELINES and model in BASELINES:
        try:
            result = backtest(
                series, store.HORIZON_HOURS, folds=FORECAST_FOLDS, model=chosen,
                nonnegative=production,
            )
        except ValueError:
            result = None
        if result is not None:
            metrics.update(
                {k: result[k] for k in ("mae", "wape", "coverage", "skill_vs_naive",
                                        "folds")},
                candidates=result["candidates"],
                baseline=min(result["baselines"], key=result["baselines"].get),
                baseline_mae=min(result["baselines"].values()),
            )
    if not metrics.get("folds"):
        notes.append("Too little history for a backtest: no accuracy figures yet.")
    try:
        forecast_id = store.save_forecast(
            info.id,
            target,
            frame,
            model=chosen,
            trained_at=moment,
            metrics=metrics,
            note=" ".join(notes) or None,
            slot=slot,
            database_url=url,
        )
    except IntegrityError:
        if slot is None:
            raise
        return {  # a redelivered or duplicated task: the slot's run is stored
            "facility_id": info.id,
            "target": target,
            "model": chosen,
            "status": "duplicate",
            "message": "this slot's forecast was stored already",
        }
    return {
        "facility_id": info.id,
        "target": target,
        "model": chosen,
        "status": "stored",
        "message": _summary(metrics),
        "forecast_id": forecast_id,
    }


def _metrics(attrs: dict[str, Any], hours: int) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    backtested = attrs.get("backtest") or {}
    for key in ("mae", "wape", "coverage", "skill_vs_naive", "folds"):
        if key in backtested:
            metrics[key] = backtested[key]
    candidates = {
        k: float(v) for k, v in (attrs.get("candidates") or {}).items()
        if v is not None and math.isfinite(float(v))
    }
    baselines = {b: candidates[b] for b in BASELINES if b in candidates}
    if baselines:
        best = min(baselines, key=baselines.get)
        metrics["baseline"] = best
        metrics["baseline_mae"] = baselines[best]
    if candidates:
        metrics["candidates"] = candidates
    if attrs.get("prophet_config"):
        metrics["prophet_config"] = dict(attrs["prophet_config"])
    if attrs.get("fallback_reason"):
        metrics["fallback_reason"] = attrs["fallback_reason"]
    metrics["history_hours"] = hours
    metrics["horizon_hours"] = 24
    metrics["interval"] = attrs.get("interval", 0.8)
    return metrics


def _summary(metrics: dict[str, Any]) -> str:
    mae, wape = metrics.get("mae"), metrics.get("wape")
    if mae is None or not math.isfinite(mae):
        return "stored; too little history for a backtest yet"
    text = f"backtest MAE {mae:.3f} kWh per hour"
    if wape is not None and math.isfinite(wape):
        text += f", WAPE {wape * 100:.1f} %"
    folds = metrics.get("folds")
    return text + f" over the last {folds} day{'s' if folds != 1 else ''}"
