"""Queue SQLite writers of the sensor API on a file lock instead of SQLite's busy loop.

With several gunicorn workers on one SQLite file, a writer that finds the database
locked is put to sleep by SQLite's busy handler (1 ms, 2 ms, 5 ms, … between
retries), so under load most of the time goes to sleeping. An exclusive ``flock``
on a side file (``<database>.ingest-lock``) makes the next writer wake the moment
the previous one commits. Writers that do not take it (jobs, the CLI) still meet
SQLite's own locking and busy timeout, so correctness never depends on this file;
it only removes the sleeps. PostgreSQL needs nothing of this and gets a no-op.

The same writers hand WAL checkpoints to a thread (:class:`Checkpointer`): SQLite
runs its automatic checkpoint inside the commit that crosses the threshold, and
that commit then waits for the disk (fsync), about 40 µs per reading on
average, during which a sync worker serves nobody.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

try:  # POSIX only; elsewhere the lock is a no-op
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)
SUFFIX = ".ingest-lock"
CHECKPOINT_DELAY_S = 0.2  # writes of this long share one checkpoint
CHECKPOINT_IDLE_S = 30.0  # the thread ends after this long without a write


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
        self.checkpoints = (
            Checkpointer(self.path.removesuffix(SUFFIX)) if self.path else None
        )
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
                self.checkpoints.wrote()


class Checkpointer:
    """PASSIVE checkpoints of one SQLite file from a thread of this process.

    A checkpoint follows each burst of writes by :data:`CHECKPOINT_DELAY_S`, so
    the WAL stays far below the connections' own threshold
    (``energy_dash.db.engine.WAL_AUTOCHECKPOINT_PAGES``, the backstop) and no
    commit of the sensor API waits for one. PASSIVE never blocks a reader or a
    writer, and durability is unchanged: a commit is in the WAL either way. The
    thread ends when writes stop and starts again with the next one (also in a
    forked worker, which inherits no threads).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.runs = 0
        self._wrote = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def wrote(self) -> None:
        """A write transaction of this process committed (or rolled back)."""
        if self._pid != os.getpid():  # forked: the parent's lock may be held
            self._lock, self._wrote = threading.Lock(), threading.Event()
            self._thread = None
        self._wrote.set()
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="sqlite-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:  # mode=rw: a database removed meanwhile is not created again
            conn = sqlite3.connect(Path(self.path).absolute().as_uri() + "?mode=rw",
                                   uri=True, timeout=1.0, check_same_thread=False)
        except sqlite3.Error:
            with self._lock:
                self._thread = None
            return
        try:
            while True:
                if not self._wrote.wait(CHECKPOINT_IDLE_S):
                    with self._lock:
                        if not self._wrote.is_set():
                            self._thread = None
                            return
                time.sleep(CHECKPOINT_DELAY_S)
                self._wrote.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                except sqlite3.Error as exc:  # the backstop checkpoints instead
                    logger.debug("checkpoint skipped (%s)", type(exc).__name__)
        finally:
            conn.close()
