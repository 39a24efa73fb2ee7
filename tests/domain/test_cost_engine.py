"""The one cost engine: the standing charge and TOU pricing are the same whether a
bill is priced from a readings frame or from a stored range."""

import numpy as np
import pandas as pd

from energy_dash.domain.tariffs import (
    Tariff,
    TouWindow,
    bill,
    cost_breakdown,
    interval_charges,
    monthly_cost,
    split_flows,
    standing_charge,
)

TZ = "Europe/Berlin"
TARIFF = Tariff(import_price=0.30, export_price=0.10, standing_charge=0.50,
                tou=(TouWindow(22, 6, 0.20),))


def frame_with_a_silent_day() -> pd.DataFrame:
    """Hourly readings on 3 local days, none on the middle one."""
    hours = pd.date_range("2025-06-01 00:00", periods=72, freq="h", tz=TZ)
    hours = hours[(hours.day != 2)]
    return pd.DataFrame(
        {"energy_produced": 0.0, "energy_consumed": 1.0}, index=hours
    )


def test_standing_charge_covers_every_day_of_the_period():
    """Old rule of monthly_cost: only days with readings (2 days here)."""
    frame = frame_with_a_silent_day()
    breakdown = cost_breakdown(frame, TARIFF, TZ)
    assert breakdown["days"] == 3
    assert breakdown["standing_charge"] == standing_charge(3, TARIFF) == 1.5
    month = monthly_cost(frame, TARIFF, TZ)
    assert month["days"].tolist() == [3]
    assert month["standing_charge"].tolist() == [1.5]


def test_tou_price_per_local_hour_and_the_bill_total():
    frame = frame_with_a_silent_day()
    breakdown = cost_breakdown(frame, TARIFF, TZ)
    # 48 hours of 1 kWh: 16 night hours (22-06) at 0.20, 32 at 0.30
    assert breakdown["import_kwh"] == 48.0
    assert round(breakdown["import_cost"], 10) == round(16 * 0.20 + 32 * 0.30, 10)
    assert round(breakdown["total"], 10) == round(16 * 0.20 + 32 * 0.30 + 1.5, 10)
    assert breakdown["import_by_price"] == {
        0.2: {"kwh": 16.0, "cost": 16 * 0.2},
        0.3: {"kwh": 32.0, "cost": 32 * 0.3},
    }


def test_split_flows_per_reading_and_per_bucket_agree():
    produced = np.array([2.0, 0.0, 1.0])
    consumed = np.array([1.0, 1.0, 1.0])
    imports, exports = split_flows(produced, consumed)
    assert imports.tolist() == [0.0, 1.0, 0.0] and exports.tolist() == [1.0, 0.0, 0.0]
    # one bucket holding the three readings: Σ min(p, c) = 2
    bucket_i, bucket_e = split_flows(produced.sum(keepdims=True),
                                     consumed.sum(keepdims=True), np.array([2.0]))
    assert (bucket_i[0], bucket_e[0]) == (imports.sum(), exports.sum())


def test_bill_of_interval_charges():
    local = pd.date_range("2025-06-01 21:00", periods=2, freq="h", tz=TZ)
    charges = interval_charges(local, [1.0, 1.0], [0.5, 0.0], TARIFF)
    assert charges["price"].tolist() == [0.30, 0.20]
    assert bill(charges, 1, TARIFF) == {
        "import_kwh": 2.0, "export_kwh": 0.5, "import_cost": 0.5,
        "export_credit": 0.05, "standing": 0.5, "demand_charge": 0.0,
        "peak_kw": 1.0, "total": 0.5 - 0.05 + 0.5, "days": 1,
    }
