"""No recommendation is ranked with a value of zero; the rest are named."""

from __future__ import annotations

import re

import pandas as pd

from energy_dash.demo.seed import seed_demo
from energy_dash.domain.recommendations import (
    CHECKS,
    Recommendation,
    checked_fine,
    worth_it,
)
from energy_dash.services.costs import facility_recommendations, get_tariff


def test_zero_valued_advice_is_not_worth_a_rank():
    zero = Recommendation("peak_demand", "Shave the demand peaks", "…", 0.0, 0.0)
    cent = Recommendation("base_load", "Lower the base load", "…", 0.0, 0.01)
    energy = Recommendation("shift_to_solar", "Shift", "…", 3.0, 0.0)
    assert [worth_it(r) for r in (zero, cent, energy)] == [False, True, True]
    assert checked_fine([zero, cent]) == [
        CHECKS[k] for k in CHECKS if k not in ("peak_demand", "base_load")
    ]


def test_the_demo_ranks_only_advice_with_a_value(sqlite_url):
    seed_demo(sqlite_url, days=7, end=pd.Timestamp("2026-06-18 10:00", tz="UTC"))
    result = facility_recommendations(
        1, now=pd.Timestamp("2026-06-18 10:00", tz="UTC"), database_url=sqlite_url
    )
    assert result["items"], "the demo has something worth doing"
    for rec in result["items"]:
        assert rec["money_per_month"] >= 0.005 or rec["kwh_per_month"] >= 0.05
    for rec in result["unpriced"]:
        assert rec["money_per_month"] < 0.005 and rec["kwh_per_month"] < 0.05
    named = {r["key"] for r in result["items"] + result["unpriced"]}
    assert set(result["checked_fine"]) == {
        CHECKS[k] for k in CHECKS if k not in named
    }


def test_the_demo_tariff_prices_peak_shaving_traceably(sqlite_url):
    """The demo's 10 EUR/kW/month demand charge gives the peaks a price that the
    detail text derives: kW taken off the peak × the charge."""
    moment = pd.Timestamp("2026-06-18 10:00", tz="UTC")
    seed_demo(sqlite_url, days=7, end=moment)
    assert get_tariff(1, database_url=sqlite_url)["demand_charge"] == 10.0
    result = facility_recommendations(1, now=moment, database_url=sqlite_url)
    [peak] = [r for r in result["items"] if r["key"] == "peak_demand"]
    match = re.search(r"takes (\d+\.\d{3}) kW off the peak, × 10 EUR/kW = "
                      r"(\d+\.\d\d) EUR/month\.", peak["detail"])
    assert match, peak["detail"]
    kw, money = float(match.group(1)), float(match.group(2))
    assert kw > 0.5
    assert round(peak["money_per_month"], 2) == money
    assert abs(kw * 10 - money) <= 0.005 * 10 + 0.005
    assert not any("Demand peaks" in name for name in result["checked_fine"])
