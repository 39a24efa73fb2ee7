"""Tariffs (validation, storage, the settings form's callbacks), costs of a range,
the dashboard's cost KPI and the recommendations panels, on both engines."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from fixtures_web import callback_result, pattern_changed, pattern_dep, post_callback

from energy_dash import data
from energy_dash.domain.tariffs import TariffError
from energy_dash.domain.times import local_hour_start, local_midnight
from energy_dash.services import costs as store

TZ = "Europe/Berlin"


def TODAY() -> date:  # noqa: N802 - reads like the constant it stands for
    """The test facility's local calendar day now."""
    return pd.Timestamp.now(tz=TZ).date()
TOU = [{"start_hour": 7, "end_hour": 9, "price": 0.5, "weekdays": [0, 1, 2, 3, 4]}]
TARIFF = {
    "currency": "eur",
    "import_price": "0.30",
    "export_price": 0.08,
    "standing_charge": 0.5,
    "tou": TOU,
}


def texts(value) -> str:
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "props" in node:
                walk(node["props"].get("children"))
            else:
                for item in node.values():
                    walk(item)

    walk(value)
    return "\n".join(found)


def component_ids(value) -> set:
    found = set()

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "props" in node:
                ident = node["props"].get("id")
                if ident is not None:
                    found.add(json.dumps(ident, sort_keys=True)
                              if isinstance(ident, dict) else ident)
                walk(node["props"].get("children"))

    walk(value)
    return found


# ------------------------------------------------------------------ storage


def test_default_then_stored_tariff(database_url, facility):
    assert store.get_tariff(facility, database_url=database_url) == {
        "currency": "EUR", "import_price": 0.30, "export_price": 0.08,
        "standing_charge": 0.0, "demand_charge": 0.0, "tou": [], "valid_from": None,
        "configured": False,
    }
    saved = store.set_tariff(facility, TARIFF, database_url=database_url)
    expected = {
        "currency": "EUR", "import_price": 0.30, "export_price": 0.08,
        "standing_charge": 0.5, "demand_charge": 0.0, "tou": TOU,
        "valid_from": TODAY(), "configured": True,
    }
    assert saved == expected
    assert store.get_tariff(facility, database_url=database_url) == expected
    # a second save on the same day replaces that day's version
    store.set_tariff(facility, {"import_price": 0.25, "export_price": 0,
                                "demand_charge": "9.5"},
                     database_url=database_url)
    assert store.get_tariff(facility, database_url=database_url) == {
        "currency": "EUR", "import_price": 0.25, "export_price": 0.0,
        "standing_charge": 0.0, "demand_charge": 9.5, "tou": [],
        "valid_from": TODAY(), "configured": True,
    }
    assert len(store.tariff_versions(facility, database_url=database_url)) == 1
    model = store.tariff_model(expected)
    assert model.import_price_at(pd.Timestamp("2026-06-01 07:30")) == 0.5  # Mon
    assert model.import_price_at(pd.Timestamp("2026-06-06 07:30")) == 0.3  # Sat


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"import_price": -0.1}, "import_price", "Import price must be 0 or more."),
        ({"import_price": None}, "import_price", "Import price is required."),
        ({"export_price": float("nan")}, "export_price",
         "Export price must be a finite number."),
        ({"export_price": "inf"}, "export_price",
         "Export price must be a finite number."),
        ({"export_price": "cheap"}, "export_price", "Export price must be a number."),
        ({"standing_charge": -1}, "standing_charge",
         "Standing charge must be 0 or more."),
        ({"demand_charge": -8}, "demand_charge", "Demand charge must be 0 or more."),
        ({"demand_charge": "ten"}, "demand_charge",
         "Demand charge must be a number."),
        ({"valid_from": "2020-01-01"}, "valid_from",
         f"Valid from must be today ({TODAY().isoformat()}) or later: a price "
         "change never rewrites past costs."),
        ({"valid_from": "next week"}, "valid_from",
         "Valid from must be a date such as 2026-12-31."),
        ({"currency": "euro"}, "currency",
         "Currency must be a three-letter code such as EUR or USD."),
        ({"tou": [{**TOU[0], "start_hour": 24}]}, "tou[0].start_hour",
         "Time-of-use window 1: start hour must be between 0 and 23."),
        ({"tou": [{**TOU[0], "end_hour": 25}]}, "tou[0].end_hour",
         "Time-of-use window 1: end hour must be between 1 and 24."),
        ({"tou": [{**TOU[0], "end_hour": 0}]}, "tou[0].end_hour",
         "Time-of-use window 1: end hour must be between 1 and 24."),
        ({"tou": [{**TOU[0], "start_hour": 7.5}]}, "tou[0].start_hour",
         "Time-of-use window 1: start hour must be a whole number."),
        ({"tou": [TOU[0], {**TOU[0], "end_hour": 7}]}, "tou[1].end_hour",
         "Time-of-use window 2: start and end hour must differ."),
        ({"tou": [{**TOU[0], "weekdays": [0, 7]}]}, "tou[0].weekdays",
         "Time-of-use window 1: weekday must be between 0 and 6."),
        ({"tou": [{**TOU[0], "weekdays": []}]}, "tou[0].weekdays",
         "Time-of-use window 1: choose at least one weekday."),
        ({"tou": [{**TOU[0], "price": -2}]}, "tou[0].price",
         "Time-of-use window 1: price must be 0 or more."),
    ],
)
def test_invalid_tariffs_are_refused_naming_the_field(
    database_url, facility, change, field, message
):
    with pytest.raises(TariffError) as caught:
        store.set_tariff(facility, {**TARIFF, **change}, database_url=database_url)
    assert (caught.value.field, str(caught.value)) == (field, message)
    assert store.get_tariff(facility, database_url=database_url)["configured"] is False


