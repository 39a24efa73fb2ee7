"""Alembic: an empty database upgrades to head on both engines, and the migrated
schema is exactly the models' (no drift in tables, columns, types, indexes or
constraints)."""

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from energy_dash.db import alembic_config, dispose_engine, get_engine, init_db
from energy_dash.db.models import Base
from energy_dash.db.partitions import compared_objects, in_models

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


def _urls(tmp_path, request) -> list[str]:
    """A fresh SQLite file, and (when configured) an emptied PostgreSQL schema."""
    urls = [f"sqlite:///{tmp_path / 'fresh.db'}"]
    if PG_URL or REQUIRE_POSTGRES:
        pg = request.getfixturevalue("postgres_url")
        with get_engine(pg).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        urls.append(pg)
    return urls


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
