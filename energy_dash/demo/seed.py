"""The demo: "Demo Facility" (id 1), its month of history, the demo user and keys.

``seed_demo`` is idempotent: when facility 1 already has readings it changes
nothing. History comes from :mod:`energy_dash.demo.site` at the facility's
reporting interval, the one the live simulator then sends at, so the data-quality
check finds no gap in it. It is written through
:func:`energy_dash.services.readings.write_readings` (the API's validation, one
executemany per week of readings), so its voltage alerts come out of the real
alert path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from energy_dash.db import session_scope
from energy_dash.db.models import Alert, ApiKey, Facility, Reading, Tariff, User, utcnow
from energy_dash.demo.site import SiteModel, history_chunks
from energy_dash.services.readings import write_readings
from energy_dash.storage import accounts, devices

logger = logging.getLogger(__name__)

DEMO_FACILITY_ID = 1
DEMO_NAME = "Demo Facility"
DEMO_USER = "demo"
DEMO_PASSWORD = "password"  # deliberately weak; development only, stored hashed
DEMO_DEVICE = "demo-meter"
DEMO_KEY_NAME = "demo-sensor"
SIMULATOR_KEY_NAME = "simulator"
DEMO_FACILITY = {
    "name": DEMO_NAME,
    "location": "Berlin, Germany",
    "latitude": 52.52,  # Berlin Mitte: the simulated sun and the forecasts use it
    "longitude": 13.405,
    "country": "DE",
    "timezone": "Europe/Berlin",
    "capacity_kw": 50.0,
    "panel_count": 88,  # 88 × 400 W ≈ 35 kWp, the simulator's array
    "nominal_voltage": 230.0,
    # The history is seeded and the live simulator posts at this interval: live
    # power, "connected", the wall's stale badge and the gap check follow it.
    "expected_interval_s": 10,
}


@dataclass(frozen=True)
class DemoResult:
    """What :func:`seed_demo` did."""

    facility_id: int
    seeded: bool  # False: facility 1 already had readings, nothing changed
    readings: int = 0
    alerts: int = 0
    user_created: bool = False
    api_key: str | None = None  # the demo sensor key, shown once


def site_model(facility: dict[str, Any] | None = None) -> SiteModel:
    """The simulator model of a facility (defaults: the demo facility)."""
    values = facility or DEMO_FACILITY
    extra: dict[str, float] = {}
    if values.get("latitude") is not None and values.get("longitude") is not None:
        extra = {"latitude": float(values["latitude"]),
                 "longitude": float(values["longitude"])}
    return SiteModel(
        capacity_kw=float(values.get("capacity_kw") or 50.0),
        nominal_voltage=float(values.get("nominal_voltage") or 230.0),
        timezone=values.get("timezone") or "UTC",
        **extra,
    )


def is_empty(database_url: str | None = None) -> bool:
    """True when the database holds no facility and no reading."""
    with session_scope(database_url) as session:
        return (
            session.scalar(select(Facility.id).limit(1)) is None
            and session.scalar(select(Reading.id).limit(1)) is None
        )


def demo_facility_id(database_url: str | None = None) -> int | None:
    """Facility 1 when it is the demo facility, else None."""
    with session_scope(database_url) as session:
        facility = session.get(Facility, DEMO_FACILITY_ID)
        if facility is None or facility.name != DEMO_NAME:
            return None
        return facility.id


def _facility_model(facility: Facility) -> SiteModel:
    return site_model(
        {"capacity_kw": facility.capacity_kw, "timezone": facility.timezone,
         "nominal_voltage": facility.nominal_voltage,
         "latitude": facility.latitude, "longitude": facility.longitude}
    )


def _write_history(
    frames: Iterable[pd.DataFrame],
    facility_id: int,
    database_url: str | None,
    *,
    after_ms: int | None = None,
) -> int:
    """Store generated history piece by piece (bounded memory); the readings
    accepted. ``after_ms``: only readings newer than this [ms]."""
    accepted = 0
    for frame in frames:
        if after_ms is not None:
            frame = frame[frame.index.as_unit("ms").asi8 > after_ms]
        if frame.empty:
            continue
        result = write_readings(
            frame, facility_id, device_id=DEMO_DEVICE, database_url=database_url
        )
        if result["rejected"]:
            logger.warning("demo: %d generated readings rejected",
                           len(result["rejected"]))
        accepted += result["accepted"]
    return accepted


def _has_readings(session: Session, facility_id: int) -> bool:
    return (
        session.scalar(
            select(Reading.id).where(Reading.facility_id == facility_id).limit(1)
        )
        is not None
    )


class NotTheDemo(ValueError):
    """Facility 1 exists and is someone's own: the demo will not write into it."""