def test_a_wrapping_window_and_an_unknown_facility(database_url, facility):
    night = {"start_hour": "22", "end_hour": "6", "price": "0.12",
             "weekdays": list(range(7))}
    saved = store.set_tariff(facility, {**TARIFF, "tou": [night]},
                             database_url=database_url)
    assert saved["tou"] == [{"start_hour": 22, "end_hour": 6, "price": 0.12,
                             "weekdays": [0, 1, 2, 3, 4, 5, 6]}]
    with pytest.raises(LookupError):
        store.set_tariff(999, TARIFF, database_url=database_url)


# --------------------------------------------------------------------- costs


def readings(url: str, facility: int, rows: list[tuple[str, float, float]]) -> None:
    frame = pd.DataFrame(
        [{"timestamp": pd.Timestamp(t, tz="UTC"), "energy_consumed": c,
          "energy_produced": p, "current_load": 10.0} for t, c, p in rows]
    )
    assert data.write_readings(frame, facility, database_url=url)["rejected"] == []


COST_ROWS = [
    ("2026-06-01 05:00", 2.0, 0.5),  # Mon 07:00 CEST: import 1.5 at 0.50 (TOU)
    ("2026-06-01 10:00", 1.0, 3.0),  # Mon 12:00: export 2.0
    ("2026-06-01 10:15", 2.0, 1.0),  # same hour: import 1.0 at 0.30 (per reading)
    ("2026-06-01 18:00", 4.0, 0.0),  # Mon 20:00: import 4.0 at 0.30
    ("2026-06-06 05:00", 1.0, 0.0),  # Sat 07:00: weekend, base price 0.30
]


