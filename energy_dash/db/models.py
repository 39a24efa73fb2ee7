"""Typed SQLAlchemy 2 models. Every timestamp is UTC.

Readings keep their instant as integer epoch milliseconds (``ts_ms``): both engines
compare, index and bucket integers quickly and identically, and there is no naive
vs aware ambiguity when SQLite hands values back. Everything else uses timezone-
aware ``DateTime`` columns, read back through :func:`utc`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "operator", "viewer")
READING_FIELDS = (
    "energy_produced",
    "energy_consumed",
    "current_load",
    "voltage",
    "current",
    "current1",
    "current2",
    "current3",
    "frequency",
    "power_factor",
)
ENERGY_FIELDS = ("energy_produced", "energy_consumed")

BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    """Make a datetime read from the database aware (SQLite returns naive UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


APP_CHECKED_ON = "app_checked_on"
"""``ForeignKey.info`` key: the dialect where writers, not the key, keep it."""

class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout and password change: every older session cookie stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    theme: Mapped[str] = mapped_column(String(16), default="light")
    avatar_file: Mapped[str | None] = mapped_column(String(64))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    capacity_kw: Mapped[float] = mapped_column(Float, default=100.0)
    panel_count: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    nominal_voltage: Mapped[float] = mapped_column(Float, default=230.0)
    expected_interval_s: Mapped[int] = mapped_column(Integer, default=300)
    voltage_warning_pct: Mapped[float] = mapped_column(Float, default=10.0)
    voltage_critical_pct: Mapped[float] = mapped_column(Float, default=15.0)
    voltage_hysteresis_pct: Mapped[float] = mapped_column(Float, default=1.0)
    latitude: Mapped[float | None] = mapped_column(Float)  # [°N]; solar forecasts
    longitude: Mapped[float | None] = mapped_column(Float)  # [°E]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="facility", cascade="all, delete-orphan"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "facility_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="viewer")

    user: Mapped[User] = relationship(back_populates="memberships")
    facility: Mapped[Facility] = relationship(back_populates="memberships")


class ApiKey(Base):
    """A device key: only its SHA-256 digest is stored, looked up by that index."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class DisplayToken(Base):
    """A read-only token that opens /wall for one facility; hashed like device keys."""

    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class Reading(Base):
    """One sensor reading; energies are kWh in the interval since the previous one."""

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("facility_id", "device_id", "ts_ms", name="uq_reading"),
        Index("ix_readings_facility_ts", "facility_id", "ts_ms"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # PostgreSQL (migration 0009): no per-row foreign key; writers check the
    # facility once per transaction and a delete trigger removes its readings.
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE",
                   info={APP_CHECKED_ON: "postgresql"})
    )
    device_id: Mapped[str] = mapped_column(String(64))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    energy_produced: Mapped[float] = mapped_column(Float)
    energy_consumed: Mapped[float] = mapped_column(Float)
    current_load: Mapped[float] = mapped_column(Float)
    voltage: Mapped[float | None] = mapped_column(Float)
    current: Mapped[float | None] = mapped_column(Float)
    current1: Mapped[float | None] = mapped_column(Float)
    current2: Mapped[float | None] = mapped_column(Float)
    current3: Mapped[float | None] = mapped_column(Float)
    frequency: Mapped[float | None] = mapped_column(Float)
    power_factor: Mapped[float | None] = mapped_column(Float)


class ReadingRollup(Base):
    """Sums and counts of every field per facility and 15-minute UTC bucket.

    Kept current inside the same transaction as each insert, so charts over months
    read a few thousand rows instead of every reading. Every zone's UTC offset is a
    multiple of 15 minutes, so local hours and days are unions of these buckets.
    """

    __tablename__ = "reading_rollups"

    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    self_supplied: Mapped[float] = mapped_column(Float, default=0.0)
    energy_produced_sum: Mapped[float] = mapped_column(Float, default=0.0)
    energy_produced_n: Mapped[int] = mapped_column(Integer, default=0)
    energy_consumed_sum: Mapped[float] = mapped_column(Float, default=0.0)
    energy_consumed_n: Mapped[int] = mapped_column(Integer, default=0)
    current_load_sum: Mapped[float] = mapped_column(Float, default=0.0)
    current_load_n: Mapped[int] = mapped_column(Integer, default=0)
    voltage_sum: Mapped[float] = mapped_column(Float, default=0.0)
    voltage_n: Mapped[int] = mapped_column(Integer, default=0)
    current_sum: Mapped[float] = mapped_column(Float, default=0.0)
    current_n: Mapped[int] = mapped_column(Integer, default=0)
    current1_sum: Mapped[float] = mapped_column(Float, default=0.0)
    current1_n: Mapped[int] = mapped_column(Integer, default=0)
    current2_sum: Mapped[float] = mapped_column(Float, default=0.0)
    current2_n: Mapped[int] = mapped_column(Integer, default=0)
    current3_sum: Mapped[float] = mapped_column(Float, default=0.0)
    current3_n: Mapped[int] = mapped_column(Integer, default=0)
    frequency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    frequency_n: Mapped[int] = mapped_column(Integer, default=0)
    power_factor_sum: Mapped[float] = mapped_column(Float, default=0.0)
    power_factor_n: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """One excursion: opened, maybe escalated, closed once (domain/alerts.py)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_facility_open", "facility_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    device_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    extreme_value: Mapped[float | None] = mapped_column(Float)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # What the notifier has already announced, so every state change is sent once.
    notified_state: Mapped[str | None] = mapped_column(String(32))


class Forecast(Base):
    """A stored forecast run: 24 hourly points in ``points`` plus its backtest."""

    __tablename__ = "forecasts"
    __table_args__ = (
        Index("ix_forecasts_lookup", "facility_id", "target", "trained_at"),
        # A scheduled refresh slot stores one run per target, however often its
        # task is delivered; ad-hoc runs (slot NULL) are not limited.
        UniqueConstraint("facility_id", "target", "slot", name="uq_forecast_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    target: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    start: Mapped[datetime] = mapped_column()
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    points: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    slot: Mapped[datetime | None] = mapped_column()


class ForecastTask(Base):
    """One fit of a scheduled refresh slot: queued, running, done or failed.

    Written by whoever runs the fit (a Celery worker or the scheduler's own
    process), read by ``energy-dash forecast --status`` and /settings.
    """

    __tablename__ = "forecast_tasks"
    __table_args__ = (
        UniqueConstraint("facility_id", "target", "slot", name="uq_forecast_task"),
        Index("ix_forecast_tasks_slot", "slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[datetime] = mapped_column()
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    target: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    duration_s: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(Text)


class Tariff(Base):
    """One version of a facility's prices, valid from the local calendar day
    ``valid_from`` on (1970-01-01: since the beginning); ``tou`` holds time-of-use
    windows in local time, ``demand_charge`` is per kW of the month's peak."""

    __tablename__ = "tariffs"
    __table_args__ = (
        UniqueConstraint("facility_id", "valid_from", name="uq_tariff_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    valid_from: Mapped[date] = mapped_column(Date, default=date(1970, 1, 1))
    currency: Mapped[str] = mapped_column(String(8), default="EUR")
    import_price: Mapped[float] = mapped_column(Float, default=0.30)
    export_price: Mapped[float] = mapped_column(Float, default=0.08)
    standing_charge: Mapped[float] = mapped_column(Float, default=0.0)
    demand_charge: Mapped[float] = mapped_column(Float, default=0.0)
    tou: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobLease(Base):
    """Who runs a scheduled job now: several workers, each job once."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column()


class TopicBinding(Base):
    """An MQTT topic filter feeding one facility in one device format."""

    __tablename__ = "topic_bindings"
    __table_args__ = (
        UniqueConstraint("facility_id", "topic", "format", name="uq_topic_bindings"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    topic: Mapped[str] = mapped_column(String(512))
    format: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default="consumption")
    device_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BindingId(Base):
    """The id source topic and line-protocol bindings share, so that a bare id
    names one binding of either kind. An id is drawn (a row inserted, then
    deleted): SQLite's AUTOINCREMENT and PostgreSQL's sequence never hand it out
    again."""

    __tablename__ = "binding_ids"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)


class InfluxBinding(Base):
    """Line-protocol points (measurement, tags, field) feeding one reading field."""

    __tablename__ = "influx_bindings"
    __table_args__ = (Index("ix_influx_bindings_facility", "facility_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    measurement: Mapped[str] = mapped_column(String(200))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    field: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(8))
    device_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityEvent(Base):
    """One data-quality event (see energy_dash.domain.quality for the kinds).

    ``facility_id`` is empty for a message on a topic that no binding takes.
    """

    __tablename__ = "quality_events"
    __table_args__ = (Index("ix_quality_events_facility_ts", "facility_id", "ts_ms"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE")
    )
    device_id: Mapped[str | None] = mapped_column(String(64))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceRegister(Base):
    """A device's cumulative register at one reading, and the energy it booked.

    ``booked_kwh`` is what the reading's interval energy holds (None: a
    quarantined spike); ``final`` is False while a drop or spike is undecided;
    ``baseline`` marks a trusted register that later deltas may start from.
    """

    __tablename__ = "device_registers"

    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    register: Mapped[str] = mapped_column(String(16), primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    total_kwh: Mapped[float] = mapped_column(Float)
    booked_kwh: Mapped[float | None] = mapped_column(Float)
    final: Mapped[bool] = mapped_column(Boolean, default=True)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
class RateCounter(Base):
    """One windowed counter of a shared limit (sign-in lockout, ingest rate)."""

    __tablename__ = "rate_counters"

    counter_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_end_ms: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer)


class MqttDelivery(Base):
    """A committed MQTT message dated at receipt, kept briefly by its identity.

    A broker redelivers what was not acknowledged (a subscriber killed between
    commit and acknowledgement) with a new time of receipt; this row is how the
    redelivery is recognised and acknowledged without being stored again.
    """

    __tablename__ = "mqtt_deliveries"
    __table_args__ = (Index("ix_mqtt_deliveries_received", "received_ms"),)

    identity: Mapped[int] = mapped_column(BigId, primary_key=True,
                                          autoincrement=False)
    received_ms: Mapped[int] = mapped_column(BigInteger)
