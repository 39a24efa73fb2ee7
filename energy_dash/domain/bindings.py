"""What a meter binding may say: formats, roles, kinds, units, topic filters.

One vocabulary for the CLI, /settings, the MQTT subscriber and the line-protocol
endpoints.
"""

from __future__ import annotations

FORMATS: tuple[str, ...] = ("native", "tasmota", "shelly", "opendtu")
ROLES: tuple[str, ...] = ("consumption", "production")
KINDS: tuple[str, ...] = ("power", "energy", "energy_total")
UNITS: dict[str, tuple[str, ...]] = {
    "power": ("W", "kW"), "energy": ("Wh", "kWh"), "energy_total": ("Wh", "kWh"),
}
TARGETS: dict[tuple[str, str], str] = {
    ("consumption", "power"): "power_consumed",
    ("consumption", "energy"): "energy_consumed",
    ("consumption", "energy_total"): "energy_consumed_total",
    ("production", "power"): "power_produced",
    ("production", "energy"): "energy_produced",
    ("production", "energy_total"): "energy_produced_total",
}
"""The reading field a line-protocol binding writes, by (role, kind)."""
MAX_TOPIC = 512
MAX_DEVICE_ID = 64


def topic_problem(topic: str) -> str | None:
    """Why an MQTT topic filter cannot be bound, or ``None`` when it can."""
    if not isinstance(topic, str) or not topic or len(topic) > MAX_TOPIC:
        return f"must be 1-{MAX_TOPIC} characters"
    if topic.startswith("$"):
        return "must not start with $ (system topics)"
    if "\x00" in topic:
        return "must not contain NUL"
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "# is only allowed as the whole last level"
        if "+" in level and level != "+":
            return "+ must be a whole level"
    return None


def influx_problems(
    measurement: str, tags: dict[str, str], field_name: str | None,
    role: str, kind: str, unit: str,
) -> list[dict[str, str]]:
    """What is wrong with a line-protocol binding (each detail names its field)."""
    errors = []
    if not measurement or len(measurement) > 200:
        errors.append({"field": "measurement", "message": "must be 1-200 characters"})
    for key, val in tags.items():
        if not key or not val or len(key) > 100 or len(val) > 200:
            errors.append({"field": "tag", "message": f"bad tag {key!r}={val!r}"})
    if field_name is not None and not 0 < len(field_name) <= 200:
        errors.append({"field": "field", "message": "must be 1-200 characters"})
    if role not in ROLES:
        errors.append({"field": "role", "message": "must be consumption or production"})
    if kind not in KINDS:
        errors.append({"field": "kind", "message": "must be power, energy or "
                       "energy_total"})
    elif unit not in UNITS[kind]:
        errors.append({"field": "unit", "message": f"{kind} takes "
                       + " or ".join(UNITS[kind])})
    return errors


def device_problem(device_id: str | None) -> str | None:
    """Why a binding's device id is refused, or ``None``."""
    if device_id is None:
        return None
    if not device_id.strip() or len(device_id) > MAX_DEVICE_ID or (
        not device_id.isprintable()
    ):
        return f"must be 1-{MAX_DEVICE_ID} printable characters"
    return None