def test_cost_of_range_with_a_tou_window(database_url, facility):
    store.set_tariff(facility, TARIFF, database_url=database_url)
    readings(database_url, facility, COST_ROWS)
    week = store.cost_of_range(
        facility, "2026-05-31 22:00", "2026-06-07 22:00", database_url=database_url
    )
    assert week == {
        "import_kwh": pytest.approx(7.5),
        "export_kwh": pytest.approx(2.0),
        "import_cost": pytest.approx(1.5 * 0.5 + 1.0 * 0.3 + 4.0 * 0.3 + 1.0 * 0.3),
        "export_credit": pytest.approx(0.16),
        "standing": pytest.approx(3.5),  # 7 local days × 0.50
        "demand_charge": 0.0,
        "peak_kw": pytest.approx(4.0),  # Mon 20:00
        "total": pytest.approx(2.55 - 0.16 + 3.5),
        "days": 7,
        "currency": "EUR",
    }
    assert week["total"] == pytest.approx(5.89)
    morning = store.cost_of_range(
        facility, pd.Timestamp("2026-06-01 00:00", tz=TZ),
        pd.Timestamp("2026-06-01 10:00", tz=TZ), database_url=database_url,
    )
    assert (morning["import_kwh"], morning["import_cost"], morning["standing"],
            morning["days"]) == (pytest.approx(1.5), pytest.approx(0.75), 0.5, 1)
    assert morning["total"] == pytest.approx(1.25)
    empty = store.cost_of_range(facility, "2026-05-01", "2026-05-01",
                                database_url=database_url)
    assert (empty["total"], empty["days"]) == (0.0, 0)


def test_month_cost_so_far_in_the_local_calendar(database_url, facility):
    store.set_tariff(facility, {**TARIFF, "standing_charge": 0},
                     database_url=database_url)
    # 23:30 on 31 May UTC is 01:30 on 1 June in Berlin: this month
    readings(database_url, facility,
             [("2026-05-31 21:30", 9.0, 0.0), ("2026-05-31 23:30", 1.0, 0.0),
              *COST_ROWS])
    cost = store.month_cost(facility, now=pd.Timestamp("2026-06-01 18:30", tz="UTC"),
                            database_url=database_url)
    assert cost["month_start"] == pd.Timestamp("2026-05-31 22:00", tz="UTC")
    assert cost["import_kwh"] == pytest.approx(1.0 + 1.5 + 1.0 + 4.0)
    assert cost["total"] == pytest.approx(0.3 + 0.75 + 0.3 + 1.2 - 0.16)
    assert cost["today"]["total"] == pytest.approx(cost["total"])
    assert cost["tariff"]["configured"] is True


# ------------------------------------------------------- settings form callbacks


TOU_KINDS = ("tariff-tou-start", "tariff-tou-end", "tariff-tou-price",
             "tariff-tou-days")
FORM = {
    "tariff-save.n_clicks": 1,
    "tariff-currency.value": "CHF",
    "tariff-import-price.value": 0.27,
    "tariff-export-price.value": 0.1,
    "tariff-standing-charge.value": None,
    "tariff-demand-charge.value": None,
    "tariff-valid-from.value": None,
}
ROWS = [("22", "6", 0.15, [0, 1, 2, 3, 4, 5, 6]), ("", "", None, [0])]


def save(c, facility, form=FORM, rows=ROWS, *, everything=False):
    """POST the save callback as the renderer does, TOU rows as wildcard states;
    the status shown (``everything``: every output)."""
    wildcards = {
        f"{kind}.value": [pattern_dep(kind, i, "value", row[column])
                          for i, row in enumerate(rows)]
        for column, kind in enumerate(TOU_KINDS)
    }
    response = post_callback(
        c, c.application_dash, "tariff-status.children",
        {"facility-select.value": facility, **form, **wildcards},
        changed=["tariff-save.n_clicks"],
    )
    result = callback_result(response)
    return result if everything else result["tariff-status.children"]


def test_a_viewer_cannot_change_the_tariff_through_the_callback(
    auth_client, facility, database_url
):
    viewer = auth_client("victor", facility_role="viewer")
    assert texts(save(viewer, facility)) == (
        "Not saved: your role in this facility is read-only."
    )
    assert store.get_tariff(facility, database_url=database_url)["configured"] is False
    form = callback_result(post_callback(
        viewer, viewer.application_dash, "tariff-settings.children",
        {"facility-select.value": facility},
    ))["tariff-settings.children"]
    shown = component_ids(form)
    assert "tariff-save" not in shown and "tariff-readonly-note" in shown
    assert "only admins and operators" in texts(form)


