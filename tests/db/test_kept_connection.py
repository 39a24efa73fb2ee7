"""``kept_connection``: the sensor lane's connection, kept per process on SQLite
and pooled elsewhere, on both engines against real databases."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError

from energy_dash.db import dispose_engine, kept_connection, statements
from energy_dash.db.engine import KEPT_PER_URL, _kept
from energy_dash.db.models import READING_FIELDS


def _raw(conn):
    return conn.connection


def _count(conn) -> int:
    return conn.execute("SELECT COUNT(*) FROM facilities").fetchone()[0]


def test_sqlite_keeps_one_connection_and_its_pragmas(sqlite_url):
    with kept_connection(sqlite_url) as first:
        raw = _raw(first)
        assert first.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert first.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for _ in range(3):
        with kept_connection(sqlite_url) as again:
            assert _raw(again) is raw
    assert len(_kept[sqlite_url]) == 1


def _reading(facility: int, ts: int) -> tuple:
    values = dict.fromkeys(READING_FIELDS, 1.0)
    return (facility, "probe", ts, *(values[f] for f in READING_FIELDS))


def test_writes_commit_and_a_failure_rolls_back(database_url, facility):
    with kept_connection(database_url) as conn, conn.writing() as tx:
        tx.execute(statements.INSERT_READING, _reading(facility, 1_000))
    with pytest.raises(RuntimeError), kept_connection(database_url) as conn:
        with conn.writing() as tx:
            tx.execute(statements.INSERT_READING, _reading(facility, 2_000))
            raise RuntimeError("after the insert, before the commit")
    with kept_connection(database_url) as conn:
        stored = conn.execute("SELECT ts_ms FROM readings").fetchall()
    assert [row[0] for row in stored] == [1_000]


def test_a_driver_error_replaces_the_connection(sqlite_url):
    with kept_connection(sqlite_url) as conn:
        broken = _raw(conn)
    with pytest.raises(DBAPIError), kept_connection(sqlite_url) as conn:
        conn.execute("SELECT * FROM no_such_table")
    with pytest.raises(sqlite3.ProgrammingError):  # closed, not given back
        broken.execute("SELECT 1")
    with kept_connection(sqlite_url) as conn:
        assert _raw(conn) is not broken
        assert _count(conn) == 0


def test_disposing_the_engine_closes_kept_connections(sqlite_url):
    with kept_connection(sqlite_url) as conn:
        old = _raw(conn)
    dispose_engine(sqlite_url)
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")
    with kept_connection(sqlite_url) as conn:
        assert _raw(conn) is not old and _count(conn) == 0


def test_disposing_another_database_keeps_this_ones_connections(
    sqlite_url, sqlite_template, tmp_path
):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    shutil.copy(sqlite_template, tmp_path / "other.db")
    with kept_connection(sqlite_url) as conn:
        raw = _raw(conn)
        with kept_connection(other) as elsewhere:
            assert _count(elsewhere) == 0
        dispose_engine(other)
    with kept_connection(sqlite_url) as conn:
        assert _raw(conn) is raw and _count(conn) == 0


def test_one_in_use_while_disposed_is_closed_when_given_back(sqlite_url):
    with kept_connection(sqlite_url) as conn:
        in_use = _raw(conn)
        dispose_engine(sqlite_url)
        assert _count(conn) == 0  # still usable until the request ends
    with pytest.raises(sqlite3.ProgrammingError):
        in_use.execute("SELECT 1")
    assert sqlite_url not in _kept or not _kept[sqlite_url]


def test_nested_use_takes_a_second_connection_and_keeps_at_most_a_few(sqlite_url):
    with kept_connection(sqlite_url) as outer, kept_connection(sqlite_url) as inner:
        assert _raw(outer) is not _raw(inner)
    assert len(_kept[sqlite_url]) == 2
    stack = []
    opened = [kept_connection(sqlite_url) for _ in range(KEPT_PER_URL + 3)]
    for cm in opened:
        stack.append(_raw(cm.__enter__()))
    for cm in opened:
        cm.__exit__(None, None, None)
    assert len(_kept[sqlite_url]) == KEPT_PER_URL


def _child_count(url, queue):
    with kept_connection(url) as conn:
        queue.put((id(_raw(conn)), _count(conn)))


def test_a_forked_child_never_uses_the_parents_connection(sqlite_url):
    with kept_connection(sqlite_url) as conn:
        parent = _raw(conn)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_count, args=(sqlite_url, queue))
    child.start()
    child_id, count = queue.get(timeout=30)
    child.join(30)
    assert child.exitcode == 0 and count == 0
    with kept_connection(sqlite_url) as conn:  # the parent's own still works
        assert _raw(conn) is parent and _count(conn) == 0
