"""Alembic: an empty database upgrades to head on both engines, and the migrated
schema is exactly the models' (no drift in tables, columns, types, indexes or
constraints)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from migration_helpers import empty_databases
from sqlalchemy import inspect, text

from energy_dash.db import alembic_config, dispose_engine, get_engine, init_db
from energy_dash.db.models import Base
from energy_dash.db.partitions import compared_objects, in_models


def _urls(tmp_path, request) -> list[str]:
    """A fresh SQLite file, and (when configured) an emptied PostgreSQL schema."""
    return empty_databases(tmp_path, request)


def drift(url: str) -> list:
    """What Alembic's autogenerate would change to make the database the models."""
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": False,
                  "include_name": in_models,
                  "include_object": compared_objects(conn.dialect.name)},
        )
        return compare_metadata(context, Base.metadata)


def test_empty_database_upgrades_to_head_without_drift(tmp_path, request):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    for url in _urls(tmp_path, request):
        init_db(url)
        init_db(url)  # idempotent: a second upgrade changes nothing
        engine = get_engine(url)
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == head
        assert drift(url) == [], url.split(":")[0]
        reading_columns = {c["name"] for c in inspect(engine).get_columns("readings")}
        assert reading_columns == set(Base.metadata.tables["readings"].columns.keys())
        if url.startswith("sqlite"):
            dispose_engine(url)


def test_drift_check_sees_a_missing_column(tmp_path):
    """The drift check itself can fail: drop a column the models have."""
    url = f"sqlite:///{tmp_path / 'drifted.db'}"
    init_db(url)
    with get_engine(url).begin() as conn:
        conn.execute(text("ALTER TABLE facilities DROP COLUMN panel_count"))
    changes = drift(url)
    dispose_engine(url)
    assert [(c[0], c[2], c[3].name) for c in changes] == [
        ("add_column", "facilities", "panel_count")
    ]
