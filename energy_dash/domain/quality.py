"""Data-quality events: their kinds and the pure detectors that find them.

Every anomaly a device's data can show is logged as one event (facility, device,
time, kind, detail) instead of being silently repaired or silently dropped. The
detectors here take plain values; the ingest service and the quality job decide
when to run them and store what they return.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

GAP = "gap"
COUNTER_RESET = "counter_reset"
COUNTER_GLITCH = "counter_glitch"
SPIKE = "spike"
STUCK = "stuck"
CLOCK_SKEW = "clock_skew"
UNBOUND = "unbound"
MALFORMED = "malformed"
CONFLICT = "conflict"

KINDS: tuple[str, ...] = (
    GAP, COUNTER_RESET, COUNTER_GLITCH, SPIKE, STUCK, CLOCK_SKEW, UNBOUND,
    MALFORMED, CONFLICT,
)
LABELS: dict[str, str] = {
    GAP: "Gap in the data",
    COUNTER_RESET: "Counter reset",
    COUNTER_GLITCH: "Counter glitch (ignored)",
    SPIKE: "Implausible spike (quarantined)",
    STUCK: "Stuck value",
    CLOCK_SKEW: "Device clock off",
    UNBOUND: "Message on an unbound topic",
    MALFORMED: "Malformed message",
    CONFLICT: "Conflicting duplicate",
}

GAP_FACTOR = 2.0
"""No reading for more than this multiple of the expected interval is a gap."""
STUCK_S = 6 * 3600
"""Identical non-zero power for at least this long is a stuck value [s]."""
CLOCK_SKEW_S = 120
"""A device clock further than this from the server's is skewed [s]."""
MAX_DETAIL = 500


@dataclass(frozen=True)
class QualityEvent:
    """One anomaly: ``ts_ms`` is when it happened (UTC epoch ms)."""

    ts_ms: int
    kind: str
    device_id: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown data-quality kind {self.kind!r}")
        if len(self.detail) > MAX_DETAIL:
            object.__setattr__(self, "detail", self.detail[: MAX_DETAIL - 1] + "…")


def find_gaps(
    timestamps_ms: Iterable[int],
    expected_interval_s: float,
    *,
    device_id: str | None = None,
) -> list[QualityEvent]:
    """A ``gap`` event at the start of every silence longer than 2x the interval."""
    limit_ms = GAP_FACTOR * expected_interval_s * 1000.0
    events: list[QualityEvent] = []
    previous: int | None = None
    for ts in sorted(timestamps_ms):
        if previous is not None and ts - previous > limit_ms:
            silent_s = (ts - previous) / 1000.0
            events.append(QualityEvent(
                previous, GAP, device_id,
                f"no reading for {_duration(silent_s)} (expected every "
                f"{_duration(expected_interval_s)})",
            ))
        previous = ts
    return events


def find_stuck(
    points: Sequence[tuple[int, float | None]],
    *,
    device_id: str | None = None,
    min_duration_s: float = STUCK_S,
) -> list[QualityEvent]:
    """A ``stuck`` event for every run of identical non-zero power of >= 6 hours.

    ``points`` are ``(ts_ms, power)`` of one device; ``None`` breaks a run. A
    sensor that repeats its last value forever looks alive but measures nothing.
    """
    events: list[QualityEvent] = []
    start: tuple[int, float] | None = None
    last_ts = 0

    def close() -> None:
        if start is not None and (last_ts - start[0]) / 1000.0 >= min_duration_s:
            events.append(QualityEvent(
                start[0], STUCK, device_id,
                f"power stayed at exactly {start[1]:g} for "
                f"{_duration((last_ts - start[0]) / 1000.0)}",
            ))

    for ts, value in sorted(points, key=lambda p: p[0]):
        if value is None or value == 0 or start is None or value != start[1]:
            close()
            start = None if value is None or value == 0 else (ts, value)
        last_ts = ts
    close()
    return events


def clock_skew(
    device_ts_ms: int, received_ms: int, *, device_id: str | None = None
) -> QualityEvent | None:
    """A ``clock_skew`` event when a device's own timestamp is > 2 min off receipt.

    Only meaningful for live messages (not backfills or replays).
    """
    skew_s = (device_ts_ms - received_ms) / 1000.0
    if abs(skew_s) <= CLOCK_SKEW_S:
        return None
    direction = "ahead of" if skew_s > 0 else "behind"
    return QualityEvent(
        received_ms, CLOCK_SKEW, device_id,
        f"device clock {_duration(abs(skew_s))} {direction} the server",
    )


def conflict(
    ts_ms: int, device_id: str | None, stored: dict, incoming: dict
) -> QualityEvent | None:
    """A ``conflict`` event when a duplicate timestamp carries different values."""
    differing = sorted(
        name for name in set(stored) | set(incoming)
        if name in incoming and incoming.get(name) is not None
        and stored.get(name) != incoming.get(name)
    )
    if not differing:
        return None
    return QualityEvent(
        ts_ms, CONFLICT, device_id,
        "same timestamp, different " + ", ".join(differing) + "; first kept",
    )


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
