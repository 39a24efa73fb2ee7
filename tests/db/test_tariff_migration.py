"""Migration 0008 on a populated database (SQLite and PostgreSQL): every
facility's single tariff becomes one version valid from the beginning, priced
as before, and the facility can then keep several versions."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from alembic import command
from migration_helpers import empty_databases
from sqlalchemy import text

from energy_dash.db import alembic_config, dispose_engine, get_engine
from energy_dash.services import costs

TOU = '{"windows": [{"start_hour": 22, "end_hour": 6, "price": 0.2, "weekdays": [0]}]}'


def _populate_0007(url: str) -> None:
    """Two facilities with one tariff each, as revision 0007 stored them."""
    command.upgrade(alembic_config(url), "0007")
    with get_engine(url).begin() as conn:
        for fid in (1, 2):
            conn.execute(text(
                "INSERT INTO facilities (id, name, capacity_kw, timezone, "
                "nominal_voltage, expected_interval_s, voltage_warning_pct, "
                "voltage_critical_pct, voltage_hysteresis_pct, created_at) VALUES "
                "(:id, :name, 100, 'Europe/Berlin', 230, 60, 10, 15, 1, "
                "'2025-01-01 00:00:00')"), {"id": fid, "name": f"site {fid}"})
        conn.execute(text(
            "INSERT INTO tariffs (facility_id, currency, import_price, export_price, "
            "standing_charge, tou) VALUES (1, 'EUR', 0.31, 0.07, 0.5, :tou), "
            "(2, 'CHF', 0.25, 0.1, 0, '{}')"), {"tou": TOU})


def test_single_tariffs_become_versions_valid_from_the_beginning(tmp_path, request):
    for url in empty_databases(tmp_path, request, "old.db"):
        _populate_0007(url)
        command.upgrade(alembic_config(url), "0008")
        first = costs.tariff_versions(1, database_url=url)
        assert first == [{
            "currency": "EUR", "import_price": 0.31, "export_price": 0.07,
            "standing_charge": 0.5, "demand_charge": 0.0,
            "tou": [{"start_hour": 22, "end_hour": 6, "price": 0.2,
                     "weekdays": [0]}],
            "valid_from": date(1970, 1, 1), "configured": True,
        }]
        assert [v["valid_from"] for v in costs.tariff_versions(
            2, database_url=url)] == [date(1970, 1, 1)]
        # the old tariff still prices every past day
        prices = costs.tariff_prices(1, database_url=url)
        assert prices.on(date(2001, 5, 5)).import_price == 0.31
        # a price change from a future day is a second version, the past unchanged
        future = pd.Timestamp.now(tz="Europe/Berlin").date().replace(year=2099)
        costs.set_tariff(1, {"currency": "EUR", "import_price": 0.4,
                             "export_price": 0.07, "demand_charge": 11,
                             "valid_from": future.isoformat()}, database_url=url)
        assert [v["valid_from"] for v in costs.tariff_versions(
            1, database_url=url)] == [date(1970, 1, 1), future]
        assert costs.get_tariff(1, database_url=url)["import_price"] == 0.31
        # downgrading keeps the version valid today, one row per facility
        command.downgrade(alembic_config(url), "0007")
        with get_engine(url).connect() as conn:
            rows = conn.execute(text(
                "SELECT facility_id, import_price FROM tariffs ORDER BY facility_id"
            )).all()
        assert [tuple(r) for r in rows] == [(1, 0.31), (2, 0.25)]
        command.upgrade(alembic_config(url), "head")
        if url.startswith("sqlite"):
            dispose_engine(url)
        else:
            with get_engine(url).begin() as conn:
                conn.execute(text("DELETE FROM tariffs"))
                conn.execute(text("DELETE FROM facilities"))


def test_one_version_per_facility_and_day(tmp_path):
    url = f"sqlite:///{tmp_path / 'unique.db'}"
    _populate_0007(url)
    command.upgrade(alembic_config(url), "0008")
    with pytest.raises(Exception, match="(?i)unique"):
        with get_engine(url).begin() as conn:
            conn.execute(text(
                "INSERT INTO tariffs (facility_id, valid_from, currency, "
                "import_price, export_price, standing_charge, demand_charge, tou) "
                "VALUES (1, '1970-01-01', 'EUR', 1, 1, 0, 0, '{}')"))
    dispose_engine(url)
