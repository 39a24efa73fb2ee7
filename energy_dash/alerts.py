"""Voltage alert lifecycle: one alert per excursion, with escalation and hysteresis.

The state machine is pure (:func:`step_voltage`) so it can be tested without a
database; :func:`apply_voltage_alerts` runs it over stored readings and writes the
alert rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from energy_dash.db import as_driver
from energy_dash.models import Alert, Facility

VOLTAGE_KINDS = ("voltage_high", "voltage_low", "outage")
KIND_LABELS = {  # how every page, mail and webhook names an alert kind
    "voltage_high": "High voltage",
    "voltage_low": "Low voltage",
    "outage": "Supply outage",
    "offline": "Hardware offline",
    "unusual_consumption": "Unusual consumption",
}
LEVEL_RANK = {"warning": 1, "critical": 2}
OUTAGE_SHARE = 0.05  # below 5 % of nominal the supply is lost


@dataclass(frozen=True)
class Thresholds:
    """Voltage bands of one facility, in volts and percent of nominal."""

    nominal: float = 230.0
    warning_pct: float = 10.0
    critical_pct: float = 15.0
    hysteresis_pct: float = 1.0

    @classmethod
    def of(cls, facility: Facility) -> Thresholds:
        return cls(
            facility.nominal_voltage,
            facility.voltage_warning_pct,
            facility.voltage_critical_pct,
            facility.voltage_hysteresis_pct,
        )

    def bands(self) -> dict[str, float]:
        """Absolute band edges [V], as shown in the UI and the config endpoint."""
        n = self.nominal
        return {
            "nominal": n,
            "warning_low": round(n * (1 - self.warning_pct / 100), 3),
            "warning_high": round(n * (1 + self.warning_pct / 100), 3),
            "critical_low": round(n * (1 - self.critical_pct / 100), 3),
            "critical_high": round(n * (1 + self.critical_pct / 100), 3),
            "outage_below": round(n * OUTAGE_SHARE, 3),
            "hysteresis": round(n * self.hysteresis_pct / 100, 3),
        }


def classify(voltage: float, t: Thresholds) -> tuple[str, str] | None:
    """(kind, level) of the band a voltage lies in, or None inside the normal band."""
    if voltage < t.nominal * OUTAGE_SHARE:
        return "outage", "critical"
    deviation = (voltage - t.nominal) / t.nominal * 100
    if deviation > t.critical_pct:
        return "voltage_high", "critical"
    if deviation > t.warning_pct:
        return "voltage_high", "warning"
    if deviation < -t.critical_pct:
        return "voltage_low", "critical"
    if deviation < -t.warning_pct:
        return "voltage_low", "warning"
    return None


def _still_outside(kind: str, voltage: float, t: Thresholds) -> bool:
    """True while an open alert of ``kind`` must stay open (hysteresis)."""
    if kind == "outage":
        return voltage < t.nominal * OUTAGE_SHARE
    deviation = (voltage - t.nominal) / t.nominal * 100
    inner = t.warning_pct - t.hysteresis_pct
    if kind == "voltage_high":
        return deviation > inner
    return deviation < -inner


@dataclass
class OpenAlert:
    kind: str
    level: str
    started_ms: int
    extreme: float
    ended_ms: int | None = None


def step_voltage(
    current: OpenAlert | None, voltage: float, ts_ms: int, t: Thresholds
) -> tuple[OpenAlert | None, list[tuple[str, OpenAlert]]]:
    """Advance the state by one reading; returns (open alert, [(event, alert)]).

    Events are ``opened``, ``escalated`` and ``closed``.
    """
    events: list[tuple[str, OpenAlert]] = []
    band = classify(voltage, t)
    if current is not None:
        same_kind = band is not None and band[0] == current.kind
        if same_kind or (band is None and _still_outside(current.kind, voltage, t)):
            worse = voltage > current.extreme if current.kind == "voltage_high" else (
                voltage < current.extreme
            )
            if worse:
                current.extreme = voltage
            if same_kind and LEVEL_RANK[band[1]] > LEVEL_RANK[current.level]:
                current.level = band[1]
                events.append(("escalated", current))
            return current, events
        current.ended_ms = ts_ms
        events.append(("closed", current))
        current = None
    if band is not None:
        current = OpenAlert(band[0], band[1], ts_ms, voltage)
        events.append(("opened", current))
    return current, events


def _ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _message(alert: Alert, t: Thresholds) -> str:
    if alert.kind == "outage":
        return "Supply lost (0 V)"
    word = "High" if alert.kind == "voltage_high" else "Low"
    return (
        f"{word} voltage ({alert.level}): extreme {alert.extreme_value:.1f} V, "
        f"nominal {t.nominal:g} V"
    )


OPEN_VOLTAGE_ALERT_SQL = (
    "SELECT id FROM alerts WHERE facility_id = %s AND ended_at IS NULL AND kind IN ("
    + ", ".join(f"'{kind}'" for kind in VOLTAGE_KINDS)
    + ") LIMIT 1"
)


def apply_voltage_alerts(
    session: Session, facility: Facility, readings: list[tuple[int, float, str]]
) -> list[dict[str, Any]]:
    """Run the state machine over (ts_ms, voltage, device) in time order.

    Returns the alerts that were opened or escalated, as the ingest API reports them.
    """
    if not readings:
        return []
    t = Thresholds.of(facility)
    if all(classify(v, t) is None for _, v, _ in readings):
        found = as_driver(session).execute(OPEN_VOLTAGE_ALERT_SQL, (facility.id,))
        if found.fetchone() is None:
            return []  # the common case: normal voltage, nothing open
    row = session.scalars(
        select(Alert)
        .where(
            Alert.facility_id == facility.id,
            Alert.ended_at.is_(None),
            Alert.kind.in_(VOLTAGE_KINDS),
        )
        .order_by(Alert.started_at.desc())
        .limit(1)
    ).first()
    state = (
        OpenAlert(row.kind, row.level, _ms(row.started_at), row.extreme_value)
        if row is not None
        else None
    )
    reported: dict[int, dict[str, Any]] = {}
    for ts_ms, voltage, device in readings:
        if row is not None and ts_ms < _ms(row.started_at):
            continue  # a late reading from before the open excursion changes nothing
        state, events = step_voltage(state, voltage, ts_ms, t)
        for event, alert in events:
            if event == "opened":
                row = Alert(
                    facility_id=facility.id,
                    kind=alert.kind,
                    level=alert.level,
                    started_at=_dt(alert.started_ms),
                    extreme_value=alert.extreme,
                    device_id=device,
                )
                session.add(row)
                session.flush()
            elif event == "closed":
                row.ended_at = _dt(alert.ended_ms)
                row.extreme_value = alert.extreme
                row.message = _message(row, t)
                row = None
                continue
            else:
                row.level = alert.level
            row.extreme_value = alert.extreme
            row.message = _message(row, t)
            reported[row.id] = {
                "id": row.id,
                "kind": row.kind,
                "level": row.level,
                "event": reported.get(row.id, {}).get("event", event),
                "value": voltage,
                "started_at": _dt(alert.started_ms).isoformat().replace("+00:00", "Z"),
            }
        if row is not None and state is not None and row.extreme_value != state.extreme:
            row.extreme_value = state.extreme
            row.message = _message(row, t)
    return list(reported.values())


def check_offline(session: Session, now: datetime) -> list[tuple[str, Alert]]:
    """Open or close "hardware offline" alerts for every facility.

    A facility whose newest reading is older than twice its expected interval is
    offline; the alert closes when data arrives again (``ended_at`` = the first
    reading after the gap, or ``now`` when it cannot be told). Facilities that never
    sent anything are not alerted. Returns [(event, alert)].
    """
    from sqlalchemy import func

    from energy_dash.models import Reading

    open_alerts = {
        a.facility_id: a
        for a in session.scalars(
            select(Alert).where(Alert.kind == "offline", Alert.ended_at.is_(None))
        )
    }
    now_ms = _ms(now)
    events: list[tuple[str, Alert]] = []
    for facility in session.scalars(select(Facility)):
        last_ms = session.scalar(  # one index probe per facility
            select(func.max(Reading.ts_ms)).where(Reading.facility_id == facility.id)
        )
        if last_ms is None:
            continue
        silent_s = (now_ms - last_ms) / 1000
        current = open_alerts.get(facility.id)
        if silent_s > 2 * facility.expected_interval_s and current is None:
            alert = Alert(
                facility_id=facility.id,
                kind="offline",
                level="warning",
                started_at=_dt(last_ms + 2 * facility.expected_interval_s * 1000),
                message=(
                    f"Hardware offline: no reading since {_dt(last_ms):%Y-%m-%d %H:%M} "
                    f"UTC (expected every {facility.expected_interval_s} s)"
                ),
            )
            session.add(alert)
            events.append(("opened", alert))
        elif silent_s <= 2 * facility.expected_interval_s and current is not None:
            current.ended_at = _dt(min(last_ms, now_ms))
            current.message = "Hardware back online"
            events.append(("closed", current))
    session.flush()
    return events
