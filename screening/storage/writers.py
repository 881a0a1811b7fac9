"""The SQLite writers' queue: every write transaction takes it before ``BEGIN IMMEDIATE``.

SQLite lets one writer at a time in. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps and retries with growing sleeps (up to 100 ms each):
while the group commits of two worker processes hand the lock to each other, a
clinician's claim or decision (an ORM write transaction) could wait 300-450 ms for a gap
(``bench/mixed.py``). So every writer of the service, the group committer and the write
sessions of requests, commands and worker jobs alike, first takes an exclusive ``flock``
on ``<database>.writers``: waiting writers sleep in the kernel and the next one wakes the
moment the lock is free.

A batch (the group committer's commit of many requests' rows) lets writers that are
already waiting go first: a single write transaction (a clinician's claim or decision, a
worker job) announces itself with a shared ``flock`` on ``<database>.writers-first``
while it waits, and a batch takes that file exclusively, i.e. waits until nobody is
announced, before it queues. A claim then waits for at most the transaction in progress,
not also for the batches of every worker process (``bench/mixed.py``: the clinicians' p99
under full ingest 50-58 ms before, 43-49 ms after, in alternating runs). The batch loses
nothing by it: requests arriving meanwhile join it. The serving loop's batches first
``attempt`` the locks; when either is taken, a thread of the loop waits for them as a
single writer does (``take_for``) while the loop goes on serving.

Each acquisition opens its own file description, so threads of one process queue on the
lock as processes do. A thread that already holds it (a write transaction begun inside
another) does not take it again: SQLite's own lock decides then, as without the queue. A
process that dies holding it releases it (the kernel closes its files).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

_HELD = "writers_lock"  # key of an acquisition in a pooled connection's ``info``


class WritersLock:
    """The writers' queue of one SQLite database file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.waiting_path = f"{path}-first"
        self._holders: set[int] = set()  # idents of the threads holding it
        self._taken_for: dict[int, Future[Held]] = {}  # being taken for another thread
        self._guard = threading.Lock()

    def acquire(self, batch: bool = False) -> Held | None:
        """Waits for the lock; returns the acquisition to release, or None when this
        thread already holds it, or has it taken on its behalf (``take_for``): then it
        waits for that, and holds it as that acquisition does. A ``batch`` first lets the
        writers waiting now go."""
        owner = threading.get_ident()
        with self._guard:
            if owner in self._holders:
                return None
            taking = self._taken_for.get(owner)
        if taking is not None:
            taking.result()
            return None
        descriptor = self._wait_for_lock(batch)
        with self._guard:
            self._holders.add(owner)
        return Held(self, descriptor, owner)

    def take_for(self, owner: int) -> Future[Held]:
        """Starts taking the lock on behalf of the thread ``owner`` (the serving loop);
        the caller then calls ``wait_taken(owner)`` on a thread of its own. Until the
        lock is taken, ``owner``'s own ``acquire`` waits for this acquisition instead of
        queueing behind it (which would wait for itself); once taken, ``owner`` holds it
        until the acquisition is released."""
        future: Future[Held] = Future()
        with self._guard:
            self._taken_for[owner] = future
        return future

    def wait_taken(self, owner: int) -> None:
        """Waits, on the calling thread, for the lock ``take_for(owner)`` started taking,
        as a single writer waits (announced)."""
        with self._guard:
            future = self._taken_for[owner]
        try:
            descriptor = self._wait_for_lock(batch=False)
        except BaseException as error:
            with self._guard:
                self._taken_for.pop(owner, None)
            future.set_exception(error)
            raise
        held = Held(self, descriptor, owner)
        with self._guard:
            self._taken_for.pop(owner, None)
            self._holders.add(owner)
        future.set_result(held)

    def _wait_for_lock(self, batch: bool) -> int:
        """Takes the lock (a ``flock``), announced as a waiting single writer unless
        ``batch``; the descriptor that holds it."""
        waiting = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if batch:
                fcntl.flock(waiting, fcntl.LOCK_EX)  # until no single writer is waiting
                fcntl.flock(waiting, fcntl.LOCK_UN)
            else:
                fcntl.flock(waiting, fcntl.LOCK_SH)  # "I am waiting", until it holds
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:
                os.close(descriptor)
                raise
        finally:
            os.close(waiting)
        return descriptor

    def attempt(self, batch: bool = False) -> Held | None:
        """The lock if it can be had now (for a ``batch``: and no single writer is waiting
        for it), else None; never waits. Not for a thread that holds it already."""
        owner = threading.get_ident()
        waiting = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(waiting, (fcntl.LOCK_EX if batch else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(descriptor)
                raise
        except BlockingIOError:
            return None
        finally:
            os.close(waiting)
        with self._guard:
            self._holders.add(owner)
        return Held(self, descriptor, owner)

    @contextmanager
    def held(self, batch: bool = False) -> Iterator[None]:
        """The lock for the length of the block (see ``acquire``)."""
        acquisition = self.acquire(batch)
        try:
            yield
        finally:
            if acquisition is not None:
                acquisition.release()


class Held:
    """One acquisition of a ``WritersLock``."""

    __slots__ = ("_lock", "_descriptor", "_owner")

    def __init__(self, lock: WritersLock, descriptor: int, owner: int) -> None:
        self._lock, self._descriptor, self._owner = lock, descriptor, owner

    def release(self) -> None:
        """Gives the lock to the next writer (closing the file releases the flock)."""
        if self._descriptor < 0:
            return
        with self._lock._guard:
            self._lock._holders.discard(self._owner)
        os.close(self._descriptor)
        self._descriptor = -1


def writers_lock(url: str) -> WritersLock | None:
    """The writers' queue of the SQLite file at ``url``; None for PostgreSQL (whose
    writers take no lock in common) and for an in-memory SQLite database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database \
            or parsed.database == ":memory:":
        return None
    return WritersLock(f"{parsed.database}.writers")


def hold_for_transaction(connection: Any, lock: WritersLock) -> None:
    """Takes ``lock`` for the transaction ``connection`` is beginning (called before its
    ``BEGIN IMMEDIATE``); it is given back when the connection returns to the pool."""
    acquisition = lock.acquire()
    if acquisition is not None:
        connection.info[_HELD] = acquisition


def give_back_at_checkin(engine: Engine) -> None:
    """Releases a connection's lock when it returns to the pool (or is closed): after its
    COMMIT or ROLLBACK has completed. SQLAlchemy's ``commit`` event comes before the
    COMMIT, too early to let the next writer in."""

    def give_back(_dbapi_connection: Any, record: Any) -> None:
        acquisition = record.info.pop(_HELD, None)
        if acquisition is not None:
            acquisition.release()

    event.listen(engine, "checkin", give_back)
    event.listen(engine, "close", give_back)
