"""Tariff versions through the service on both engines: saving with a later
"valid from" adds a version, costs across the change date split exactly, the
current tariff is the one valid today, and only a future version can be deleted."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from energy_dash import data
from energy_dash.domain.tariffs import TariffError
from energy_dash.services import costs

TZ = "Europe/Berlin"
JUNE_1 = date(2026, 6, 1)
OLD = {"currency": "EUR", "import_price": 0.30, "export_price": 0.10,
       "standing_charge": 1.0, "demand_charge": 10}
NEW = {**OLD, "import_price": 0.40, "standing_charge": 2.0, "demand_charge": 12,
       "valid_from": "2026-06-15"}


def june_readings(url: str, facility: int) -> None:
    """1 kWh every local hour of June 2026 (mid-hour), 5 kWh at 12:30 on the 20th."""
    index = pd.date_range("2026-06-01 00:30", "2026-06-30 23:30", freq="h", tz=TZ)
    frame = pd.DataFrame({"energy_consumed": 1.0, "energy_produced": 0.0,
                          "current_load": 1.0}, index=index.tz_convert("UTC"))
    frame.loc[pd.Timestamp("2026-06-20 12:30", tz=TZ), "energy_consumed"] = 5.0
    assert data.write_readings(frame, facility, database_url=url)["accepted"] == 720


def test_a_price_change_applies_from_its_day_on(database_url, facility):
    first = costs.set_tariff(facility, OLD, today=JUNE_1, database_url=database_url)
    assert first["valid_from"] == JUNE_1
    second = costs.set_tariff(facility, NEW, today=JUNE_1, database_url=database_url)
    assert (second["valid_from"], second["import_price"]) == (date(2026, 6, 15), 0.4)
    versions = costs.tariff_versions(facility, database_url=database_url)
    assert [(v["valid_from"], v["import_price"], v["demand_charge"])
            for v in versions] == [(JUNE_1, 0.3, 10.0), (date(2026, 6, 15), 0.4, 12.0)]
    # the current tariff is the newest valid today
    assert costs.get_tariff(facility, today=date(2026, 6, 14),
                            database_url=database_url)["import_price"] == 0.3
    assert costs.get_tariff(facility, today=date(2026, 6, 15),
                            database_url=database_url)["import_price"] == 0.4

    june_readings(database_url, facility)
    month = costs.cost_of_range(facility, pd.Timestamp("2026-06-01", tz=TZ),
                                pd.Timestamp("2026-07-01", tz=TZ),
                                database_url=database_url)
    assert month["days"] == 30
    assert month["import_kwh"] == pytest.approx(724.0)
    assert month["import_cost"] == pytest.approx(336 * 0.30 + 388 * 0.40)  # 256.00
    assert month["standing"] == pytest.approx(14 * 1.0 + 16 * 2.0)  # 46.00
    assert month["peak_kw"] == pytest.approx(5.0)
    assert month["demand_charge"] == pytest.approx(5 * (14 * 10 + 16 * 12) / 30)
    assert round(month["total"], 2) == 357.33  # 256.00 + 46.00 + 55.33
    # the first half is priced as it was before the change was entered
    half = costs.cost_of_range(facility, pd.Timestamp("2026-06-01", tz=TZ),
                               pd.Timestamp("2026-06-15", tz=TZ),
                               database_url=database_url)
    assert (half["import_cost"], half["standing"]) == (
        pytest.approx(336 * 0.30), pytest.approx(14.0))
    assert half["demand_charge"] == pytest.approx(1 * 10 * 14 / 30)  # peak 1 kW

    so_far = costs.month_cost(facility, now=pd.Timestamp("2026-06-20 12:00", tz=TZ),
                              database_url=database_url)
    assert so_far["tariff"]["valid_from"] == date(2026, 6, 15)
    # 1–19 June and the 20th until noon: 14 d × 24 h at 0.30, 5 d × 24 h + 12 at 0.40
    assert so_far["import_cost"] == pytest.approx(336 * 0.30 + 132 * 0.40)
    assert so_far["standing"] == pytest.approx(14 * 1.0 + 6 * 2.0)
    assert so_far["demand_charge"] == pytest.approx(1 * (14 * 10 + 6 * 12) / 30)


def test_only_a_future_version_can_be_deleted(database_url, facility):
    costs.set_tariff(facility, OLD, today=JUNE_1, database_url=database_url)
    costs.set_tariff(facility, NEW, today=JUNE_1, database_url=database_url)
    with pytest.raises(TariffError) as caught:
        costs.delete_tariff_version(facility, "2026-06-15", today=date(2026, 6, 15),
                                    database_url=database_url)
    assert str(caught.value) == (
        "The version from 2026-06-15 already prices today's costs: only a future "
        "version can be deleted."
    )
    with pytest.raises(LookupError):
        costs.delete_tariff_version(facility, "2026-06-16", today=JUNE_1,
                                    database_url=database_url)
    # editing the future version replaces it, deleting it leaves the first
    costs.set_tariff(facility, {**NEW, "import_price": 0.35}, today=JUNE_1,
                     database_url=database_url)
    assert [v["import_price"] for v in costs.tariff_versions(
        facility, database_url=database_url)] == [0.3, 0.35]
    costs.delete_tariff_version(facility, "2026-06-15", today=JUNE_1,
                                database_url=database_url)
    assert [v["valid_from"] for v in costs.tariff_versions(
        facility, database_url=database_url)] == [JUNE_1]
    # a version may not start before today, nor change the currency
    with pytest.raises(TariffError) as caught:
        costs.set_tariff(facility, {**OLD, "valid_from": "2026-05-31"}, today=JUNE_1,
                         database_url=database_url)
    assert caught.value.field == "valid_from"
    with pytest.raises(TariffError) as caught:
        costs.set_tariff(facility, {**NEW, "currency": "CHF"}, today=JUNE_1,
                         database_url=database_url)
    assert (caught.value.field, str(caught.value)) == (
        "currency", "Currency must stay EUR: every version of a tariff uses one "
        "currency.")
