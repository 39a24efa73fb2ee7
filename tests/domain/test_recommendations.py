"""Recommendations and costs on constructed readings whose answers are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from energy_dash.domain.recommendations import Recommendation, checked_fine, recommend
from energy_dash.domain.tariffs import Tariff, TouWindow, cost_breakdown, monthly_cost

TZ = "Europe/Berlin"
FLAT = Tariff(import_price=0.30, export_price=0.08)


def readings(days: int = 28, start: str = "2024-06-03", **columns) -> pd.DataFrame:
    """Hourly readings from local midnight of ``start`` (a Monday), stored in UTC.

    Each keyword is a function of the local index returning a column.
    """
    local = pd.date_range(start, periods=days * 24, freq="h", tz=TZ)
    frame = pd.DataFrame(
        {name: np.asarray(fn(local), dtype=float) for name, fn in columns.items()},
        index=local.tz_convert("UTC").rename("timestamp"),
    )
    return frame


def const(value: float):
    return lambda idx: np.full(len(idx), value)


def keys(recs: list[Recommendation]) -> list[str]:
    return [r.key for r in recs]


def test_shift_to_solar_exact_kwh_and_money():
    # 3 kWh produced 10:00-15:00; 1 kWh consumed each hour, 3 kWh 18:00-21:00.
    frame = readings(
        energy_produced=lambda i: np.where((i.hour >= 10) & (i.hour < 15), 3.0, 0.0),
        energy_consumed=lambda i: np.where((i.hour >= 18) & (i.hour < 21), 3.0, 1.0),
    )
    recs = recommend(frame, TZ, FLAT)
    assert keys(recs) == ["shift_to_solar"]
    rec = recs[0]
    # export in solar hours 5 h x 2 kWh = 10 kWh/day; evening import
    # 17-22h = 1 + 3 + 3 + 3 + 1 = 11 kWh/day; min = 10 kWh/day x 30.
    assert rec.evidence["solar_hours"] == [10, 11, 12, 13, 14]
    assert rec.evidence["export_in_solar_hours_kwh_per_day"] == pytest.approx(10.0)
    assert rec.evidence["import_in_evening_kwh_per_day"] == pytest.approx(11.0)
    assert rec.kwh_per_month == pytest.approx(300.0, rel=1e-12)
    assert rec.money_per_month == pytest.approx(300.0 * (0.30 - 0.08), rel=1e-12)
    assert "10:00–15:00" in rec.detail and "17:00–22:00" in rec.detail
    assert "300 kWh/month" in rec.detail and "66.00 EUR/month" in rec.detail


def test_shift_to_solar_names_the_forecast_best_window():
    frame = readings(
        energy_produced=lambda i: np.where((i.hour >= 10) & (i.hour < 15), 3.0, 0.0),
        energy_consumed=lambda i: np.where((i.hour >= 18) & (i.hour < 21), 3.0, 1.0),
    )
    future = pd.date_range("2024-07-01", periods=24, freq="h", tz=TZ)
    yhat = np.where((future.hour >= 11) & (future.hour < 14), 4.0, 0.5)
    fc = pd.DataFrame({"yhat": yhat, "yhat_lower": yhat, "yhat_upper": yhat}, future)
    [rec] = recommend(frame, TZ, FLAT, forecast=fc)
    best = rec.evidence["forecast_best_window"]
    assert best["start"] == pd.Timestamp("2024-07-01 11:00", tz=TZ)
    assert best["end"] == pd.Timestamp("2024-07-01 14:00", tz=TZ)
    assert best["kwh"] == pytest.approx(12.0)
    assert "between 11:00 and 14:00" in rec.detail


def test_base_load_to_best_nights_level_with_tou_week_price():
    # 24 days at 2 kW and 4 quiet days at 1 kW: median night 2 kW, p10 1 kW.
    quiet = {
        pd.Timestamp("2024-06-08"),
        pd.Timestamp("2024-06-09"),
        pd.Timestamp("2024-06-15"),
        pd.Timestamp("2024-06-16"),
    }

    def consumed(i):
        day = i.tz_localize(None).normalize()
        return np.where(day.isin(list(quiet)), 1.0, 2.0)

    tariff = Tariff(import_price=0.30, tou=(TouWindow(0, 6, price=0.20),))
    recs = recommend(readings(energy_consumed=consumed), TZ, tariff)
    assert keys(recs) == ["base_load"]
    rec = recs[0]
    assert rec.evidence["nights"] == 28
    assert rec.evidence["typical_night_kw"] == pytest.approx(2.0)
    assert rec.evidence["best_nights_kw"] == pytest.approx(1.0)
    assert rec.kwh_per_month == pytest.approx(1.0 * 24 * 30)
    # average price over the week's hours: (6 h x 0.20 + 18 h x 0.30) / 24 = 0.275
    assert rec.evidence["average_price"] == pytest.approx(0.275)
    assert rec.money_per_month == pytest.approx(720 * 0.275, rel=1e-12)
    assert "2.00 kW" in rec.detail and "1.00 kW" in rec.detail


def test_no_base_load_advice_for_a_steady_night_load():
    recs = recommend(readings(energy_consumed=const(2.0)), TZ, FLAT)
    assert recs == []


def test_peak_demand_with_demand_charge():
    # 1 kW all the time; 08:00 at 3 kW on 27 days and 5 kW on the last day.
    def consumed(i):
        y = np.where(i.hour == 8, 3.0, 1.0)
        y[(i.hour == 8) & (i.tz_localize(None).normalize() == "2024-06-30")] = 5.0
        return y

    tariff = Tariff(import_price=0.30, demand_charge=10.0)
    recs = recommend(readings(energy_consumed=consumed), TZ, tariff)
    assert keys(recs) == ["peak_demand"]
    rec = recs[0]
    assert rec.evidence["peak_kw"] == pytest.approx(5.0)
    assert rec.evidence["mean_kw"] == pytest.approx(730 / 672)
    assert rec.evidence["p95_kw"] == pytest.approx(1.0)
    assert rec.evidence["peak_time"] == pd.Timestamp("2024-06-30 08:00", tz=TZ)
    # energy above 1 kW: 27 x 2 + 4 = 58 kWh in 28 days
    assert rec.evidence["moved_kwh_per_month"] == pytest.approx(58 * 30 / 28)
    assert rec.kwh_per_month == 0.0
    assert rec.money_per_month == pytest.approx((5.0 - 1.0) * 10.0)
    assert rec.detail.endswith(
        "The demand charge of 10 EUR/kW per month is billed on the month's highest "
        "hourly demand: keeping it at 1.0 kW takes 4.000 kW off the peak, × 10 "
        "EUR/kW = 40.00 EUR/month."
    )


def peaky(i):
    """1 kW all the time; 08:00 at 3 kW on 27 days and 5 kW on the last day."""
    y = np.where(i.hour == 8, 3.0, 1.0)
    y[(i.hour == 8) & (i.tz_localize(None).normalize() == "2024-06-30")] = 5.0
    return y


def test_peaks_without_a_demand_charge_are_checked_not_priced_at_zero():
    notes: dict[str, str] = {}
    recs = recommend(readings(energy_consumed=peaky), TZ, FLAT, notes=notes)
    assert recs == []
    assert notes == {"peak_demand": (
        "the highest hourly grid demand was 5.0 kW (Sun 30 Jun 08:00), 4.0 kW "
        "above the 95th percentile, but the tariff has no demand charge and no "
        "dearer peak hours, so shaving it saves nothing (enter the demand charge in "
        "Settings if your bill has one)")}
    assert checked_fine(recs, notes)[2] == "Demand peaks (" + notes["peak_demand"] + ")"
    flat_notes: dict[str, str] = {}
    assert recommend(readings(energy_consumed=const(1.0)), TZ, FLAT,
                     notes=flat_notes) == []
    assert flat_notes["peak_demand"] == (
        "the highest hourly grid demand, 1.0 kW, is under 2 × the mean of 1.0 kW: "
        "no pronounced peaks")


def test_solar_lowers_the_demand_that_a_demand_charge_is_billed_on():
    # the 3 kW and 5 kW hours at 08:00 are met by 2 kWh of solar: grid 1 kW / 3 kW
    frame = readings(energy_consumed=peaky,
                     energy_produced=lambda i: np.where(i.hour == 8, 2.0, 0.0))
    [rec] = recommend(frame, TZ, Tariff(import_price=0.30, demand_charge=10.0))
    assert (rec.evidence["peak_kw"], rec.evidence["p95_kw"]) == (3.0, 1.0)
    assert rec.money_per_month == pytest.approx(2.0 * 10.0)


def test_power_factor_correction_exact():
    frame = readings(days=30, energy_consumed=const(1.0), power_factor=const(0.8))
    tariff = Tariff(import_price=0.30, reactive_price=0.05)
    recs = recommend(frame, TZ, tariff)
    assert keys(recs) == ["power_factor"]
    rec = recs[0]
    loss_kwh = 720 * 0.02 * (1 - (0.8 / 0.95) ** 2)
    kvarh = 720 * (0.75 - math.tan(math.acos(0.95)))
    assert rec.evidence["mean_power_factor"] == pytest.approx(0.8)
    assert rec.evidence["reactive_kvarh_saved_per_month"] == pytest.approx(kvarh)
    assert rec.kwh_per_month == pytest.approx(loss_kwh, rel=1e-12)
    assert rec.money_per_month == pytest.approx(loss_kwh * 0.30 + kvarh * 0.05)
    assert "0.80" in rec.detail and "29.1%" in rec.detail


def test_no_power_factor_advice_at_0_92():
    frame = readings(energy_consumed=const(1.0), power_factor=const(0.92))
    assert recommend(frame, TZ, FLAT) == []


def test_phase_imbalance_20_percent():
    # mean 10 A, largest deviation 2 A -> exactly 20 %.
    frame = readings(
        days=30,
        energy_consumed=const(1.0),
        current1=const(12.0),
        current2=const(10.0),
        current3=const(8.0),
    )
    recs = recommend(frame, TZ, FLAT)
    assert keys(recs) == ["phase_imbalance"]
    rec = recs[0]
    assert rec.evidence["imbalance_pct"] == pytest.approx(20.0, rel=1e-12)
    assert rec.evidence["phase_mean_currents_a"] == [12.0, 10.0, 8.0]
    # losses ~ sum of I^2: 144 + 100 + 64 = 308 vs 3 x 10^2 = 300 balanced
    kwh = 720 * 0.02 * (1 - 300 / 308)
    assert rec.kwh_per_month == pytest.approx(kwh, rel=1e-12)
    assert rec.money_per_month == pytest.approx(kwh * 0.30, rel=1e-12)
    assert rec.title == "Balance the phases (move load from L1 to L3)"
    assert "20.0 %" in rec.detail


def test_phase_imbalance_10_10_13_is_18_2_percent():
    frame = readings(current1=const(10.0), current2=const(10.0), current3=const(13.0))
    [rec] = recommend(frame, TZ, FLAT)
    assert rec.evidence["imbalance_pct"] == pytest.approx(2 / 11 * 100, rel=1e-12)


def test_small_imbalance_gives_no_advice():
    frame = readings(current1=const(10.0), current2=const(10.0), current3=const(11.0))
    assert recommend(frame, TZ, FLAT) == []


def test_recurring_voltage_excursions_counted_per_week():
    # 260 V at 12:00 on Mondays and Thursdays: 8 excursions in 4 weeks.
    def voltage(i):
        hit = (i.hour == 12) & np.isin(i.day_of_week, [0, 3])
        return np.where(hit, 260.0, 230.0)

    recs = recommend(readings(voltage=voltage), TZ, FLAT, nominal_voltage=230.0)
    assert keys(recs) == ["voltage_excursions"]
    rec = recs[0]
    assert rec.evidence["excursions"] == 8
    assert rec.evidence["per_week"] == pytest.approx(2.0)
    assert rec.evidence["days"] == 8
    assert rec.evidence["usual_hour"] == 12
    assert (rec.evidence["low_limit_v"], rec.evidence["high_limit_v"]) == (
        pytest.approx(207.0),
        pytest.approx(253.0),
    )
    assert rec.money_per_month == 0.0
    assert "207–253 V" in rec.detail and "2.0 per week" in rec.detail


def test_a_single_voltage_excursion_is_not_recurring():
    def voltage(i):
        return np.where(np.arange(len(i)) == 100, 260.0, 230.0)

    assert recommend(readings(voltage=voltage), TZ, FLAT) == []


def test_ranked_by_money_and_deterministic():
    frame = readings(
        days=30,
        energy_produced=lambda i: np.where((i.hour >= 10) & (i.hour < 15), 3.0, 0.0),
        energy_consumed=lambda i: np.where((i.hour >= 18) & (i.hour < 21), 3.0, 1.0),
        power_factor=const(0.8),
        current1=const(12.0),
        current2=const(10.0),
        current3=const(8.0),
    )
    first = recommend(frame, TZ, FLAT)
    assert keys(first) == ["shift_to_solar", "power_factor", "phase_imbalance"]
    money = [r.money_per_month for r in first]
    assert money == sorted(money, reverse=True)
    assert recommend(frame, TZ, FLAT) == first


def test_import_price_at_tou_windows():
    tariff = Tariff(
        import_price=0.30,
        tou=(
            TouWindow(17, 21, price=0.50, weekdays=(0, 1, 2, 3, 4)),
            TouWindow(22, 6, price=0.20),
        ),
    )
    assert tariff.import_price_at(pd.Timestamp("2024-05-31 18:30", tz=TZ)) == 0.50
    assert tariff.import_price_at(pd.Timestamp("2024-06-01 18:30", tz=TZ)) == 0.30
    assert tariff.import_price_at(pd.Timestamp("2024-06-01 23:00", tz=TZ)) == 0.20
    assert tariff.import_price_at(pd.Timestamp("2024-06-01 05:59", tz=TZ)) == 0.20
    assert tariff.import_price_at(pd.Timestamp("2024-06-01 06:00", tz=TZ)) == 0.30
    with pytest.raises(ValueError):
        TouWindow(5, 5, price=0.1)


def cost_frame() -> pd.DataFrame:
    # Thu 30 May - Sat 1 Jun 2024: 1 kWh consumed each hour, 2 kWh produced at 12:00.
    return readings(
        days=3,
        start="2024-05-30",
        energy_consumed=const(1.0),
        energy_produced=lambda i: np.where(i.hour == 12, 2.0, 0.0),
    )


TOU = Tariff(
    import_price=0.30,
    export_price=0.10,
    standing_charge=0.50,
    tou=(TouWindow(17, 21, price=0.50, weekdays=(0, 1, 2, 3, 4)),),
)


def test_monthly_cost_with_tou_by_local_month():
    out = monthly_cost(cost_frame(), TOU, TZ)
    assert list(out.index) == [
        pd.Timestamp("2024-05-01", tz=TZ),
        pd.Timestamp("2024-06-01", tz=TZ),
    ]
    may, june = out.iloc[0], out.iloc[1]
    # May: 2 weekdays x (19 h x 0.30 + 4 h x 0.50) import, 1 kWh exported a day
    assert may["import_kwh"] == pytest.approx(46.0)
    assert may["export_kwh"] == pytest.approx(2.0)
    assert may["import_cost"] == pytest.approx(2 * (19 * 0.30 + 4 * 0.50))
    assert may["export_credit"] == pytest.approx(0.2)
    assert may["standing_charge"] == pytest.approx(1.0)
    assert may["days"] == 2
    assert may["total"] == pytest.approx(15.4 - 0.2 + 1.0)
    # June: a Saturday, no TOU
    assert june["import_cost"] == pytest.approx(23 * 0.30)
    assert june["total"] == pytest.approx(6.9 - 0.1 + 0.5)


def test_cost_breakdown_totals_and_price_bands():
    out = cost_breakdown(cost_frame(), TOU, TZ)
    assert out["total"] == pytest.approx(16.2 + 7.3)
    assert out["days"] == 3
    assert out["import_by_price"][0.5]["kwh"] == pytest.approx(8.0)
    assert out["import_by_price"][0.5]["cost"] == pytest.approx(4.0)
    assert out["import_by_price"][0.3]["kwh"] == pytest.approx(61.0)


def test_monthly_cost_counts_a_dst_day_once():
    frame = readings(days=1, start="2024-03-31", energy_consumed=const(1.0))
    frame = frame[frame.index < pd.Timestamp("2024-04-01", tz=TZ)]
    out = monthly_cost(frame, Tariff(import_price=1.0, standing_charge=2.0), TZ)
    assert out["import_kwh"].tolist() == [23.0]  # 23-hour day
    assert out["days"].tolist() == [1]
    assert out["total"].tolist() == [pytest.approx(25.0)]
