"""One pooled database connection per request, for everything a request reads.

Every open page polls: when the user load, the tenant check, the change signature
and each figure took a connection of their own, a tick cost up to nine pool
checkouts. Here the first read of a request checks one out, later reads reuse it,
and the app context's teardown returns it.

Each outermost :func:`reading` block ends its transaction when it leaves, so no
snapshot outlives the block (a write made in between on another connection is
seen by the next read, on SQLite too) and nothing idles in a transaction; the
connection itself stays checked out until the request ends. Outside a request
(CLI, jobs, tests calling services) a fresh connection is used and closed.
Writes keep their own ``session_scope(..., write=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_app_context
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from energy_dash.db import connected, get_engine, reading_session, resolve_url

_HELD = "energy_dash_connections"


def request_connection(database_url: str | None = None) -> Connection | None:
    """This request's connection to ``database_url`` (checked out on first use);
    None outside an app context."""
    if not has_app_context():
        return None
    held: dict[str, Connection] = g.setdefault(_HELD, {})
    url = resolve_url(database_url)
    conn = held.get(url)
    if conn is None or conn.closed or conn.invalidated:
        conn = held[url] = get_engine(url).connect()
    return conn


@contextmanager
def reading(database_url: str | None = None) -> Iterator[Connection]:
    """A connection to read from: the request's own, else a fresh one.

    Blocks nest; the outermost one ends the transaction it started.
    """
    conn = request_connection(database_url)
    if conn is None:
        with connected(database_url) as fresh:
            yield fresh
        return
    outer = not conn.in_transaction()
    try:
        yield conn
    finally:
        if outer and conn.in_transaction() and not conn.invalidated:
            conn.rollback()


@contextmanager
def read_session(database_url: str | None = None) -> Iterator[Session]:
    """An ORM session for reads on :func:`reading`'s connection (never commits)."""
    with reading(database_url) as conn, reading_session(conn=conn) as session:
        yield session


def release(_exc: BaseException | None = None) -> None:
    """Return the request's connections to the pool (app-context teardown)."""
    held: dict[str, Connection] = g.pop(_HELD, None) or {}
    for conn in held.values():
        conn.close()


__all__ = ["read_session", "reading", "release", "request_connection"]
