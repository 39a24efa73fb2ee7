"""Cumulative registers -> interval energy, with the cases real meters produce."""

from __future__ import annotations

import pytest

from energy_dash.domain.metrics import power_kw
from energy_dash.domain.registers import (
    GLITCH,
    RESET,
    SPIKE,
    WRAP_KWH,
    Baseline,
    book_registers,
    booked_total,
    energy_kwh,
    reading_interval_s,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP = 15 * 60 * 1000  # 15 minutes
CAP = 10.0  # kW: at most 3 x 10 kW x 0.25 h = 7.5 kWh per 15 minutes


def series(*totals: float) -> list[tuple[int, float]]:
    return [(T0 + i * STEP, t) for i, t in enumerate(totals)]


def energies(bookings) -> list[float | None]:
    return [None if b.energy_kwh is None else round(b.energy_kwh, 6) for b in bookings]


def events(bookings) -> list[str | None]:
    return [b.event for b in bookings]


def test_steady_register_books_differences():
    out = book_registers(series(100.0, 100.5, 101.25, 101.25), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, 0.75, 0.0]
    assert events(out) == [None] * 4
    assert all(b.final for b in out)


def test_baseline_from_before_books_the_first_reading():
    out = book_registers(series(100.5), capacity_kw=CAP,
                         baseline=Baseline(T0 - STEP, 100.0))
    assert energies(out) == [0.5]


def test_glitch_to_zero_and_back_books_nothing_extra():
    # OpenDTU after a restart: 0, then the register is back.
    out = book_registers(series(100.0, 100.5, 0.0, 101.0, 101.5), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, 0.0, 0.5, 0.5]
    assert events(out) == [None, None, GLITCH, None, None]
    assert booked_total(out) == pytest.approx(1.5)


def test_run_of_zeros_is_one_glitch():
    out = book_registers(series(100.0, 0.0, 0.0, 0.0, 0.0, 100.4), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.0, 0.0, 0.0, 0.0, 0.4]
    assert events(out).count(GLITCH) == 1


def test_non_zero_drop_that_comes_back_is_a_glitch():
    out = book_registers(series(100.0, 100.5, 42.0, 100.9), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, 0.0, 0.4]
    assert events(out) == [None, None, GLITCH, None]
    assert all(b.final for b in out)


def test_drop_that_stays_is_a_reset_counted_from_zero():
    out = book_registers(series(100.0, 100.5, 0.2, 0.4, 0.6, 0.8, 1.0),
                         capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2]
    assert events(out) == [None, None, RESET, None, None, None, None]
    assert all(b.final for b in out)
    assert booked_total(out) == pytest.approx(1.5)


def test_reset_to_an_impossible_first_value_books_no_phantom():
    # A swapped meter starting at 50 kWh: 50 kWh in 15 min is not energy.
    out = book_registers(series(100.0, 50.0, 50.5, 51.0, 51.5), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert events(out)[1] == RESET


def test_undecided_drop_is_provisional():
    out = book_registers(series(100.0, 0.2, 0.4), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.0, 0.0]
    assert [b.final for b in out] == [True, False, False]


def test_spike_is_quarantined_not_booked():
    # "35 MWh in a quarter hour" after a restart, then the real register again.
    out = book_registers(series(100.0, 100.5, 35100.5, 101.0), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, None, 0.5]
    assert events(out) == [None, None, SPIKE, None]
    assert booked_total(out) == pytest.approx(1.0)


def test_spike_that_persists_becomes_the_new_level():
    out = book_registers(series(100.0, 100.5, 5000.0, 5000.5, 5001.0, 5001.5),
                         capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, None, 0.5, 0.5, 0.5]
    assert events(out)[2] == SPIKE
    assert all(b.final for b in out)


def test_spike_limit_uses_the_elapsed_time():
    # 20 kWh after 2 hours on a 10 kW facility (limit 60 kWh) is real energy.
    out = book_registers([(T0, 100.0), (T0 + 2 * 3_600_000, 120.0)], capacity_kw=CAP)
    assert energies(out) == [0.0, 20.0]


def test_out_of_order_backfill_is_placed_by_timestamp():
    late_first = [(T0 + 2 * STEP, 101.0), (T0, 100.0), (T0 + STEP, 100.25)]
    out = book_registers(late_first, capacity_kw=CAP)
    assert [b.ts_ms for b in out] == [T0, T0 + STEP, T0 + 2 * STEP]
    assert energies(out) == [0.0, 0.25, 0.75]


def test_duplicate_timestamp_keeps_the_first_value():
    out = book_registers([(T0, 100.0), (T0 + STEP, 100.5), (T0 + STEP, 999.0)],
                         capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5]


def test_32_bit_wh_wrap():
    before = WRAP_KWH - 0.3  # 4294966.996 kWh
    out = book_registers(series(before, 0.2, 0.7), capacity_kw=CAP)
    assert energies(out) == [0.0, 0.5, 0.5]
    assert events(out) == [None, None, None]
    assert "wrapped" in out[1].detail


def test_interval_is_time_since_previous_capped_at_twice_expected():
    assert reading_interval_s(None, T0, 300) == 300.0
    assert reading_interval_s(T0, T0 + 60_000, 300) == 60.0
    assert reading_interval_s(T0, T0 + 3_600_000, 300) == 600.0
    assert reading_interval_s(T0, T0, 300) == 300.0


def test_power_and_energy_are_inverse():
    # 0.065 kWh in one minute is 3.9 kW, whatever the facility's expected interval.
    assert power_kw(0.065, 60.0) == pytest.approx(3.9)
    assert energy_kwh(3.9, 60.0) == pytest.approx(0.065)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 5e6)), max_size=40))
def test_no_register_series_books_negative_or_impossible_energy(raw):
    readings = [(T0 + minutes * 60_000, total) for minutes, total in raw]
    out = book_registers(readings, capacity_kw=CAP)
    booked = 0.0
    for booking in out:
        if booking.energy_kwh is not None:
            assert booking.energy_kwh >= 0
            booked += booking.energy_kwh
        # never more energy than the facility could deliver since the first reading
        elapsed_h = (booking.ts_ms - out[0].ts_ms) / 3_600_000
        assert booked <= 3 * CAP * elapsed_h + 1e-6
