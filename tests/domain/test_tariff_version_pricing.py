"""Tariff versions and the demand charge in the one cost engine: a price change
applies from its local day on, a month across the change splits exactly (DST
month too), and the demand charge is the month's peak hourly demand × charge."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from energy_dash.domain.tariffs import (
    EPOCH,
    Tariff,
    TariffError,
    TariffVersions,
    clean_valid_from,
    cost_breakdown,
    hourly_demand,
    interval_charges,
    monthly_cost,
)

TZ = "Europe/Berlin"
OLD = Tariff(import_price=0.30, export_price=0.10, standing_charge=1.00,
             demand_charge=10.0)
NEW = Tariff(import_price=0.40, export_price=0.05, standing_charge=2.00,
             demand_charge=12.0)


def hourly(first: str, last: str, kwh: float = 1.0) -> pd.DataFrame:
    """One reading per local hour, ``kwh`` consumed, nothing produced."""
    index = pd.date_range(pd.Timestamp(first, tz=TZ), pd.Timestamp(last, tz=TZ),
                          freq="h", inclusive="left")
    return pd.DataFrame({"energy_consumed": kwh, "energy_produced": 0.0},
                        index=index)


def test_the_version_of_a_day_and_the_day_before_the_first():
    versions = TariffVersions.of([(date(2026, 6, 15), NEW), (EPOCH, OLD)])
    assert versions.on(date(2026, 6, 14)) is OLD
    assert versions.on(date(2026, 6, 15)) is NEW
    later = TariffVersions.of([(date(2026, 6, 15), NEW)])
    assert later.on(date(2020, 1, 1)) is NEW  # no earlier price: the first one
    local = pd.DatetimeIndex([pd.Timestamp("2026-06-14 23:59", tz=TZ),
                              pd.Timestamp("2026-06-15 00:00", tz=TZ)])
    charges = interval_charges(local, [1.0, 1.0], [0.5, 0.5], versions)
    assert charges["price"].tolist() == [0.30, 0.40]
    assert charges["export_credit"].tolist() == [0.05, 0.025]
    with pytest.raises(ValueError):
        TariffVersions((date(2026, 6, 15), date(2026, 6, 15)), (OLD, NEW))


def test_a_month_with_a_price_change_on_the_15th_splits_exactly():
    frame = hourly("2026-06-01", "2026-07-01")  # 30 days × 24 h × 1 kWh
    frame.loc[pd.Timestamp("2026-06-03 12:00", tz=TZ), "energy_consumed"] = 4.0
    frame.loc[pd.Timestamp("2026-06-20 12:00", tz=TZ), "energy_consumed"] = 5.0
    versions = TariffVersions.of([(EPOCH, OLD), (date(2026, 6, 15), NEW)])
    month = monthly_cost(frame, versions, TZ)
    assert len(month) == 1
    row = month.iloc[0]
    assert row["days"] == 30
    assert row["import_kwh"] == pytest.approx(720 + 3 + 4)
    # 1–14 June: 336 h + 3 kWh at 0.30; 15–30 June: 384 h + 4 kWh at 0.40
    assert row["import_cost"] == pytest.approx(339 * 0.30 + 388 * 0.40)  # 256.90
    assert row["standing_charge"] == pytest.approx(14 * 1.00 + 16 * 2.00)  # 46.00
    # the month's peak is 5 kW; 14 days at 10/kW/month, 16 days at 12
    assert row["peak_kw"] == 5.0
    assert row["demand_charge"] == pytest.approx(5 * (10 * 14 + 12 * 16) / 30)
    assert round(row["total"], 2) == 358.23  # 256.90 + 46.00 + 55.33
    # the price change never touches the days before it
    before = monthly_cost(frame[frame.index < pd.Timestamp("2026-06-15", tz=TZ)],
                          versions, TZ).iloc[0]
    assert before["import_cost"] == pytest.approx(339 * 0.30)
    assert before["standing_charge"] == pytest.approx(14.0)
    assert before["demand_charge"] == pytest.approx(4 * 10 * 14 / 30)


def test_a_dst_month_with_a_price_change_splits_exactly():
    # October 2026 in Berlin has 745 hours: the clocks go back on the 25th
    frame = hourly("2026-10-01", "2026-11-01")
    assert len(frame) == 745
    # both 02:00 hours of the 25th draw 3 kWh: two hours at 3 kW, not one at 6
    fallback = frame.index[(frame.index.day == 25) & (frame.index.hour == 2)]
    assert len(fallback) == 2
    frame.loc[fallback, "energy_consumed"] = 3.0
    versions = TariffVersions.of([(EPOCH, OLD), (date(2026, 10, 15), NEW)])
    row = monthly_cost(frame, versions, TZ).iloc[0]
    assert row["days"] == 31
    # 1–14 Oct: 336 h at 0.30; 15–31 Oct: 17 days = 409 h (+ 4 kWh) at 0.40
    assert row["import_kwh"] == pytest.approx(745 + 4)
    assert row["import_cost"] == pytest.approx(336 * 0.30 + 413 * 0.40)  # 266.00
    assert row["standing_charge"] == pytest.approx(14 * 1.00 + 17 * 2.00)  # 48.00
    assert row["peak_kw"] == 3.0
    assert row["demand_charge"] == pytest.approx(3 * (10 * 14 + 12 * 17) / 31)
    assert round(row["total"], 2) == 347.29  # 266.00 + 48.00 + 33.29
    demand = hourly_demand(interval_charges(frame.index, frame["energy_consumed"],
                                            np.zeros(len(frame)), versions))
    assert len(demand) == 745 and demand.max() == 3.0


def test_two_months_and_the_breakdown_by_price():
    frame = hourly("2026-05-31", "2026-06-02", kwh=2.0)  # 31 May and 1 June
    versions = TariffVersions.of([(EPOCH, OLD), (date(2026, 6, 1), NEW)])
    month = monthly_cost(frame, versions, TZ)
    assert month.index.tolist() == [pd.Timestamp("2026-05-01", tz=TZ),
                                    pd.Timestamp("2026-06-01", tz=TZ)]
    assert month["days"].tolist() == [1, 1]
    assert month["import_cost"].tolist() == pytest.approx([48 * 0.30, 48 * 0.40])
    # one day of a 31-day and of a 30-day month at the 2 kW peak
    assert month["demand_charge"].tolist() == pytest.approx([2 * 10 / 31,
                                                             2 * 12 / 30])
    total = cost_breakdown(frame, versions, TZ)
    assert total["import_by_price"] == {
        0.3: {"kwh": 48.0, "cost": pytest.approx(14.4)},
        0.4: {"kwh": 48.0, "cost": pytest.approx(19.2)},
    }
    assert total["standing_charge"] == pytest.approx(3.0)
    assert total["demand_charge"] == pytest.approx(20 / 31 + 24 / 30)
    assert total["total"] == pytest.approx(14.4 + 19.2 + 3.0 + 20 / 31 + 24 / 30)


def test_a_whole_month_costs_peak_times_charge_and_production_lowers_the_peak():
    frame = hourly("2026-02-01", "2026-03-01")  # 28 days
    noon = frame.index.hour == 12
    frame.loc[noon, "energy_consumed"] = 6.0
    single = Tariff(import_price=0.30, demand_charge=10.0)
    assert monthly_cost(frame, single, TZ).iloc[0]["demand_charge"] == 60.0
    # solar at noon covers 4 kWh: the grid sees 2 kW then, 1 kW elsewhere
    frame.loc[noon, "energy_produced"] = 4.0
    row = monthly_cost(frame, single, TZ).iloc[0]
    assert (row["peak_kw"], row["demand_charge"]) == (2.0, 20.0)


def test_valid_from_is_today_or_later():
    today = date(2026, 12, 2)
    assert clean_valid_from(None, today) == today
    assert clean_valid_from("", today) == today
    assert clean_valid_from("2027-01-01", today) == date(2027, 1, 1)
    assert clean_valid_from("2027-01-01T00:00:00", today) == date(2027, 1, 1)
    for bad, message in [
        ("2026-12-01", "Valid from must be today (2026-12-02) or later: a price "
         "change never rewrites past costs."),
        ("1.1.2027", "Valid from must be a date such as 2026-12-31."),
    ]:
        with pytest.raises(TariffError) as caught:
            clean_valid_from(bad, today)
        assert (caught.value.field, str(caught.value)) == ("valid_from", message)
