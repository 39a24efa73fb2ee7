"""Migration 0011 on a database whose topic and line-protocol bindings share ids
(SQLite and PostgreSQL): every binding made afterwards has an id of its own
across both kinds, and the old shared ids are still removed as topic:N/influx:N."""

from __future__ import annotations

import pytest
from alembic import command
from migration_helpers import empty_databases
from sqlalchemy import text

from energy_dash.db import alembic_config, dispose_engine, get_engine
from energy_dash.services.bindings import (
    BindingError,
    bind_influx,
    bind_topic,
    influx_bindings,
    topic_bindings,
    unbind,
)


def _populate_0010(url: str) -> None:
    """Topic bindings 1 and 2, line-protocol bindings 1 and 3, as 0010 numbered
    them (each table on its own)."""
    command.upgrade(alembic_config(url), "0010")
    with get_engine(url).begin() as conn:
        conn.execute(text(
            "INSERT INTO facilities (id, name, capacity_kw, timezone, "
            "nominal_voltage, expected_interval_s, voltage_warning_pct, "
            "voltage_critical_pct, voltage_hysteresis_pct, created_at) VALUES "
            "(1, 'site', 100, 'UTC', 230, 60, 10, 15, 1, '2025-01-01 00:00:00')"))
        for binding_id, topic in ((1, "a/#"), (2, "b/#")):
            conn.execute(text(
                "INSERT INTO topic_bindings (id, facility_id, topic, format, role, "
                "created_at) VALUES (:id, 1, :topic, 'native', 'consumption', "
                "'2025-01-01 00:00:00')"), {"id": binding_id, "topic": topic})
        for binding_id, measurement in ((1, "Mains"), (3, "Solar")):
            conn.execute(text(
                "INSERT INTO influx_bindings (id, facility_id, measurement, tags, "
                "role, kind, unit, created_at) VALUES (:id, 1, :m, '{}', "
                "'consumption', 'power', 'W', '2025-01-01 00:00:00')"),
                {"id": binding_id, "m": measurement})


def test_new_bindings_get_ids_above_both_tables(tmp_path, request):
    for url in empty_databases(tmp_path, request, "old.db"):
        _populate_0010(url)
        command.upgrade(alembic_config(url), "head")
        assert bind_topic(url, 1, "c/#", "native") == 4
        assert bind_influx(url, 1, "Grid", role="consumption", kind="power",
                           unit="W") == 5
        assert bind_topic(url, 1, "d/#", "native") == 6
        assert unbind(url, "5") == "influx:5"
        assert unbind(url, "4") == "topic:4"
        with pytest.raises(BindingError, match="say topic:1 or influx:1"):
            unbind(url, "1")
        assert unbind(url, "influx:1") == "influx:1"
        assert unbind(url, "1") == "topic:1"
        assert [b["id"] for b in topic_bindings(url)] == [2, 6]
        assert [b["id"] for b in influx_bindings(url, 1)] == [3]
        if url.startswith("sqlite"):
            dispose_engine(url)


def test_an_empty_database_starts_at_one(tmp_path, request):
    for url in empty_databases(tmp_path, request, "new.db"):
        command.upgrade(alembic_config(url), "head")
        with get_engine(url).begin() as conn:
            conn.execute(text(
                "INSERT INTO facilities (id, name, capacity_kw, timezone, "
                "nominal_voltage, expected_interval_s, voltage_warning_pct, "
                "voltage_critical_pct, voltage_hysteresis_pct, created_at) VALUES "
                "(1, 'site', 100, 'UTC', 230, 60, 10, 15, 1, "
                "'2025-01-01 00:00:00')"))
        assert bind_influx(url, 1, "Grid", role="consumption", kind="power",
                           unit="W") == 1
        assert bind_topic(url, 1, "c/#", "native") == 2
        if url.startswith("sqlite"):
            dispose_engine(url)
