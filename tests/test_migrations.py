"""Alembic: an empty database upgrades to head on both engines."""

import os

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from energy_dash.db import alembic_config, dispose_engine, get_engine, init_db
from energy_dash.models import Base

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


def test_empty_database_upgrades_to_head(tmp_path, request):
    urls = [f"sqlite:///{tmp_path / 'fresh.db'}"]
    if PG_URL or REQUIRE_POSTGRES:
        pg = request.getfixturevalue("postgres_url")
        with get_engine(pg).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        urls.append(pg)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    for url in urls:
        init_db(url)
        init_db(url)  # idempotent: a second upgrade changes nothing
        engine = get_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == head
        if url.startswith("sqlite"):
            dispose_engine(url)