def test_an_operator_saves_the_tariff_and_sees_it(auth_client, facility,
                                                  database_url):
    operator = auth_client("olga", facility_role="operator")
    assert texts(save(operator, facility)) == (
        "Tariff saved, valid from today: import 0.27 CHF/kWh, export 0.1 CHF/kWh, "
        "1 time-of-use window(s)."
    )
    assert store.get_tariff(facility, database_url=database_url) == {
        "currency": "CHF", "import_price": 0.27, "export_price": 0.1,
        "standing_charge": 0.0, "demand_charge": 0.0,
        "tou": [{"start_hour": 22, "end_hour": 6, "price": 0.15,
                 "weekdays": [0, 1, 2, 3, 4, 5, 6]}],
        "valid_from": TODAY(), "configured": True,
    }
    bad = {**FORM, "tariff-import-price.value": -1}
    assert texts(save(operator, facility, bad)) == (
        "Not saved: Import price must be 0 or more."
    )
    half = [("7", "", 0.4, [0])]
    assert texts(save(operator, facility, rows=half)) == (
        "Not saved: Time-of-use window 1: end hour is required."
    )
    form = callback_result(post_callback(
        operator, operator.application_dash, "tariff-settings.children",
        {"facility-select.value": facility},
    ))["tariff-settings.children"]
    assert "tariff-save" in component_ids(form)
    assert "CHF/kWh" in texts(form)


INVALID = ("tariff-currency", "tariff-import-price", "tariff-export-price",
           "tariff-standing-charge", "tariff-demand-charge", "tariff-valid-from")


@pytest.mark.parametrize(
    ("value", "message"),
    [(-5, "Demand charge must be 0 or more."),
     ("ten", "Demand charge must be a number."),
     ("nan", "Demand charge must be a finite number.")],
)
def test_a_bad_demand_charge_is_refused_naming_the_field(
    auth_client, facility, database_url, value, message
):
    operator = auth_client("olga", facility_role="operator")
    out = save(operator, facility, {**FORM, "tariff-demand-charge.value": value},
               everything=True)
    assert texts(out["tariff-status.children"]) == f"Not saved: {message}"
    assert [out[f"{cid}.invalid"] for cid in INVALID] == [
        False, False, False, False, True, False]
    assert "tariff-versions.children" not in out  # the list stays as it was
    assert store.tariff_versions(facility, database_url=database_url) == []


def delete(c, facility, day: str):
    """Click the delete button of the version from ``day``."""
    kind = "tariff-delete-version"
    return callback_result(post_callback(
        c, c.application_dash, "tariff-status.children",
        {"facility-select.value": facility,
         f"{kind}.n_clicks": [pattern_dep(kind, day, "n_clicks", 1)]},
        changed=[pattern_changed(kind, day, "n_clicks")],
    ))


