"""Unit scaling (W/kW/MW, Wh/kWh/MWh) and nice axis ticks, exact values."""

from __future__ import annotations

import math

import pytest

from components import formatting as fmt
from energy_dash.domain import units


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        (16416.0, "16.4 MW"),
        (0.5124, "512 W"),
        (5.123, "5.12 kW"),
        (35.8, "35.8 kW"),
        (123.4, "123 kW"),
        (0.9997, "1.00 kW"),  # 999.7 W rounds to the next prefix
        (999.96, "1.00 MW"),
        (0.0, "0 W"),
        (-2.5, "-2.50 kW"),
        (-0.0001, "-0.10 W"),
        (2_500_000.0, "2.50 GW"),
        (None, "—"),
        (math.nan, "—"),
        (math.inf, "—"),
        ("x", "—"),
    ],
)
def test_power_text(kw, text):
    assert units.power_text(kw) == text
    assert fmt.kw(kw) == text


@pytest.mark.parametrize(
    ("kwh", "text"),
    [
        (0.85, "850 Wh"),
        (12.34, "12.3 kWh"),
        (1234.5, "1.23 MWh"),
        (30597.6, "30.6 MWh"),
        (0.0, "0 Wh"),
        (None, "—"),
    ],
)
def test_energy_text(kwh, text):
    assert units.energy_text(kwh) == text
    assert fmt.kwh(kwh) == text


def test_significant_digits_are_fixed():
    assert [units.power_text(v) for v in (1.0, 10.0, 100.0, 1000.0)] == [
        "1.00 kW", "10.0 kW", "100 kW", "1.00 MW",
    ]
    assert units.power_text(1.23456, 4) == "1.23 kW"  # at most two decimals
    assert units.energy_text(12345.6, 4) == "12.35 MWh"


def test_axis_unit_follows_the_largest_value():
    assert units.axis_unit([0.2, 3.5], units.POWER_UNITS) == ("kW", 1.0)
    assert units.axis_unit([120, -16416], units.POWER_UNITS) == ("MW", 1e3)
    assert units.axis_unit([0.1, 0.4], units.POWER_UNITS) == ("W", 1e-3)
    assert units.axis_unit([], units.ENERGY_UNITS) == ("kWh", 1.0)
    assert units.axis_unit([None, math.nan, 0], units.ENERGY_UNITS) == ("kWh", 1.0)


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.71, 0.98, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
        (6.7, 9.1, [6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5]),
        (0, 100, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (-0.609, 0.715, [-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75]),
        (0.0, 16.4, [0.0, 5.0, 10.0, 15.0, 20.0]),
        (49.95, 50.05, [49.94, 49.96, 49.98, 50.0, 50.02, 50.04, 50.06]),
        (1.0, 1.0, [0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06]),
        (0.0, 0.0, [-1.0, -0.5, 0.0, 0.5, 1.0]),
    ],
)
def test_nice_ticks(low, high, ticks):
    assert units.nice_ticks(low, high) == ticks


def test_nice_ticks_cover_the_range_with_round_steps():
    for low, high in [(0.123, 0.987), (-3.2, 17.9), (207.0, 253.0), (0.0, 9.07)]:
        ticks = units.nice_ticks(low, high)
        assert ticks[0] <= low and ticks[-1] >= high
        assert 3 <= len(ticks) <= 8
        step = units.nice_step(high - low)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in {1.0, 2.0, 2.5, 5.0}
