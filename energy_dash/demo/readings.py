"""Fake readings for the debug endpoints: plausible values at a given instant, and
voltages inside a named band. Pure generators (the caller passes the random
source); the full-physics simulated site is ``energy_dash.demo.site``."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from energy_dash.domain.facility import FacilityInfo

VOLTAGE_CONDITIONS = (
    "normal",
    "high_warning",
    "high_critical",
    "low_warning",
    "low_critical",
    "fluctuating",
)


def realistic_reading(
    facility: FacilityInfo, now_s: float, rng: random.Random
) -> dict[str, Any]:
    """A plausible reading at ``now_s``: daylight solar, a base load, 3 phases."""
    zone = ZoneInfo(facility.timezone or "UTC")
    local = datetime.fromtimestamp(now_s, tz=zone)
    hour = local.hour + local.minute / 60
    interval_h = max(1, facility.expected_interval_s or 300) / 3600
    capacity = float(facility.capacity_kw or 10.0)
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12)) if 6 <= hour <= 18 else 0.0
    production_kw = capacity * 0.8 * sun * rng.uniform(0.75, 1.0)
    consumption_kw = capacity * rng.uniform(0.15, 0.45)
    nominal = float(facility.nominal_voltage or 230.0)
    phase = consumption_kw * 1000 / (3 * nominal)
    return {
        "energy_produced": round(production_kw * interval_h, 4),
        "energy_consumed": round(consumption_kw * interval_h, 4),
        "current_load": round(min(100.0, consumption_kw / capacity * 100), 2),
        "voltage": round(nominal * (1 + rng.gauss(0, 0.008)), 2),
        "current": round(phase * 3, 2),
        "current1": round(phase * rng.uniform(0.95, 1.05), 2),
        "current2": round(phase * rng.uniform(0.95, 1.05), 2),
        "current3": round(phase * rng.uniform(0.95, 1.05), 2),
        "frequency": round(50 + rng.gauss(0, 0.02), 3),
        "power_factor": round(rng.uniform(0.92, 0.99), 3),
        "timestamp": round(now_s, 3),
        "device_id": "debug-sensor",
        "facility_id": facility.id,
    }


def voltage_profile(
    condition: str, nominal: float, warning_pct: float, critical_pct: float, count: int
) -> list[float]:
    """Voltages [V] that lie in the band named by ``condition``."""
    mid = (warning_pct + critical_pct) / 2
    beyond = critical_pct + max(2.0, critical_pct * 0.2)
    levels = {
        "normal": [0.0, 0.4, -0.3, 0.2, -0.1],
        "high_warning": [mid],
        "high_critical": [beyond],
        "low_warning": [-mid],
        "low_critical": [-beyond],
        "fluctuating": [
            0.0,
            mid,
            -mid,
            beyond * 0.9 if beyond * 0.9 > critical_pct else beyond,
            0.0,
            -mid,
        ],
    }[condition]
    return [
        round(nominal * (1 + levels[i % len(levels)] / 100), 2) for i in range(count)
    ]
