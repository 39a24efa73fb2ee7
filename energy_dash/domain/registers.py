"""Cumulative energy registers -> interval energy; the one definition of an interval.

Meters report what they have counted since installation (Tasmota ``ENERGY.Total``,
Shelly ``aenergy.total``, OpenDTU ``yieldtotal``). The energy of an interval is the
difference to the device's previous register, in timestamp order. Registers
misbehave in a few well-known ways, and each is booked differently:

- a **glitch**: the register drops and comes back to the old value within a few
  readings (OpenDTU and Ahoy report 0 for a moment after a restart). The dropped
  readings book nothing; the reading that comes back books the difference to the
  value before the drop, so no energy is lost or invented.
- a **reset**: the register drops and stays down (a power cycle that lost the
  counter, an ``EnergyReset``). A new cycle starts at zero: the first reading of
  the new cycle books its own value when that is physically possible.
- a **spike**: a rise implying more than 3x the facility's capacity over the
  elapsed time ("35 MWh in an hour"). The reading is quarantined (booked as
  ``None``); when the new level persists, later readings book from it.
- a **wrap**: a 32-bit Wh counter passes 4,294,967.296 kWh and starts again.

The functions are pure; the ingest service feeds a device's readings around a new
one (so a late backfill is booked in its place) and stores what changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SPIKE_FACTOR = 3.0
"""A rise above this multiple of capacity x elapsed time is a spike."""
CONFIRM_READINGS = 3
"""Readings after a drop or spike that decide between a glitch and a new level."""
WRAP_KWH = 2**32 / 1000.0
"""A 32-bit Wh register wraps here [kWh]."""
INTERVAL_CAP = 2.0
"""A reading's interval is at most this multiple of the expected interval."""

GLITCH = "counter_glitch"
RESET = "counter_reset"
SPIKE = "spike"


def reading_interval_s(
    previous_ts_ms: int | None, ts_ms: int, expected_interval_s: float
) -> float:
    """The interval a reading covers [s].

    The real time since the device's previous reading, capped at twice the
    expected interval (a device back from an outage does not smear hours of
    energy into one interval); the first reading uses the expected interval.
    """
    if previous_ts_ms is None or ts_ms <= previous_ts_ms:
        return float(expected_interval_s)
    elapsed = (ts_ms - previous_ts_ms) / 1000.0
    return min(elapsed, INTERVAL_CAP * float(expected_interval_s))


def energy_kwh(power: float, interval_s: float) -> float:
    """Energy of an interval at a constant power [kWh]: power [kW] x interval [h]
    (the inverse of ``domain.metrics.power_kw``)."""
    return power * interval_s / 3600.0


def load_pct(power_kw: float, capacity_kw: float | None) -> float:
    """The load a reading without one gets: power over capacity [%], within
    0..100 (0 for a facility without a capacity)."""
    capacity = capacity_kw or 0.0
    load = power_kw / capacity * 100.0 if capacity > 0 else 0.0
    return min(max(load, 0.0), 100.0)


@dataclass(frozen=True)
class Booking:
    """What one register reading contributes.

    ``energy_kwh`` is ``None`` for a quarantined spike. ``final`` is False while a
    drop or a spike is still waiting for the readings that decide what it was;
    such readings book 0 (or ``None``) until then. ``event`` names the
    data-quality event that this reading starts, if any.
    """

    ts_ms: int
    total_kwh: float
    energy_kwh: float | None
    event: str | None = None
    detail: str = ""
    final: bool = True
    baseline: bool = False


@dataclass(frozen=True)
class Baseline:
    """The last trusted register of a device: where the next delta starts."""

    ts_ms: int
    total_kwh: float


def _limit_kwh(capacity_kw: float, elapsed_ms: int) -> float:
    return SPIKE_FACTOR * max(capacity_kw, 0.0) * max(elapsed_ms, 0) / 3_600_000.0