def _ensure_facility(session: Session, interval_s: int | None = None) -> Facility:
    facility = session.get(Facility, DEMO_FACILITY_ID)
    if facility is not None:
        if facility.name != DEMO_NAME:
            raise NotTheDemo(
                f"facility {DEMO_FACILITY_ID} is {facility.name!r}, not the demo: "
                "seed the demo into an empty database"
            )
        return facility
    values = dict(DEMO_FACILITY)
    if interval_s is not None:
        values["expected_interval_s"] = interval_s
    facility = Facility(id=DEMO_FACILITY_ID, **values)
    session.add(facility)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # An explicit id does not advance the sequence; keep the next id free.
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('facilities', 'id'), "
                "(SELECT MAX(id) FROM facilities))"
            )
        )
    return facility


def _ensure_user(session: Session, facility_id: int) -> bool:
    """The demo user as admin of the facility; True when it was created now."""
    user = accounts.get_user(session, DEMO_USER)
    created = False
    if user is None:
        user = accounts.create_user(
            session, DEMO_USER, DEMO_PASSWORD, role="admin", check_strength=False
        )
        created = True
    accounts.grant(session, user.id, facility_id, "admin")
    return created


DEMO_DEMAND_CHARGE = 10.0
"""[EUR/kW/month]: a German low-voltage business connection with load metering
pays about 120 EUR per kW of yearly peak; 10 EUR per kW of the month's peak."""


def _ensure_tariff(session: Session, facility_id: int) -> None:
    exists = session.scalar(select(Tariff.id).where(Tariff.facility_id == facility_id))
    if exists is None:
        session.add(
            Tariff(facility_id=facility_id, currency="EUR", import_price=0.30,
                   export_price=0.08, standing_charge=0.0,
                   demand_charge=DEMO_DEMAND_CHARGE, tou={})
        )


def seed_demo(
    database_url: str | None = None,
    *,
    days: float = 30,
    production: bool = False,
    end: Any = None,
    interval_s: int | None = None,
) -> DemoResult:
    """Seed the demo facility, its history, user, tariff and sensor key.

    Parameters
    ----------
    database_url : str, optional
        Default ``DATABASE_URL``.
    days : float
        Days of history ending ``end`` (default now) [d], one reading per the
        facility's reporting interval (the demo facility's: 10 s).
    production : bool
        True (``ENERGY_DASH_ENV=production``): no demo user is created.
    interval_s : int, optional
        The new demo facility's reporting interval [s] instead of 10 s (the
        benchmarks seed a year of minute data).

    Returns
    -------
    DemoResult
        ``seeded=False`` when facility 1 already had readings (nothing changed).
    """
    if days <= 0:
        raise ValueError("days must be positive")
    with session_scope(database_url, write=True) as session:
        existing = session.get(Facility, DEMO_FACILITY_ID)
        if existing is not None and _has_readings(session, DEMO_FACILITY_ID):
            return DemoResult(DEMO_FACILITY_ID, seeded=False)
        facility = _ensure_facility(session, interval_s)
        model = _facility_model(facility)
        step_s = int(facility.expected_interval_s)
        user_created = False if production else _ensure_user(session, facility.id)
        _ensure_tariff(session, facility.id)
        key = devices.create_api_key(session, facility.id, DEMO_KEY_NAME)
        facility_id = facility.id

    readings = _write_history(
        history_chunks(model, end, days=days, step_s=step_s, events=True),
        facility_id, database_url,
    )
    with session_scope(database_url) as session:
        alerts = session.scalar(
            select(func.count()).select_from(Alert).where(
                Alert.facility_id == facility_id
            )
        )
    return DemoResult(
        facility_id=facility_id,
        seeded=True,
        readings=readings,
        alerts=int(alerts or 0),
        user_created=user_created,
        api_key=key,
    )


