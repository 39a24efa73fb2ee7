"""A facility as the app sees it (one DTO) and the rules for its settings.

:class:`FacilityInfo` is the plain copy of a facility row that every layer passes
around (no ORM object leaves storage); :func:`clean_facility_values` is the one
check of the fields a user may set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from energy_dash.domain.alerts import Thresholds
from energy_dash.domain.connectivity import is_connected, stale_after_ms


@dataclass(frozen=True, slots=True)
class FacilityInfo:
    """What pages, ingest, jobs and forecasts need to know about a facility."""

    id: int
    name: str
    timezone: str
    expected_interval_s: int
    capacity_kw: float
    nominal_voltage: float
    voltage_warning_pct: float
    voltage_critical_pct: float
    voltage_hysteresis_pct: float
    country: str | None = None

    @property
    def thresholds(self) -> Thresholds:
        """The voltage bands of this facility."""
        return Thresholds.of(self)

    def bands(self) -> dict[str, float]:
        """Voltage band edges [V] (see :meth:`Thresholds.bands`)."""
        return self.thresholds.bands()

    def stale_after_ms(self) -> int:
        """See :func:`energy_dash.domain.connectivity.stale_after_ms`."""
        return stale_after_ms(self.expected_interval_s)

    def connected(self, last_ms: int | None, now_ms: int) -> bool:
        """See :func:`energy_dash.domain.connectivity.is_connected`."""
        return is_connected(last_ms, now_ms, self.expected_interval_s)


FACILITY_INFO_FIELDS = tuple(FacilityInfo.__dataclass_fields__)
"""The ``facilities`` columns a :class:`FacilityInfo` is built from, in order."""


def facility_info(values: Any) -> FacilityInfo:
    """A :class:`FacilityInfo` from a row (tuple in :data:`FACILITY_INFO_FIELDS`
    order) or an object with those attributes; unknown zones become UTC."""
    if isinstance(values, tuple):
        row = dict(zip(FACILITY_INFO_FIELDS, values, strict=True))
    else:
        row = {name: getattr(values, name) for name in FACILITY_INFO_FIELDS}
    zone = row["timezone"] or "UTC"
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):  # a zone name the system does not know
        zone = "UTC"
    return FacilityInfo(
        id=int(row["id"]),
        name=row["name"],
        timezone=zone,
        expected_interval_s=int(row["expected_interval_s"] or 300),
        capacity_kw=float(row["capacity_kw"] or 0.0),
        nominal_voltage=float(row["nominal_voltage"] or 230.0),
        voltage_warning_pct=float(row["voltage_warning_pct"]),
        voltage_critical_pct=float(row["voltage_critical_pct"]),
        voltage_hysteresis_pct=float(row["voltage_hysteresis_pct"]),
        country=row["country"] or None,
    )


def valid_timezone(name: str) -> str:
    """``name`` when it is an IANA zone known to this system, else ValueError."""
    value = (name or "").strip()
    if not value or value not in _zone_names():
        raise ValueError(f"{value or 'An empty value'} is not a known IANA time zone.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value} is not a known IANA time zone.") from None
    return value


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def timezone_names() -> list[str]:
    return sorted(_zone_names())


FACILITY_FIELDS: dict[str, tuple[type, float | None, float | None]] = {
    # name: (type, minimum, maximum)
    "capacity_kw": (float, 0.001, 1e7),
    "panel_count": (int, 0, 1e7),
    "nominal_voltage": (float, 1, 1000),
    "expected_interval_s": (int, 1, 86400),
    "voltage_warning_pct": (float, 0.1, 50),
    "voltage_critical_pct": (float, 0.1, 80),
    "voltage_hysteresis_pct": (float, 0, 20),
}
LABELS = {
    "name": "Name",
    "location": "Location",
    "timezone": "Time zone",
    "capacity_kw": "Capacity (kW)",
    "panel_count": "Panel count",
    "nominal_voltage": "Nominal voltage (V)",
    "expected_interval_s": "Reporting interval (s)",
    "voltage_warning_pct": "Warning threshold (%)",
    "voltage_critical_pct": "Critical threshold (%)",
    "voltage_hysteresis_pct": "Hysteresis (%)",
}


class FieldError(ValueError):
    """A refused facility field: ``field`` names it, the message explains."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def clean_facility_values(values: dict[str, Any]) -> dict[str, Any]:
    """Validate facility fields; raises ``FieldError`` naming the first bad one."""
    clean: dict[str, Any] = {}
    for key, raw in values.items():
        if key == "name":
            name = (raw or "").strip() if isinstance(raw, str) else ""
            if not name or len(name) > 120:
                raise FieldError(key, "Name must be 1–120 characters.")
            clean[key] = name
        elif key == "location":
            text = (raw or "").strip() if isinstance(raw, str) else ""
            if len(text) > 200:
                raise FieldError(key, "Location must be at most 200 characters.")
            clean[key] = text or None
        elif key == "country":
            text = (raw or "").strip().upper() if isinstance(raw, str) else ""
            if text and not re.fullmatch(r"[A-Z]{2}", text):
                raise FieldError(key, "Country must be a two-letter code.")
            clean[key] = text or None
        elif key == "timezone":
            try:
                clean[key] = valid_timezone(raw if isinstance(raw, str) else "")
            except ValueError as exc:
                raise FieldError(key, str(exc)) from None
        elif key in FACILITY_FIELDS:
            kind, low, high = FACILITY_FIELDS[key]
            if key == "panel_count" and (raw is None or raw == ""):
                clean[key] = None
                continue
            label = LABELS[key]
            if isinstance(raw, bool) or raw is None or raw == "":
                raise FieldError(key, f"{label} is required.")
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise FieldError(key, f"{label} must be a number.") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise FieldError(key, f"{label} must be a finite number.")
            if kind is int:
                if number != int(number):
                    raise FieldError(key, f"{label} must be a whole number.")
                number = int(number)
            if (low is not None and number < low) or (
                high is not None and number > high
            ):
                raise FieldError(key, f"{label} must be between {low:g} and {high:g}.")
            clean[key] = number
        else:
            raise FieldError(key, f"{key} cannot be changed here.")
    warning = clean.get("voltage_warning_pct")
    critical = clean.get("voltage_critical_pct")
    if warning is not None and critical is not None and critical <= warning:
        raise FieldError(
            "voltage_critical_pct",
            "Critical threshold must be greater than the warning threshold.",
        )
    return clean
