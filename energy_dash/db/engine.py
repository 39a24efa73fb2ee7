"""Engines and sessions; session lifetime belongs to the edges (request, job)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from energy_dash.config import DEFAULT_DATABASE_URL

logger = logging.getLogger(__name__)

ROW_REFUSALS: tuple[type[Exception], ...] = (
    DataError, IntegrityError,
    sqlite3.IntegrityError, sqlite3.DataError,
    psycopg.IntegrityError, psycopg.DataError,
)
"""The database refused the rows themselves (a constraint or a value), raised
through SQLAlchemy or by a plain DB-API cursor of the hot path."""

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_kept: dict[str, list[tuple]] = {}  # url: (generation, pid, DB-API conn, its fairy)
_generation: dict[str, int] = {}  # url: bumped when its engine is disposed
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def resolve_url(database_url: str | None = None) -> str:
    return database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def _sqlite_connect(dbapi_connection, _record) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    # WAL + busy_timeout: several gunicorn workers write without "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn) -> None:
    """Writers take the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that read first and writes later fails at once with
    SQLITE_BUSY when another process wrote in between; busy_timeout cannot help.
    """
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(database_url: str | None = None) -> Engine:
    """One engine per URL per process, created on first use."""
    url = resolve_url(database_url)
    engine = _engines.get(url)
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
    return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def dispose_engines() -> None:
    """Forget every engine (tests, and after a fork)."""
    with _lock:
        for url in list(_kept):
            _close_stack(url)
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()


def dispose_engine(database_url: str) -> None:
    with _lock:
        _close_stack(database_url)
        engine = _engines.pop(database_url, None)
        _factories.pop((database_url, False), None)
        _factories.pop((database_url, True), None)
    if engine is not None:
        engine.dispose()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


_factories: dict[tuple[str, bool], sessionmaker] = {}


def _session_factory(url: str, write: bool) -> sessionmaker:
    """One sessionmaker per (URL, write): building them costs more than a query."""
    factory = _factories.get((url, write))
    if factory is None:
        engine = get_engine(url)
        if write and engine.dialect.name == "sqlite":
            engine = engine.execution_options(sqlite_immediate=True)
        factory = sessionmaker(engine, expire_on_commit=False)
        _factories[(url, write)] = factory
    return factory


@contextmanager
def session_scope(
    database_url: str | None = None, *, write: bool = False
) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    ``write=True`` is for transactions that insert readings or change alerts: on
    SQLite it takes the write lock at BEGIN so concurrent writers queue instead of
    failing.
    """
    session = _session_factory(resolve_url(database_url), write)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def connected(
    database_url: str | None = None, conn: Connection | None = None
) -> Iterator[Connection]:
    """``conn`` when the caller holds one (a request, a job), else a fresh one.

    Readers take this so that an edge running several of them checks out one
    pooled connection instead of one per function; a fresh one is closed after.
    """
    if conn is not None:
        yield conn
        return
    with get_engine(database_url).connect() as fresh:
        yield fresh


@contextmanager
def reading_session(
    database_url: str | None = None, conn: Connection | None = None
) -> Iterator[Session]:
    """An ORM session for reads: on ``conn`` when the caller holds one (it joins
    that connection's transaction and never ends it), else :func:`session_scope`."""
    if conn is None:
        with session_scope(database_url) as session:
            yield session
        return
    if not conn.in_transaction():
        conn.begin()  # the session joins it; the connection's owner ends it
    session = Session(bind=conn)
    try:
        yield session
    finally:
        session.close()


def driver_cursor(session: Session):
    """A DB-API cursor inside the session's transaction (one per transaction).

    For the sensor hot path only: a plain ``cursor.execute`` costs a few
    microseconds where a SQLAlchemy statement costs ~50. :func:`as_driver` wraps
    it with ``execute`` for ``%s``-style SQL on either engine.
    """
    cursor = session.info.get(_CURSOR)
    if cursor is None:
        cursor = session.info[_CURSOR] = session.connection().connection.cursor()
    return cursor


_CURSOR = "energy_dash.driver_cursor"


