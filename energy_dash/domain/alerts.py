"""Alert rules: voltage bands, the voltage state machine (one alert per excursion,
with escalation and hysteresis), and how every page, mail and webhook names them.

Pure: :func:`step_voltage` advances the state by one reading;
``energy_dash.storage.alerts`` runs it over stored readings and writes the rows.
When a facility counts as offline is ``energy_dash.domain.connectivity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    def of(cls, facility: Any) -> Thresholds:
        """The bands of anything with the facility's voltage fields."""
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


def voltage_message(kind: str, level: str, extreme: float, t: Thresholds) -> str:
    """The text of a voltage alert (shown on the pages and in notifications)."""
    if kind == "outage":
        return "Supply lost (0 V)"
    word = "High" if kind == "voltage_high" else "Low"
    return (
        f"{word} voltage ({level}): extreme {extreme:.1f} V, nominal {t.nominal:g} V"
    )


def offline_message(last: Any, expected_interval_s: int) -> str:
    """The text of a "hardware offline" alert (``last``: the newest reading, UTC)."""
    return (
        f"Hardware offline: no reading since {last:%Y-%m-%d %H:%M} "
        f"UTC (expected every {expected_interval_s} s)"
    )


ANOMALY_KIND = "unusual_consumption"
OFFLINE_KIND = "offline"
