"""Charts in the unit their values ask for, with round ticks on every axis."""

from __future__ import annotations

import pandas as pd

from components import figures

INDEX = pd.date_range("2026-11-30 12:00", periods=4, freq="15min", tz="UTC")


def test_power_chart_of_a_large_site_is_drawn_in_mw():
    frame = pd.DataFrame({"production_kw": [120.0, 16416.0, 900.0, 0.0],
                          "consumption_kw": [50.0, 60.0, 70.0, 80.0]}, index=INDEX)
    fig = figures.power_figure(frame, uirevision="t")
    assert fig["layout"]["yaxis"]["title"]["text"] == "MW"
    assert fig["data"][0]["y"] == [0.12, 16.416, 0.9, 0.0]
    assert fig["data"][0]["hovertemplate"] == "%{y:.3~g} MW"


def test_power_chart_of_a_house_stays_in_kw_and_small_loads_in_w():
    frame = pd.DataFrame({"production_kw": [0.2, 3.5, 1.0, 0.0],
                          "consumption_kw": [0.5, 0.6, 0.7, 0.8]}, index=INDEX)
    assert figures.power_figure(frame, uirevision="t")["layout"]["yaxis"][
        "title"]["text"] == "kW"
    tiny = frame / 10
    fig = figures.power_figure(tiny, uirevision="t")
    assert fig["layout"]["yaxis"]["title"]["text"] == "W"
    assert fig["data"][1]["y"] == [50.0, 60.0, 70.0, 80.0]


def test_daily_energy_in_mwh():
    daily = pd.DataFrame({"produced_kwh": [1500.0, 2500.0],
                          "consumed_kwh": [1000.0, None]},
                         index=pd.DatetimeIndex(["2026-11-29", "2026-11-30"]))
    fig = figures.daily_energy_figure(daily, uirevision="t")
    assert fig["layout"]["yaxis"]["title"]["text"] == "MWh"
    assert fig["data"][0]["y"] == [1.5, 2.5]
    assert fig["data"][1]["y"] == [1.0, None]


def test_power_factor_and_imbalance_axes_have_round_ticks():
    frame = pd.DataFrame({
        "frequency": [49.98, 50.01, 50.02, 49.99],
        "power_factor": [0.93, 0.95, 0.97, 0.96],
        "current1": [10.0, 11.0, 12.0, 13.0],
        "current2": [9.0, 9.5, 10.0, 10.5],
        "current3": [8.0, 8.5, 9.0, 9.5],
        "imbalance_pct": [6.74, 9.07, 8.0, 7.5],
    }, index=INDEX)
    pf = figures.frequency_pf_figure(frame, uirevision="t")["layout"]["yaxis2"]
    assert pf["tickvals"] == [0.92, 0.94, 0.96, 0.98, 1.0]
    assert pf["range"] == [0.92, 1.0]  # the line is not pinned to the top
    hz = figures.frequency_pf_figure(frame, uirevision="t")["layout"]["yaxis"]
    assert hz["tickvals"] == [49.98, 49.99, 50.0, 50.01, 50.02]
    currents = figures.currents_figure(frame, uirevision="t")["layout"]
    assert currents["yaxis2"]["tickvals"] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert currents["yaxis"]["tickvals"] == [0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0]


def test_wall_chart_appends_in_the_unit_it_was_drawn_in():
    frame = pd.DataFrame({"production_kw": [2000.0, 3000.0],
                          "consumption_kw": [1000.0, 1500.0]}, index=INDEX[:2])
    fig = figures.wall_figure(frame)
    assert fig["layout"]["yaxis"]["title"]["text"] == "MW"
    assert fig["layout"]["meta"]["unit_size"] == 1000.0
    x, production, consumption = figures.append_points(
        [(1_764_504_000_000, 2500.0, None)], "UTC", 1000.0)
    assert (production, consumption) == ([2.5], [None])
    assert x == ["2025-11-30 12:00:00"]