def test_a_future_price_change_is_listed_and_can_be_deleted(
    auth_client, facility, database_url
):
    operator = auth_client("olga", facility_role="operator")
    today = TODAY()
    later = today + timedelta(days=365)
    form = {**FORM, "tariff-currency.value": "EUR", "tariff-demand-charge.value": 12}
    save(operator, facility, form, rows=[])
    out = save(operator, facility,
               {**form, "tariff-import-price.value": 0.35,
                "tariff-valid-from.value": later.isoformat()},
               rows=[], everything=True)
    assert texts(out["tariff-status.children"]) == (
        f"Tariff saved, valid from {later.isoformat()}: import 0.35 EUR/kWh, export "
        "0.1 EUR/kWh, demand charge 12 EUR/kW/month."
    )
    listed = texts(out["tariff-versions.children"])
    assert listed.split("\n") == [
        "Valid from", "Import", "Export", "Standing charge", "Demand charge",
        "TOU windows", "", "",
        today.isoformat(), "0.27 EUR/kWh", "0.1 EUR/kWh", "—", "12 EUR/kW/month",
        "—", "current", "",
        later.isoformat(), "0.35 EUR/kWh", "0.1 EUR/kWh", "—", "12 EUR/kW/month",
        "—", f"from {later.isoformat()}", "Delete",
    ]
    delete_buttons = {i for i in component_ids(out["tariff-versions.children"])
                      if "delete" in i}
    assert delete_buttons == {json.dumps(
        {"index": later.isoformat(), "type": "tariff-delete-version"})}
    # the price change does not touch today's tariff
    assert store.get_tariff(facility, database_url=database_url)["import_price"] == (
        0.27)
    viewer = auth_client("victor", facility_role="viewer")
    refused = delete(viewer, facility, later.isoformat())
    assert texts(refused["tariff-status.children"]) == (
        "Not deleted: your role in this facility is read-only.")
    assert texts(delete(operator, facility, today.isoformat())[
        "tariff-status.children"]) == (
        f"Not deleted: The version from {today.isoformat()} already prices today's "
        "costs: only a future version can be deleted.")
    done = delete(operator, facility, later.isoformat())
    assert texts(done["tariff-status.children"]) == (
        f"The price change from {later.isoformat()} was deleted.")
    assert later.isoformat() not in texts(done["tariff-versions.children"])
    assert [v["valid_from"] for v in store.tariff_versions(
        facility, database_url=database_url)] == [today]
    # the settings card lists the versions and offers today as "valid from"
    card = callback_result(post_callback(
        operator, operator.application_dash, "tariff-settings.children",
        {"facility-select.value": facility},
    ))["tariff-settings.children"]
    assert "Per kW of the month's highest hourly demand" in texts(card)
    assert f'"value": "{today.isoformat()}"' in json.dumps(card)


def test_members_of_another_facility_cannot_save(auth_client, facility,
                                                 database_url):
    outsider = auth_client("otto", facility=None)
    assert texts(save(outsider, facility)) == (
        "Not saved: you are not a member of this facility."
    )
    assert store.get_tariff(facility, database_url=database_url)["configured"] is False


# ------------------------------------------------- cost KPI and recommendations


def test_the_dashboard_cost_kpi_shows_this_months_cost(auth_client, facility,
                                                       database_url):
    now = pd.Timestamp.now(tz="UTC")
    month_start = local_midnight(now.tz_convert(TZ).date().replace(day=1), TZ)
    moment = month_start + (now - month_start) / 2
    readings(database_url, facility, [(moment.tz_localize(None), 2.0, 0.0)])
    c = auth_client("alice", facility_role="viewer")
    out = callback_result(post_callback(
        c, c.application_dash, "dashboard-cost.children",
        {"facility-select.value": facility, "dashboard-interval.n_intervals": 0},
        changed=["facility-select.value"],
    ))["dashboard-cost.children"]
    text = texts(out)
    assert "Cost this month" in text
    assert "0.60 EUR" in text  # 2 kWh × 0.30 EUR/kWh (default tariff)
    assert "default tariff" in text
    # interval ticks between refreshes send nothing
    response = post_callback(
        c, c.application_dash, "dashboard-cost.children",
        {"facility-select.value": facility, "dashboard-interval.n_intervals": 3},
        changed=["dashboard-interval.n_intervals"],
    )
    assert response.status_code == 204


def test_recommendations_on_the_dashboard_and_the_forecast_page(
    auth_client, facility, database_url
):
    store.set_tariff(facility, {"import_price": 0.3, "export_price": 0.08},
                     database_url=database_url)
    end = local_hour_start(pd.Timestamp.now(tz="UTC"), TZ)
    index = pd.date_range(end=end - pd.Timedelta(minutes=15), periods=10 * 96,
                          freq="15min")
    frame = pd.DataFrame(
        {"energy_consumed": 1.0, "energy_produced": 0.0, "current_load": 30.0,
         "power_factor": 0.8, "voltage": 230.0, "current1": 10.0, "current2": 10.0,
         "current3": 10.0},
        index=index,
    )
    assert data.write_readings(frame, facility,
                               database_url=database_url)["rejected"] == []
    result = store.facility_recommendations(facility, database_url=database_url)
    assert [r["key"] for r in result["items"]] == ["power_factor"]
    rec = result["items"][0]
    assert rec["currency"] == "EUR" and rec["money_per_month"] > 0
    assert math.isclose(result["days"], 10.0)
    c = auth_client("alice", facility_role="viewer")
    for output in ("dashboard-recommendations.children",
                   "forecast-recommendations.children"):
        panel = callback_result(post_callback(
            c, c.application_dash, output, {"facility-select.value": facility},
        ))[output]
        text = texts(panel)
        assert "Correct the power factor" in text
        assert f"{rec['money_per_month']:,.2f} EUR/month" in text
        assert f"{rec['kwh_per_month']:,.0f} kWh/month" in text
        assert "The average power factor is 0.80" in text  # how it was computed
        assert "From 10 days of readings (the last 30 days were searched)" in text
    other = auth_client("otto", facility=None)
    panel = callback_result(post_callback(
        other, other.application_dash, "dashboard-recommendations.children",
        {"facility-select.value": facility},
    ))["dashboard-recommendations.children"]
    assert "You do not have access to this facility." in texts(panel)
    assert np.isfinite(rec["kwh_per_month"])


