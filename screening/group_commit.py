"""Group commit: concurrent writers of one process share a transaction and its fsync.

A durable commit costs one fsync (2-3 ms here) and, because every write appends to the
audit chain, writers are serialised on the chain head anyway. Committing them one by one
caps a server at a few hundred writes per second whatever its CPU. ``GroupCommitter``
lets the requests of a process that arrive while a commit is in progress wait, then
writes all of them in the next transaction (leader/follower: the first waiting request
writes the batch; no extra thread). Each request still answers only after *its* rows are
committed, so durability is unchanged; a batch that fails is retried item by item, so one
bad item fails only its own request.

An item is a function of a ``WriteBatch``: it queues rows (``insert``), statements
(``execute``) and audit events (``audit``). The batch runs the inserts table by table
(``executemany``), then the statements, then appends the audit events to the chain, which
it locks last and holds only until the commit.

On SQLite the leader also takes an exclusive ``flock`` on ``<database>.writers`` before
``BEGIN IMMEDIATE``: the leaders of other worker processes then wait in the kernel and
wake the moment the lock is free, instead of in SQLite's sleep-and-retry busy handler.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Executable, Insert, Table
from sqlalchemy.engine import make_url

from screening import audit

T = TypeVar("T")
MAX_BATCH = 64  # bounds one transaction's duration and the head lock it holds


class WriteInterrupted(RuntimeError):
    """The request that was writing this item's batch was interrupted before it ended."""


class WriteBatch:
    """What the items of one transaction want written (see the module docstring)."""

    def __init__(self) -> None:
        self._inserts: dict[Table, list[dict[str, Any]]] = {}
        self._statements: list[tuple[Executable, dict[str, Any] | None]] = []
        self._events: list[dict[str, Any]] = []

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Queues one row for ``table`` (all rows of a table share one ``executemany``)."""
        self._inserts.setdefault(table, []).append(row)

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> None:
        """Queues a statement (with its bound parameters), run after the inserts."""
        self._statements.append((statement, parameters))

    def audit(self, **fields: Any) -> None:
        """Queues one audit event (the keyword arguments of ``audit.record``)."""
        self._events.append(fields)

    def write(self, connection: Connection) -> None:
        """Runs everything queued on ``connection`` (inside the caller's transaction)."""
        for table, rows in self._inserts.items():
            connection.execute(_insert(table), rows)
        for statement, parameters in self._statements:
            connection.execute(statement, parameters)
        if self._events:
            audit.append_events(connection, self._events)


@dataclass(slots=True)
class _Item(Generic[T]):
    build: Callable[[WriteBatch], T]
    done: bool = False
    result: Any = None
    error: Exception | None = None


class GroupCommitter:
    """Commits the writes of concurrent callers together (one per engine and process)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._condition = threading.Condition()
        self._pending: list[_Item[Any]] = []
        self._writing = False
        self._lock_path = _sqlite_lock_path(engine)
        self._lock_fd: int | None = None
        self._pid = os.getpid()

    def submit(self, build: Callable[[WriteBatch], T]) -> T:
        """Writes what ``build`` queues and commits it; returns ``build``'s result once
        the commit is durable, or raises what writing this item raised. ``build`` may be
        called more than once (a failed batch is retried item by item): it only queues."""
        item: _Item[T] = _Item(build)
        with self._condition:
            self._pending.append(item)
        while True:
            with self._condition:
                while self._writing and not item.done:
                    self._condition.wait()
                if item.done:
                    break
                self._writing = True
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                self._write(batch)
            finally:
                with self._condition:
                    for taken in batch:  # the leader was interrupted (BaseException)
                        if not taken.done:
                            taken.error, taken.done = WriteInterrupted(), True
                    self._writing = False
                    self._condition.notify_all()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[no-any-return]

    def _write(self, items: list[_Item[Any]]) -> None:
        try:
            self._commit(items)
            return
        except Exception as error:
            if len(items) == 1:
                items[0].error, items[0].done = error, True
                return
        for item in items:  # find the bad one: everybody else still succeeds
            try:
                self._commit([item])
            except Exception as error:
                item.error, item.done = error, True

    def _commit(self, items: list[_Item[Any]]) -> None:
        batch = WriteBatch()
        results = [item.build(batch) for item in items]
        with self._writer_lock(), self._engine.begin() as connection:
            batch.write(connection)
        for item, result in zip(items, results, strict=True):
            item.result, item.done = result, True

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        if self._lock_path is None:
            yield
            return
        if self._lock_fd is None or self._pid != os.getpid():
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Closes the writer lock file (the committer reopens it if used again)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


@functools.cache
def _insert(table: Table) -> Insert:
    """The (built once) INSERT of ``table``."""
    return table.insert()


def _sqlite_lock_path(engine: Engine) -> str | None:
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return f"{url.database}.writers"
