"""Group commit: the units of work of concurrent requests share a transaction and its fsync.

A durable commit costs one fsync (2-3 ms here), and SQLite serialises writers anyway.
Committing requests one by one caps a server at a few hundred writes per second whatever
its CPU. The serving loop (``screening.server.loop_worker``) therefore lets the requests
that reach their commit in one turn of the loop wait, then writes all of them in one
transaction and resumes each once the commit is durable. Durability is unchanged: a
request answers only after *its* rows are committed. A batch that one bad item breaks (a
constraint, a value) is retried item by item, so it fails only its own request, while a
batch whose commit may or may not have happened (connection lost) fails every request in
it.

It sits behind ``UnitOfWork.commit`` (``screening.storage.unit_of_work``): a unit that only
read and queued rows (an ingested submission, an audit event) is committed here. An item
is a function of a ``WriteBatch``: it queues rows (``insert``) and statements
(``execute``). A batch runs the inserts table by table (``executemany``), then the
statements, on the DBAPI connection (``screening.storage.driver``); on PostgreSQL the
whole transaction goes in one pipelined round trip with the commit.

Outside the serving loop (the command line, the background worker, tests) nobody batches:
``submit`` commits its item alone at once. Where the loop runs, it installs itself as the
committer's ``batcher``.

On SQLite every batch first takes the writers' queue (``screening.storage.writers``),
letting the single writers already waiting (a clinician's claim, a worker job) go first.
PostgreSQL writers take no lock in common: batches of several processes commit side by
side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Engine, Executable, Table
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from screening.storage import driver
from screening.storage.writers import WritersLock

T = TypeVar("T")
MAX_BATCH = 64  # bounds one transaction's duration and the writer lock it holds


class WriteInterrupted(RuntimeError):
    """The batch this item was waiting in was never written (the server was stopping)."""


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


class PendingWrite(Generic[T]):
    """One caller's item: ``build`` queues its writes; after the commit, ``outcome()``
    is what ``build`` returned, or raises what writing this item raised."""

    __slots__ = ("build", "done", "result", "error")

    def __init__(self, build: Callable[[WriteBatch], T]) -> None:
        self.build = build
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        """The item's result once written; raises its error, or ``WriteInterrupted`` when
        it was never written."""
        if self.error is not None:
            raise self.error
        if not self.done:
            raise WriteInterrupted("the write was not completed")
        return self.result  # type: ignore[no-any-return]


class Batcher(Protocol):
    """Who batches the commits of concurrent requests (the serving loop)."""

    def defer(self, committer: GroupCommitter, item: PendingWrite[Any]) -> bool:
        """Takes ``item`` into the next batch and returns once that batch is committed
        (True), or declines it (False: the caller is not one of the loop's requests)."""
        ...


class GroupCommitter:
    """Commits the writes of one database's units that only queued rows (one per
    database and process); see the module docstring."""

    def __init__(self, engine: Engine, writers: WritersLock | None = None) -> None:
        self._engine = engine
        self._writers = writers  # SQLite's writers' queue; None on PostgreSQL
        self.batcher: Batcher | None = None

    def submit(self, build: Callable[[WriteBatch], T]) -> T:
        """Writes what ``build`` queues and commits it; returns ``build``'s result once the
        commit is durable, or raises what writing this item raised. ``build`` may be called
        more than once (a failed batch is retried item by item): it only queues."""
        item: PendingWrite[T] = PendingWrite(build)
        batcher = self.batcher
        if batcher is None or not batcher.defer(self, item):
            self.commit_batch([item])
        return item.outcome()

    @property
    def writers(self) -> WritersLock | None:
        """SQLite's writers' queue, which a batch must hold (None on PostgreSQL)."""
        return self._writers

    def commit_batch(self, items: Sequence[PendingWrite[Any]]) -> None:
        """Writes ``items`` (at most ``MAX_BATCH``) in one transaction and marks each done
        with its result or error, after waiting for the writers' queue on SQLite."""
        with self._writers.held(batch=True) if self._writers else nullcontext():
            self.write(items)

    def write(self, items: Sequence[PendingWrite[Any]]) -> None:
        """``commit_batch`` for a caller that holds the writers' queue (on SQLite). When
        one item is at fault, the others are written one by one and only that one
        fails."""
        try:
            self._commit(items)
            return
        except Exception as error:
            if len(items) == 1 or not _one_item_at_fault(error):
                for item in items:
                    item.error, item.done = error, True
                return
        for item in items:  # find the bad one: everybody else still succeeds
            try:
                self._commit([item])
            except Exception as error:
                item.error, item.done = error, True

    def _commit(self, items: Sequence[PendingWrite[Any]]) -> None:
        """One transaction: write every item's rows, commit."""
        with driver.transaction(self._engine) as transaction:
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
