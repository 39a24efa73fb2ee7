"""Topic and line-protocol bindings: create, list and remove (CLI and /settings).

A binding says which facility, device and field the data of a meter feeds. The
rules for a valid binding live with the protocols (``ingest.formats``,
``ingest.mqtt``, ``ingest.lineprotocol`` check their own names); this module
stores what passed and hands bindings to the subscriber and the endpoints as
plain dicts.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from energy_dash.db import session_scope
from energy_dash.domain.bindings import (
    FORMATS,
    device_problem,
    influx_problems,
    topic_problem,
)
from energy_dash.domain.registers import reading_interval_s
from energy_dash.storage import bindings as store
from energy_dash.storage.facilities import load_info
from energy_dash.storage.readings import previous_ts

logger = logging.getLogger(__name__)

CACHE_S = 5.0

_influx_cache: dict[tuple[str | None, int], tuple[float, list[dict[str, Any]]]] = {}


class BindingError(ValueError):
    """A binding that cannot be stored; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_device(device_id: str | None) -> None:
    problem = device_problem(device_id)
    if problem:
        raise BindingError("device_id", problem)


def _facility_exists(session, facility_id: int) -> None:
    if load_info(session, facility_id) is None:
        raise BindingError("facility", f"facility {facility_id} does not exist")


def bind_topic(
    database_url: str | None,
    facility_id: int,
    topic: str,
    fmt: str,
    *,
    role: str = "consumption",
    device_id: str | None = None,
) -> int:
    """Store a topic binding; returns its id."""
    problem = topic_problem(topic)
    if problem:
        raise BindingError("topic", problem)
    if fmt not in FORMATS:
        raise BindingError("format", "must be one of " + ", ".join(FORMATS))
    if role not in ("consumption", "production"):
        raise BindingError("role", "must be consumption or production")
    _check_device(device_id)
    with session_scope(database_url, write=True) as session:
        _facility_exists(session, facility_id)
        if store.topic_exists(session, facility_id, topic, fmt):
            raise BindingError("topic", "is already bound in this format")
        return store.add_topic(session, {
            "facility_id": facility_id, "topic": topic, "format": fmt, "role": role,
            "device_id": device_id.strip() if device_id else None,
        })


def bind_influx(
    database_url: str | None,
    facility_id: int,
    measurement: str,
    *,
    tags: dict[str, str] | None = None,
    field: str | None = None,
    role: str,
    kind: str,
    unit: str,
    device_id: str | None = None,
) -> int:
    """Store a line-protocol binding (measurement + tags + field -> reading field)."""
    tags = dict(tags or {})
    problems = influx_problems(measurement, tags, field, role, kind, unit)
    if problems:
        raise BindingError(problems[0]["field"], problems[0]["message"])
    _check_device(device_id)
    with session_scope(database_url, write=True) as session:
        _facility_exists(session, facility_id)
        new_id = store.add_influx(session, {
            "facility_id": facility_id, "measurement": measurement, "tags": tags,
            "field": field, "role": role, "kind": kind, "unit": unit,
            "device_id": device_id.strip() if device_id else None,
        })
    _influx_cache.clear()
    return new_id


def unbind(database_url: str | None, ref: str) -> str:
    """Remove ``ID``, ``topic:ID`` or ``influx:ID``; returns what was removed.

    Both kinds draw their ids from one source, so a bare id names one binding;
    only ids given out before that source (migration 0011) can be in both
    tables, and such a bare id is refused as ambiguous.
    """
    kind, _, number = ref.strip().rpartition(":")
    if not number.isascii() or not number.isdigit() or kind not in ("", "topic",
                                                                     "influx"):
        raise BindingError("id", "must be a number, topic:N or influx:N")
    binding_id = int(number)
    with session_scope(database_url, write=True) as session:
        tables = [kind] if kind else store.which_tables(session, binding_id)
        if len(tables) > 1:
            raise BindingError("id", f"{binding_id} is a topic and a line-protocol "
                               f"binding: say topic:{binding_id} or "
                               f"influx:{binding_id}")
        if not tables or store.remove(session, tables[0], binding_id) == 0:
            raise BindingError("id", f"no binding {ref}")
    _influx_cache.clear()
    return f"{tables[0]}:{binding_id}"


def unbind_facility(
    database_url: str | None, facility_id: int, table: str, binding_id: int
) -> bool:
    """Remove one binding of ``facility_id`` (/settings); False when that facility
    has no such binding (already removed, or another facility's id)."""
    if table not in ("topic", "influx"):
        raise BindingError("id", "must be a topic or a line-protocol binding")
    with session_scope(database_url, write=True) as session:
        removed = store.remove(session, table, binding_id, facility_id) > 0
    _influx_cache.clear()
    return removed


def parse_tags(text: str | None) -> dict[str, str]:
    """``host=iotawatt, ct=Mains`` (commas or spaces between pairs) as a dict."""
    tags: dict[str, str] = {}
    for item in (text or "").replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise BindingError("tag", f"{item!r} is not K=V")
        tags[key] = value
    return tags


def facility_bindings(
    database_url: str | None, facility_id: int
) -> dict[str, list[dict[str, Any]]]:
    """A facility's topic and line-protocol bindings, uncached (/settings shows
    what is stored right now)."""
    with session_scope(database_url) as session:
        return {"topic": store.topic_rows(session, facility_id),
                "influx": store.influx_rows(session, facility_id)}


def topic_bindings(
    database_url: str | None, facility_id: int | None = None
) -> list[dict[str, Any]]:
    """Topic bindings with their facility's zone (for the subscriber and /settings)."""
    with session_scope(database_url) as session:
        return store.topic_rows(session, facility_id)


def influx_bindings(database_url: str | None, facility_id: int) -> list[dict[str, Any]]:
    """A facility's line-protocol bindings (cached for a few seconds: every write
    request of a busy uploader asks)."""
    key = (database_url, facility_id)
    hit = _influx_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    with session_scope(database_url) as session:
        rows = store.influx_rows(session, facility_id)
    if len(_influx_cache) > 1000:
        _influx_cache.clear()
    _influx_cache[key] = (now, rows)
    return rows


def last_stored(
    database_url: str | None, facility_id: int, device_id: str, role: str, kind: str
) -> tuple[int, float, float | None] | None:
    """What a line-protocol binding of ``device_id`` stored last (where IoTaWatt
    resumes): ``(ts_ms, kWh, interval_s)``, or None.

    A register (``energy_total``) is its own newest row, so its time is exact
    for its role. Power and interval energy are both directions of one reading
    (a direction not sent is stored as 0 kWh), so theirs is the device's newest
    reading, with its energy of ``role`` and, for power, the interval that
    energy was booked over [s].
    """
    direction = "consumed" if role == "consumption" else "produced"
    with session_scope(database_url) as session:
        if kind == "energy_total":
            found = store.newest_register(session, facility_id, device_id, direction)
            return None if found is None else (*found, None)
        found = store.newest_energy(session, facility_id, device_id,
                                    f"energy_{direction}")
        if found is None:
            return None
        interval_s = None
        if kind == "power":
            facility = load_info(session, facility_id)
            before = previous_ts(session, facility_id, device_id, found[0])
            interval_s = reading_interval_s(before, found[0],
                                            facility.expected_interval_s)
        return (*found, interval_s)