@event.listens_for(Session, "after_transaction_end")
def _forget_cursor(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended
        session.info.pop(_CURSOR, None)


_QMARK: dict[str, str] = {}


def _qmark(sql: str) -> str:
    """``%s`` placeholders as SQLite's ``?``, translated once per statement text."""
    translated = _QMARK.get(sql)
    if translated is None:
        if len(_QMARK) >= 512:  # statements are constants; this only bounds misuse
            _QMARK.clear()
        translated = _QMARK[sql] = sql.replace("%s", "?")
    return translated


class DriverTransaction:
    """A DB-API cursor with ``execute(sql, params)`` for ``%s``-style SQL."""

    def __init__(self, cursor, dialect: str, connection=None) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.connection = connection

    def execute(self, sql: str, params: tuple = ()):
        """Run ``sql`` written with ``%s`` placeholders; returns the cursor."""
        if self.dialect == "sqlite":
            sql = _qmark(sql)
        self.cursor.execute(sql, params)
        return self.cursor

    @contextmanager
    def writing(self) -> Iterator[DriverTransaction]:
        """A write transaction on this connection (SQLite: BEGIN IMMEDIATE)."""
        if self.dialect == "sqlite":
            self.cursor.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise


def as_driver(target: Session | DriverTransaction) -> DriverTransaction:
    """The DB-API side of a session (or a driver transaction as it is)."""
    if isinstance(target, DriverTransaction):
        return target
    return DriverTransaction(driver_cursor(target), target.get_bind().dialect.name)


@contextmanager
def driver_connection(database_url: str | None = None) -> Iterator[DriverTransaction]:
    """One pooled DB-API connection without the ORM (the sensor hot path).

    Reads run at once; ``with conn.writing():`` wraps the writes. Set-up and commit
    cost ~10 µs instead of ~70 µs for a session. Driver errors surface as
    SQLAlchemy's, like everywhere else.
    """
    engine = get_engine(database_url)
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
    try:
        yield DriverTransaction(connection.cursor(), engine.dialect.name, connection)
        connection.commit()  # ends a reader's implicit transaction (PostgreSQL)
    except dbapi_error as exc:
        connection.rollback()
        raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


@contextmanager
def kept_connection(database_url: str | None = None) -> Iterator[DriverTransaction]:
    """:func:`driver_connection` for the busiest single-row path, on SQLite kept.

    SQLite connections are taken out of the pool once (so they carry its
    pragmas) and kept on a per-process stack: under load, with the CPU cache
    cold after every context switch, the pool's check-out and check-in cost about
    a tenth of a single reading, where a pop and an append cost nothing. A SQLite
    connection never goes stale; a kept one is closed after a driver error, when
    the engines are disposed, and is never used across a fork. Other engines use
    the pool as it is (its pre-ping survives a server restart).
    """
    url = resolve_url(database_url)
    engine = get_engine(url)
    if engine.dialect.name != "sqlite":
        with driver_connection(url) as conn:
            yield conn
        return
    stack = _kept.setdefault(url, [])
    entry = _take_kept(url, stack, engine)
    connection = entry[2]
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        yield DriverTransaction(connection.cursor(), "sqlite", connection)
    except dbapi_error as exc:
        _close_kept(entry)
        raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
    except BaseException:
        try:
            if connection.in_transaction:
                connection.rollback()
        except dbapi_error:
            _close_kept(entry)
            raise
        _give_back(url, stack, entry)
        raise
    _give_back(url, stack, entry)


KEPT_PER_URL = 8  # kept SQLite connections per database and process, at most


def _take_kept(url: str, stack: list, engine: Engine) -> tuple:
    pid = os.getpid()
    generation = _generation.get(url, 0)
    while True:
        try:
            entry = stack.pop()  # atomic: no two threads get the same one
        except IndexError:
            break
        if entry[0] == generation and entry[1] == pid:
            return entry
        _close_kept(entry)
    fairy = engine.raw_connection()
    fairy.detach()  # ours from now on: it no longer counts against the pool
    return (generation, pid, fairy.dbapi_connection, fairy)


def _give_back(url: str, stack: list, entry: tuple) -> None:
    if entry[0] == _generation.get(url, 0) and len(stack) < KEPT_PER_URL:
        stack.append(entry)
    else:
        _close_kept(entry)


def _close_stack(url: str) -> None:
    """Close the kept connections of ``url`` not in use; those in use close when
    given back, since its generation moves on."""
    _generation[url] = _generation.get(url, 0) + 1
    for entry in _kept.pop(url, ()):
        _close_kept(entry)


def _close_kept(entry: tuple) -> None:
    if entry[1] != os.getpid():
        return  # the parent's: closing it here could disturb the parent's use
    try:
        entry[2].close()
    except Exception:  # already broken: nothing left to release
        logger.debug("a kept SQLite connection did not close cleanly")


def alembic_config(database_url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", resolve_url(database_url).replace("%", "%%"))
    return cfg


def init_db(database_url: str | None = None) -> None:
    """Create or migrate the schema to the newest Alembic revision."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
