"""Queue SQLite writers of the sensor API on a file lock instead of SQLite's busy loop.

With several gunicorn workers on one SQLite file, a writer that finds the database
locked is put to sleep by SQLite's busy handler (1 ms, 2 ms, 5 ms, … between
retries), so under load most of the time goes to sleeping. An exclusive ``flock``
on a side file (``<database>.ingest-lock``) makes the next writer wake the moment
the previous one commits. Writers that do not take it (jobs, the CLI) still meet
SQLite's own locking and busy timeout, so correctness never depends on this file;
it only removes the sleeps. PostgreSQL needs nothing of this and gets a no-op.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

try:  # POSIX only; elsewhere the lock is a no-op
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)
SUFFIX = ".ingest-lock"


def lock_path(database_url: str) -> str | None:
    """The side file for a SQLite file database, else None."""
    if fcntl is None:
        return None
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database + SUFFIX


class WriterLock:
    """One writer at a time per SQLite file, across threads and processes."""

    def __init__(self, database_url: str) -> None:
        self.path = lock_path(database_url)
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _descriptor(self) -> int | None:
        # Reopen after a fork: a descriptor inherited from the parent shares its
        # open file description, and flock would not exclude the two processes.
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                logger.warning("ingest write lock unavailable (%s); relying on "
                               "SQLite's busy timeout", type(exc).__name__)
                self.path = None
                return None
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with self._thread_lock:
            fd = self._descriptor()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