def fill_gap(
    database_url: str | None = None,
    facility_id: int = DEMO_FACILITY_ID,
    *,
    max_days: float = 30,
    end: Any = None,
) -> int:
    """Continue the demo history at the facility's reporting interval up to
    ``end`` (now).

    After the demo was stopped for a while (or while the server starts), this
    closes the gap so the last day is never empty and the quality check sees no
    silence; at most ``max_days`` are filled, without scripted events. Returns the
    number of readings written.
    """
    with session_scope(database_url) as session:
        facility = session.get(Facility, facility_id)
        if facility is None:
            return 0
        last = session.scalar(
            select(func.max(Reading.ts_ms)).where(
                Reading.facility_id == facility_id, Reading.device_id == DEMO_DEVICE
            )
        )
        model = _facility_model(facility)
        step_s = int(facility.expected_interval_s)
    if last is None:
        return 0
    step_ms = step_s * 1000
    # Short of the current second: the live reading that follows takes it, and
    # a stored one there with other values would be a conflict event.
    end_stamp = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1) if end is None
                 else pd.Timestamp(end))
    end_ms = int(end_stamp.value // 1_000_000) // step_ms * step_ms
    count = min((end_ms - int(last)) // step_ms, int(max_days * 86400 // step_s))
    if count < 1:
        return 0
    frames = history_chunks(model, pd.Timestamp(end_ms, unit="ms", tz="UTC"),
                            days=count * step_s / 86400, step_s=step_s, events=False)
    return _write_history(frames, facility_id, database_url, after_ms=int(last))


def create_simulator_key(
    database_url: str | None = None, facility_id: int = DEMO_FACILITY_ID
) -> str:
    """A fresh key named "simulator" for the built-in simulated sensor.

    Earlier simulator keys of the facility are revoked, so exactly one is active
    and no clear key is ever written to disk.
    """
    with session_scope(database_url) as session:
        for row in session.scalars(
            select(ApiKey).where(
                ApiKey.facility_id == facility_id,
                ApiKey.name == SIMULATOR_KEY_NAME,
                ApiKey.revoked_at.is_(None),
            )
        ):
            row.revoked_at = utcnow()
        return devices.create_api_key(session, facility_id, SIMULATOR_KEY_NAME)


def demo_user_exists(database_url: str | None = None) -> bool:
    with session_scope(database_url) as session:
        return (
            session.scalar(select(User.id).where(User.username == DEMO_USER))
            is not None
        )


def demo_login_works(database_url: str | None = None) -> bool:
    """True when ``demo`` / ``password`` signs in (the sign-in's own check).

    Only the demo seed skips the password rules, so no other account can have
    so weak a password. Production refuses to start then (``energy_dash.app``).
    """
    with session_scope(database_url) as session:
        return accounts.authenticate(session, DEMO_USER, DEMO_PASSWORD) is not None


__all__ = [
    "DEMO_DEVICE",
    "DEMO_FACILITY_ID",
    "DEMO_NAME",
    "DEMO_PASSWORD",
    "DEMO_USER",
    "DemoResult",
    "create_simulator_key",
    "demo_facility_id",
    "demo_login_works",
    "demo_user_exists",
    "fill_gap",
    "is_empty",
    "seed_demo",
    "site_model",
]


FORECAST_HISTORY_DAYS = 7


def seed_forecast_history(
    database_url: str | None = None,
    facility_id: int = DEMO_FACILITY_ID,
    *,
    days: int = FORECAST_HISTORY_DAYS,
    end: Any = None,
    weather_url: str | None = None,
) -> int:
    """Store the day-ahead forecasts the refresh would have made at each of the
    last ``days`` local midnights, so a fresh demo already shows "yesterday's
    forecast against what happened" and accuracy over time.

    Each run is the real refresh with ``now`` at that day's local midnight: its
    history ends before the day starts, so no forecast ever saw its own day.
    Returns the number of runs stored.
    """
    from energy_dash.config import Settings
    from energy_dash.domain.times import local_midnight, local_today
    from energy_dash.services.facilities import facility_info
    from energy_dash.services.forecast_refresh import refresh_forecasts

    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    end_ms = None if end is None else int(pd.Timestamp(end).value // 1_000_000)
    today = local_today(end_ms, info.timezone)
    settings = Settings(database_url=database_url or "", weather_url=weather_url)
    stored = 0
    for back in range(days, 0, -1):
        day = today - pd.Timedelta(days=back).to_pytimedelta()
        moment = local_midnight(day, info.timezone).to_pydatetime()
        results = refresh_forecasts(settings, facility_id, now=moment)
        stored += sum(item["status"] == "stored" for item in results)
    logger.info("demo: %d past day-ahead forecasts stored", stored)
    return stored
