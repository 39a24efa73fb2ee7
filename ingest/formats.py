"""Device payloads -> readings in the sensor API's shape, one decoder per format.

A decoder turns one MQTT message into zero or more reading dicts that use the
same field names as ``POST /api/hardware/data`` (cumulative registers in kWh as
``energy_consumed_total`` / ``energy_produced_total``, power in kW as
``power_consumed`` / ``power_produced``), so that every message then goes through
the one validation and write path. Units are converted here and nowhere else:

- ``tasmota``: ``tele/<t>/SENSOR``, ``ENERGY.Total`` kWh, ``Power`` W; ``Time`` is
  the device's local time, read in the facility's zone; arrays for several phases.
- ``shelly`` (Gen2+/Pro): ``<id>/status/switch:N`` (``aenergy.total`` Wh,
  ``apower`` W), ``<id>/status/em:N`` + ``<id>/status/emdata:N`` (``total_act``,
  ``total_act_ret`` Wh), and the same inside ``NotifyStatus`` on ``<id>/events/rpc``.
- ``opendtu``: ``<base>/<serial>/0/power`` W, ``.../0/yieldtotal`` kWh,
  ``.../0/voltage`` …, one plain number per topic (AhoyDTU's ``ch0/P_AC``,
  ``ch0/YieldTotal`` … too).
- ``native``: the sensor API's JSON object, or an array of them.

Formats that spread one measurement over several messages (OpenDTU's topics,
Shelly's ``em`` and ``emdata``) keep the latest power values per device and emit
a reading when the register arrives, so a register and its power travel together.
A payload that cannot be read raises :class:`DecodeError`; it never crashes.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from energy_dash.domain.bindings import FORMATS, ROLES

logger = logging.getLogger(__name__)

MAX_PAYLOAD = 1024 * 1024
MAX_DEVICE_ID = 64


class DecodeError(ValueError):
    """The payload is not what its format promises (becomes a ``malformed`` event)."""


def _json(payload: bytes | str) -> Any:
    if len(payload) > MAX_PAYLOAD:
        raise DecodeError("payload over 1 MiB")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"payload is not JSON: {str(exc)[:80]}") from None


def _num(value: Any, name: str) -> float | None:
    """A finite float from a JSON number or numeric string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DecodeError(f"{name} must be a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise DecodeError(f"{name} must be a number") from None
    else:
        raise DecodeError(f"{name} must be a number")
    if not math.isfinite(number):
        raise DecodeError(f"{name} must be finite")
    return number


def _phases(value: Any, name: str) -> list[float]:
    """A scalar or a per-phase array as a list of floats (nulls dropped)."""
    items = value if isinstance(value, list) else [value]
    return [n for n in (_num(v, name) for v in items[:16]) if n is not None]


def _device(value: str) -> str:
    return value.strip()[:MAX_DEVICE_ID] or "mqtt"


def _fields(role: str) -> tuple[str, str]:
    """(register field, power field) for a binding's role."""
    if role == "production":
        return "energy_produced_total", "power_produced"
    return "energy_consumed_total", "power_consumed"


def _clean(reading: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reading.items() if v is not None}


class Decoder:
    """Decodes the messages of one binding; keeps per-device partial state.

    Parameters
    ----------
    fmt
        One of :data:`FORMATS`.
    role
        ``consumption`` or ``production``: which register and power field a
        device's main direction maps to.
    device_id
        The binding's device id; without it the device is named from the topic.
    tz
        The facility's IANA zone (Tasmota's ``Time`` is local).
    """

    def __init__(
        self,
        fmt: str,
        *,
        role: str = "consumption",
        device_id: str | None = None,
        tz: str = "UTC",
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        if role not in ROLES:
            raise ValueError("role must be consumption or production")
        self.fmt = fmt
        self.role = role
        self.device_id = device_id
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self._cache: dict[str, dict[str, Any]] = {}

    def decode(self, topic: str, payload: bytes | str) -> list[dict[str, Any]]:
        """Readings carried by one message (``[]`` when it only updated state)."""
        if self.fmt == "native":
            return self._native(topic, payload)
        if self.fmt == "tasmota":
            return self._tasmota(topic, payload)
        if self.fmt == "shelly":
            return self._shelly(topic, payload)
        return self._opendtu(topic, payload)

    def _name(self, default: str) -> str:
        return self.device_id or _device(default)

    # -- native ---------------------------------------------------------------
    def _native(self, topic: str, payload: bytes | str) -> list[dict[str, Any]]:
        body = _json(payload)
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, dict) for item in items):
            raise DecodeError("payload must be a JSON object or an array of objects")
        readings = []
        for item in items[:10_000]:
            reading = dict(item)
            if self.device_id or "device_id" not in reading:
                reading["device_id"] = self._name(topic)
            readings.append(reading)
        return readings

    # -- tasmota --------------------------------------------------------------
    def _tasmota(self, topic: str, payload: bytes | str) -> list[dict[str, Any]]:
        body = _json(payload)
        if isinstance(body, dict) and isinstance(body.get("StatusSNS"), dict):
            body = body["StatusSNS"]  # the answer to ``Status 10``
        if not isinstance(body, dict):
            raise DecodeError("Tasmota payload must be a JSON object")
        energy = body.get("ENERGY")
        if not isinstance(energy, dict):
            raise DecodeError("no ENERGY object (is this a power-monitoring device?)")
        levels = topic.split("/")
        name = levels[-2] if len(levels) >= 2 and levels[-1] in (
            "SENSOR", "STATUS10"
        ) else topic
        register, power = _fields(self.role)
        totals = _phases(energy.get("Total"), "ENERGY.Total")
        watts = _phases(energy.get("Power"), "ENERGY.Power")
        volts = [v for v in _phases(energy.get("Voltage"), "ENERGY.Voltage") if v > 0]
        amps = _phases(energy.get("Current"), "ENERGY.Current")
        factors = _phases(energy.get("Factor"), "ENERGY.Factor")
        hertz = [f for f in _phases(energy.get("Frequency"), "ENERGY.Frequency") if f]
        if not totals and not watts:
            raise DecodeError("ENERGY has neither Total nor Power")
        reading: dict[str, Any] = {
            "device_id": self._name(name),
            "timestamp": self._tasmota_time(body.get("Time")),
            register: sum(totals) if totals else None,
            power: abs(sum(watts)) / 1000.0 if watts else None,
            "voltage": sum(volts) / len(volts) if volts else None,
            "current": sum(amps) if amps else None,
            "power_factor": sum(factors) / len(factors) if factors else None,
            "frequency": sum(hertz) / len(hertz) if hertz else None,
        }
        if len(amps) > 1:
            for index, value in enumerate(amps[:3], start=1):
                reading[f"current{index}"] = value
        return [_clean(reading)]

    def _tasmota_time(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise DecodeError("Time must be a string")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DecodeError("Time is not an ISO 8601 date-time") from None
        if moment.tzinfo is None:  # device-local wall time
            moment = moment.replace(tzinfo=self.zone)
        return moment.isoformat()

    # -- shelly ---------------------------------------------------------------
    def _shelly(self, topic: str, payload: bytes | str) -> list[dict[str, Any]]:
        levels = topic.split("/")
        body = _json(payload)
        if not isinstance(body, dict):
            raise DecodeError("Shelly payload must be a JSON object")
        if len(levels) >= 3 and levels[-2] == "status":
            return self._shelly_component(
                "/".join(levels[:-2]), levels[-1], body, None
            )
        if levels[-1] == "rpc" or body.get("method") in ("NotifyStatus",
                                                          "NotifyFullStatus"):
            if body.get("method") not in ("NotifyStatus", "NotifyFullStatus"):
                return []  # NotifyEvent and replies carry no measurements
            params = body.get("params")
            if not isinstance(params, dict):
                raise DecodeError("NotifyStatus without params")
            stamp = _num(params.get("ts"), "params.ts")
            src = body.get("src") if isinstance(body.get("src"), str) else None
            shelly_id = "/".join(levels[:-2]) or src or topic
            readings: list[dict[str, Any]] = []
            for key, status in params.items():
                if key != "ts" and isinstance(status, dict):
                    readings += self._shelly_component(shelly_id, key, status, stamp)
            return readings
        return []

    def _shelly_component(
        self, shelly_id: str, component: str, status: dict, stamp: float | None
    ) -> list[dict[str, Any]]:
        kind, _, index = component.partition(":")
        register, power = _fields(self.role)
        if kind in ("switch", "pm1"):
            energy = status.get("aenergy")
            total = _num(energy.get("total"), "aenergy.total") if isinstance(
                energy, dict) else None
            watts = _num(status.get("apower"), "apower")
            key = f"{shelly_id}/{component}"
            electrical = {
                "voltage": _num(status.get("voltage"), "voltage"),
                "current": _num(status.get("current"), "current"),
                "power_factor": _num(status.get("pf"), "pf"),
                "frequency": _num(status.get("freq"), "freq"),
                power: abs(watts) / 1000.0 if watts is not None else None,
            }
            return self._merge(key, electrical, register,
                               total / 1000.0 if total is not None else None, stamp)
        if kind in ("em", "em1"):
            key = f"{shelly_id}/{component}"
            values = _clean(self._shelly_em(kind, status))
            self._cache.setdefault(key, {}).update(values)
            return []
        if kind in ("emdata", "em1data"):
            key = f"{shelly_id}/{kind[:-4]}:{index}"
            if kind == "emdata":
                names = ("total_act", "total_act_ret")
            else:
                names = ("total_act_energy", "total_act_ret_energy")
            name = names[1] if self.role == "production" else names[0]
            wh = _num(status.get(name), name)
            return self._merge(key, {}, register,
                               wh / 1000.0 if wh is not None else None, stamp)
        return []

    def _shelly_em(self, kind: str, status: dict) -> dict[str, Any]:
        _, power = _fields(self.role)
        if kind == "em1":
            watts = _num(status.get("act_power"), "act_power")
            volts = [_num(status.get("voltage"), "voltage")]
            amps = [_num(status.get("current"), "current")]
            factors = [_num(status.get("pf"), "pf")]
            hertz = [_num(status.get("freq"), "freq")]
        else:
            watts = _num(status.get("total_act_power"), "total_act_power")
            volts = [_num(status.get(f"{p}_voltage"), f"{p}_voltage") for p in "abc"]
            amps = [_num(status.get(f"{p}_current"), f"{p}_current") for p in "abc"]
            factors = [_num(status.get(f"{p}_pf"), f"{p}_pf") for p in "abc"]
            hertz = [_num(status.get(f"{p}_freq"), f"{p}_freq") for p in "abc"]
        volts_ok = [v for v in volts if v]
        amps_ok = [a for a in amps if a is not None]
        factors_ok = [f for f in factors if f is not None]
        hertz_ok = [f for f in hertz if f]
        values: dict[str, Any] = {
            "voltage": sum(volts_ok) / len(volts_ok) if volts_ok else None,
            "current": sum(amps_ok) if amps_ok else None,
            "power_factor": sum(factors_ok) / len(factors_ok) if factors_ok else None,
            "frequency": sum(hertz_ok) / len(hertz_ok) if hertz_ok else None,
        }
        if watts is not None:
            # Positive active power is drawn from the grid, negative is returned.
            drawn = watts if self.role == "consumption" else -watts
            values[power] = max(drawn, 0.0) / 1000.0
        if kind == "em" and len(amps_ok) == 3:
            values.update(current1=amps[0], current2=amps[1], current3=amps[2])
        return values

    def _merge(
        self,
        key: str,
        electrical: dict[str, Any],
        register: str,
        total_kwh: float | None,
        stamp: float | None,
    ) -> list[dict[str, Any]]:
        cached = self._cache.setdefault(key, {})
        cached.update(_clean(electrical))
        if total_kwh is None:
            return []
        reading = {"device_id": self._name(key), **cached, register: total_kwh}
        if stamp is not None:
            reading["timestamp"] = stamp
        return [reading]

    # -- opendtu --------------------------------------------------------------
    _OPENDTU = {
        "power": ("power", 0.001), "yieldtotal": ("register", 1.0),
        "voltage": ("voltage", 1.0), "current": ("current", 1.0),
        "frequency": ("frequency", 1.0), "powerfactor": ("power_factor", 1.0),
        # AhoyDTU names the same values differently
        "p_ac": ("power", 0.001), "u_ac": ("voltage", 1.0), "i_ac": ("current", 1.0),
        "f_ac": ("frequency", 1.0), "pf_ac": ("power_factor", 1.0),
    }

    def _opendtu(self, topic: str, payload: bytes | str) -> list[dict[str, Any]]:
        levels = topic.split("/")
        if len(levels) < 3 or levels[-2] not in ("0", "ch0"):
            return []  # DC strings, names, status: nothing of the AC side
        what = self._OPENDTU.get(levels[-1].lower())
        if what is None:
            return []
        if len(payload) > 64:
            raise DecodeError(f"{levels[-1]} must be a plain number")
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else (
            payload)
        value = _num(text, levels[-1])
        if value is None:
            raise DecodeError(f"{levels[-1]} must be a plain number")
        name, scale = what
        register, power = _fields(self.role)
        key = levels[-3]
        if name == "register":
            return self._merge(key, {}, register, value, None)
        field = power if name == "power" else name
        self._cache.setdefault(key, {})[field] = abs(value) * scale if (
            name == "power") else value
        return []


def decode(
    fmt: str,
    topic: str,
    payload: bytes | str,
    *,
    role: str = "consumption",
    device_id: str | None = None,
    tz: str = "UTC",
) -> list[dict[str, Any]]:
    """Readings of one message with a fresh decoder (no state kept between calls)."""
    return Decoder(fmt, role=role, device_id=device_id, tz=tz).decode(topic, payload)