class _Run:
    """The state machine behind :func:`book_registers` (one device, sorted input)."""

    def __init__(self, capacity_kw: float, baseline: Baseline | None,
                 max_kwh: float | None = None) -> None:
        self.capacity_kw = capacity_kw
        self.max_kwh = max_kwh
        self.baseline = baseline
        self.out: list[Booking] = []
        self.pending: list[int] = []  # indexes into out
        self.pending_kind: str | None = None
        self.in_zero_run = False

    def plausible(self, rise: float, since_ms: int, ts_ms: int) -> bool:
        if self.max_kwh is not None and rise > self.max_kwh:
            return False  # what no reading may carry, however long the gap
        return 0.0 <= rise <= _limit_kwh(self.capacity_kw, ts_ms - since_ms) + 1e-9

    def add(self, ts_ms: int, total: float) -> None:
        base = self.baseline
        if base is None:
            self.out.append(Booking(ts_ms, total, 0.0, detail="first register",
                                    baseline=True))
            self.baseline = Baseline(ts_ms, total)
            return
        if total == 0.0 and base.total_kwh > 0.0:
            # OpenDTU/Ahoy publish 0 right after a restart: never a new cycle.
            event = None if self.in_zero_run else GLITCH
            self.in_zero_run = True
            detail = f"register 0 after {base.total_kwh:g}"
            self.out.append(Booking(ts_ms, total, 0.0, event, detail))
            return
        self.in_zero_run = False
        if self.pending:
            self._add_pending(ts_ms, total)
            return
        self._add_normal(ts_ms, total)

    def _add_normal(self, ts_ms: int, total: float) -> None:
        base = self.baseline
        assert base is not None
        rise = total - base.total_kwh
        if rise >= 0:
            if self.plausible(rise, base.ts_ms, ts_ms):
                self._book(ts_ms, total, rise)
                return
            beyond = (self.max_kwh is not None and rise > self.max_kwh)
            self._start(ts_ms, total, SPIKE, f"rise of {rise:g} kWh over "
                        f"{(ts_ms - base.ts_ms) / 1000:g} s" + (
                            f", more than one reading may carry ({self.max_kwh:g} "
                            "kWh, 1 GW)" if beyond else ""))
            return
        wrapped = total + WRAP_KWH - base.total_kwh
        if base.total_kwh > WRAP_KWH / 2 and self.plausible(wrapped, base.ts_ms, ts_ms):
            self._book(ts_ms, total, wrapped, detail="32-bit Wh register wrapped")
            return
        self._start(ts_ms, total, RESET, f"register fell from {base.total_kwh:g} "
                    f"to {total:g}")

    def _book(self, ts_ms: int, total: float, energy: float, detail: str = "") -> None:
        self.out.append(Booking(ts_ms, total, energy, detail=detail, baseline=True))
        self.baseline = Baseline(ts_ms, total)

    def _start(self, ts_ms: int, total: float, kind: str, detail: str) -> None:
        energy = None if kind == SPIKE else 0.0
        self.pending = [len(self.out)]
        self.pending_kind = kind
        self.out.append(Booking(ts_ms, total, energy, kind, detail, final=False))

    def _add_pending(self, ts_ms: int, total: float) -> None:
        base = self.baseline
        assert base is not None
        if self.plausible(total - base.total_kwh, base.ts_ms, ts_ms):
            self._resolve_transient()
            self._book(ts_ms, total, total - base.total_kwh)
            return
        last = self.out[self.pending[-1]]
        if self.plausible(total - last.total_kwh, last.ts_ms, ts_ms):
            self.pending.append(len(self.out))
            self.out.append(Booking(ts_ms, total, 0.0, final=False))
            if len(self.pending) > CONFIRM_READINGS:
                self._resolve_new_level()
            return
        # Neither back to the old level nor a steady new one: the earlier anomaly
        # was transient, and this reading starts a new one against the baseline.
        self._resolve_transient()
        self._add_normal(ts_ms, total)

    def _resolve_transient(self) -> None:
        first, *rest = self.pending
        head = self.out[first]
        if self.pending_kind == RESET:
            head = Booking(head.ts_ms, head.total_kwh, 0.0, GLITCH,
                           head.detail + "; came back")
        else:
            head = Booking(head.ts_ms, head.total_kwh, None, SPIKE, head.detail)
        self.out[first] = head
        for index in rest:
            item = self.out[index]
            self.out[index] = Booking(item.ts_ms, item.total_kwh, 0.0)
        self.pending = []
        self.pending_kind = None

    def _resolve_new_level(self) -> None:
        base = self.baseline
        assert base is not None
        first, *rest = self.pending
        head = self.out[first]
        if self.pending_kind == RESET:
            # A new cycle counts from zero: its first value is energy since the reset.
            own = head.total_kwh
            booked = own if self.plausible(own, base.ts_ms, head.ts_ms) else 0.0
            head = Booking(head.ts_ms, head.total_kwh, booked, RESET, head.detail,
                           baseline=True)
        else:
            head = Booking(head.ts_ms, head.total_kwh, None, SPIKE,
                           head.detail + "; new level kept")
        self.out[first] = head
        previous = head
        for index in rest:
            item = self.out[index]
            self.out[index] = Booking(
                item.ts_ms, item.total_kwh, item.total_kwh - previous.total_kwh,
                baseline=True,
            )
            previous = item
        self.baseline = Baseline(previous.ts_ms, previous.total_kwh)
        self.pending = []
        self.pending_kind = None


def book_registers(
    readings: Iterable[tuple[int, float]],
    *,
    capacity_kw: float,
    baseline: Baseline | None = None,
    max_kwh: float | None = None,
) -> list[Booking]:
    """Interval energy for one device's register readings.

    Parameters
    ----------
    readings
        ``(ts_ms, total_kwh)`` pairs of one device and one register; sorted here,
        so a late backfill lands in its place. A repeated timestamp keeps the
        first value (the caller reports conflicting duplicates).
    capacity_kw
        The facility's capacity [kW]; a rise above 3x this over the elapsed time
        is a spike.
    baseline
        The device's last trusted register before these readings; without it the
        first reading only sets the baseline and books 0.
    max_kwh
        The most one reading may carry [kWh] (the hostile-input bound a posted
        interval energy meets, ``domain.validation.physical_limit_kwh``): a
        larger rise is a spike even when the capacity rule, over a long gap,
        would allow it.

    Returns
    -------
    list[Booking]
        One booking per distinct timestamp, in timestamp order.
    """
    run = _Run(capacity_kw, baseline, max_kwh)
    seen: set[int] = set()
    for ts_ms, total in sorted(readings, key=lambda pair: pair[0]):
        if ts_ms in seen:
            continue
        seen.add(ts_ms)
        run.add(int(ts_ms), float(total))
    return run.out


def booked_total(bookings: Sequence[Booking]) -> float:
    """Sum of the booked energy [kWh] (quarantined spikes count nothing)."""
    return sum(b.energy_kwh for b in bookings if b.energy_kwh is not None)