def test_the_panel_prices_peaks_by_the_demand_charge_or_says_why_not(
    auth_client, facility, database_url
):
    end = local_hour_start(pd.Timestamp.now(tz="UTC"), TZ)
    index = pd.date_range(end=end - pd.Timedelta(minutes=15), periods=10 * 96,
                          freq="15min")
    local = index.tz_convert(TZ)
    kwh = np.where(local.hour == 8, 0.75, 0.25)  # 1 kW, 3 kW from 08:00 to 09:00
    kwh[(local.hour == 8) & (local.date == local[0].date() + timedelta(days=1))] = 1.25
    frame = pd.DataFrame({"energy_consumed": kwh, "energy_produced": 0.0,
                          "current_load": 1.0}, index=index)
    assert data.write_readings(frame, facility,
                               database_url=database_url)["rejected"] == []
    c = auth_client("alice", facility_role="viewer")

    def panel() -> str:
        return texts(callback_result(post_callback(
            c, c.application_dash, "dashboard-recommendations.children",
            {"facility-select.value": facility},
        ))["dashboard-recommendations.children"])

    store.set_tariff(facility, {"import_price": 0.3, "export_price": 0.08},
                     database_url=database_url)
    text = panel()
    assert "Shave the demand peaks" not in text
    assert ("What the checks found: Demand peaks (the highest hourly grid demand "
            "was 5.0 kW") in text
    assert "the tariff has no demand charge" in text
    store.set_tariff(facility, {"import_price": 0.3, "export_price": 0.08,
                                "demand_charge": 10}, database_url=database_url)
    text = panel()
    assert "demand charge 10.00 EUR/kW/month" in text  # the basis line
    assert "1. Shave the demand peaks" in text.replace("\n", "")
    assert "40.00 EUR/month" in text
    assert ("keeping it at 1.0 kW takes 4.000 kW off the peak, × 10 EUR/kW = "
            "40.00 EUR/month.") in text


def test_the_cost_kpi_adds_the_demand_charge_so_far(auth_client, facility,
                                                    database_url):
    store.set_tariff(facility, {"import_price": 0.3, "export_price": 0.08,
                                "demand_charge": 10}, database_url=database_url)
    now = pd.Timestamp.now(tz="UTC")
    month_start = local_midnight(now.tz_convert(TZ).date().replace(day=1), TZ)
    moment = month_start + (now - month_start) / 2
    readings(database_url, facility, [(moment.tz_localize(None), 2.0, 0.0)])
    c = auth_client("alice", facility_role="viewer")
    text = texts(callback_result(post_callback(
        c, c.application_dash, "dashboard-cost.children",
        {"facility-select.value": facility, "dashboard-interval.n_intervals": 0},
        changed=["facility-select.value"],
    ))["dashboard-cost.children"])
    local = now.tz_convert(TZ)
    # 2 kW in one hour: 2 × 10 EUR/kW × (days so far / days in the month)
    demand = 2 * 10 * local.day / local.days_in_month
    assert f"{0.6 + demand:,.2f} EUR" in text
    assert f"demand charge {demand:,.2f} EUR (peak 2.00 kW)" in text
