"""Group commit: concurrent writers of one process share a transaction and its fsync.

A durable commit costs one fsync (2-3 ms here), and SQLite serialises writers anyway.
Committing them one by one caps a server at a few hundred writes per second whatever its
CPU. ``GroupCommitter`` lets the requests of a process that arrive while a commit is in
progress wait, then writes all of them in the next transaction (leader/follower: the
first waiting request writes the batch; no extra thread). Each request still answers only
after *its* rows are committed, so durability is unchanged; a batch that one bad item
breaks (a constraint, a value) is retried item by item, so it fails only its own request,
while a batch whose commit may or may not have happened (connection lost) fails every
request in it.

It sits behind ``UnitOfWork.commit`` (``screening.storage.unit_of_work``): a unit that only read
and queued rows (an ingested submission, an audit event) is committed here. An item is a
function of a ``WriteBatch``: it queues rows (``insert``) and statements (``execute``).
The leader first takes the lock every writer of the database needs (see below), and only
then takes the waiting items: requests that arrived while another process held the lock
join this commit. The batch runs the inserts table by table (``executemany``), then the
statements. Statements run on the DBAPI connection (``screening.storage.driver``); on PostgreSQL
the whole transaction goes in one pipelined round trip with the commit.

The lock: on SQLite the writers' queue (``screening.storage.writers``), which every write
transaction takes before ``BEGIN IMMEDIATE``; a batch goes after the single writers
already waiting. The leaders of other worker processes wait in the kernel and wake the
moment it is free, instead of in SQLite's sleep-and-retry busy handler (without it ingest
kept its throughput but its p99 was 3-7 times higher in ``bench/ingest.py``). PostgreSQL
writers take no lock in common: batches of several processes commit side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Executable, Table
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from screening.storage import driver
from screening.storage.writers import WritersLock

T = TypeVar("T")
MAX_BATCH = 64  # bounds one transaction's duration and the writer lock it holds


class WriteInterrupted(RuntimeError):
    """The request that was writing this item's batch was interrupted before it ended."""


class WriteBatch:
    """What the items of one transaction want written (see the module docstring)."""

    def __init__(self) -> None:
        self._inserts: dict[Table, list[dict[str, Any]]] = {}
        self._statements: list[tuple[Executable, dict[str, Any] | None]] = []

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Queues one row for ``table`` (all rows of a table share one ``executemany``)."""
        self._inserts.setdefault(table, []).append(row)

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> None:
        """Queues a statement (with its bound parameters), run after the inserts."""
        self._statements.append((statement, parameters))

    def write(self, transaction: driver.DriverTransaction) -> None:
        """Runs everything queued in ``transaction``."""
        for table, rows in self._inserts.items():
            transaction.insert_many(table, rows)
        for statement, parameters in self._statements:
            transaction.execute(statement, parameters)


@dataclass(slots=True)
class _Item(Generic[T]):
    build: Callable[[WriteBatch], T]
    done: bool = False
    result: Any = None
    error: Exception | None = None


class GroupCommitter:
    """Commits the writes of concurrent callers together (one per engine and process)."""

    def __init__(self, engine: Engine, writers: WritersLock | None = None) -> None:
        self._engine = engine
        self._writers = writers  # SQLite's writers' queue; None on PostgreSQL
        self._condition = threading.Condition()
        self._pending: list[_Item[Any]] = []
        self._writing = False

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
            taken: list[_Item[Any]] = []
            try:
                self._lead(taken)
            except BaseException:
                with self._condition:  # never taken: it must not be written after we fail
                    self._pending = [other for other in self._pending if other is not item]
                raise
            finally:
                with self._condition:
                    for other in taken:  # the leader was interrupted (BaseException)
                        if not other.done:
                            other.error, other.done = WriteInterrupted(), True
                    self._writing = False
                    self._condition.notify_all()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[no-any-return]

    def _take_pending(self, taken: list[_Item[Any]]) -> list[_Item[Any]]:
        """Moves up to ``MAX_BATCH`` waiting items into ``taken`` and returns them."""
        with self._condition:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        taken.extend(batch)
        return batch

    def _lead(self, taken: list[_Item[Any]]) -> None:
        """Writes one batch. The batch is taken only once the SQLite writer lock is held:
        the requests that arrived while another process was committing join this commit
        instead of waiting for the next."""
        writers = self._writers.held(batch=True) if self._writers else nullcontext()
        with writers:
            try:
                self._commit(lambda: self._take_pending(taken))
                return
            except Exception as error:
                if not taken:
                    raise
                if len(taken) == 1 or not _one_item_at_fault(error):
                    for item in taken:
                        item.error, item.done = error, True
                    return
            for item in taken:  # find the bad one: everybody else still succeeds
                try:
                    self._commit(lambda item=item: [item])  # type: ignore[misc]
                except Exception as error:
                    item.error, item.done = error, True

    def _commit(self, take: Callable[[], list[_Item[Any]]]) -> None:
        """One transaction: take the items, write, commit."""
        with driver.transaction(self._engine) as transaction:
            items = take()
            batch = WriteBatch()
            results = [item.build(batch) for item in items]
            batch.write(transaction)
        for item, result in zip(items, results, strict=True):
            item.result, item.done = result, True

def _one_item_at_fault(error: Exception) -> bool:
    """True when ``error`` is one item's fault and the batch was not committed: a broken
    constraint or a bad value, or an error of our own code before the commit. Otherwise
    (connection lost, commit failed) the outcome may be unknown: retrying the items one by
    one could write them twice, so they all fail."""
    if isinstance(error, DBAPIError):
        return isinstance(error, IntegrityError | DataError)
    return True
