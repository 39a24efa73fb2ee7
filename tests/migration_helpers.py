"""Databases for migration tests: a fresh SQLite file, and (when configured) the
PostgreSQL test database with its public schema emptied."""

from __future__ import annotations

import os

from sqlalchemy import text

from energy_dash.db import get_engine

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


def empty_databases(tmp_path, request, name: str = "fresh.db") -> list[str]:
    """URLs of empty databases on every configured engine (SQLite first)."""
    urls = [f"sqlite:///{tmp_path / name}"]
    if PG_URL or REQUIRE_POSTGRES:
        pg = request.getfixturevalue("postgres_url")
        with get_engine(pg).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        urls.append(pg)
    return urls
