"""Statements compiled by SQLAlchemy once, then run straight on a pooled DBAPI connection.

The ingest path runs a handful of small, fixed statements thousands of times a second:
the credential and clinic lookups, the submission insert and the audit chain append.
SQLAlchemy's execution machinery (execution context, events, result set-up) costs several
times what those statements cost the database, and on the group committer's write path it
is paid while the writer lock is held. So each statement is compiled once per dialect by
SQLAlchemy (the SQL, quoting and casts are exactly what the ORM emits) and its parameters go
through the same type processors (UTC times, JSON documents) the ORM applies; only the
execution is the driver's. A driver error is raised as SQLAlchemy raises it
(``IntegrityError`` for a broken constraint and so on), so callers see one error type.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Engine, Executable, Table
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """One statement compiled for one dialect: its SQL and how to bind its parameters."""

    sql: str
    names: tuple[str, ...]  # bind names, in the driver's order when positional
    positional: bool
    defaults: Mapping[str, Any]  # values bound in the statement itself (``.values(x=1)``)
    processors: Mapping[str, _Processor]
    # ``names``' values picked from a mapping in one call, and the positions among them
    # that go through a processor: ``bind`` runs for every row of every write.
    _pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(init=False, repr=False)
    _processed: tuple[tuple[int, _Processor], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = self.names
        pick: Callable[[Mapping[str, Any]], tuple[Any, ...]]
        if len(names) > 1:
            pick = operator.itemgetter(*names)
        else:
            pick = lambda values: tuple(values[name] for name in names)  # noqa: E731
        object.__setattr__(self, "_pick", pick)
        object.__setattr__(self, "_processed", tuple(
            (index, self.processors[name]) for index, name in enumerate(names)
            if name in self.processors))

    def bind(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver parameters for ``values`` (keyed by bind name; a name missing
        there takes the statement's own value)."""
        if self.defaults:
            values = {**self.defaults, **values}
        picked = self._pick(values)
        if self._processed:
            bound = list(picked)
            # None too: a JSON column stores None as JSON null, as the ORM does.
            for index, processor in self._processed:
                bound[index] = processor(bound[index])
            picked = tuple(bound)
        return picked if self.positional else dict(zip(self.names, picked, strict=True))


@functools.lru_cache(maxsize=128)
def compile_statement(statement: Executable, dialect: Dialect,
                      column_keys: tuple[str, ...] | None = None) -> DriverStatement:
    """``statement`` compiled for ``dialect`` (an INSERT for exactly ``column_keys``)."""
    compiled: Any = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None)
    if (compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params
            or compiled.literal_execute_params):
        # Python-side column defaults and expanding IN are applied by SQLAlchemy's
        # execution, which this bypasses: give every column, use plain binds.
        raise ValueError("statement needs SQLAlchemy's execution (defaults or expanding "
                         f"parameters): {str(compiled)[:80]}")
    positional = bool(compiled.positional)
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    names = tuple(compiled.positiontup) if positional else tuple(by_name)
    processors: dict[str, _Processor] = {}
    defaults: dict[str, Any] = {}
    for name, bind in by_name.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
        if not bind.required:
            defaults[name] = bind.effective_value
    return DriverStatement(str(compiled), names, positional, defaults, processors)


def bound_many(dialect: Dialect, statement: Executable, rows: Sequence[Mapping[str, Any]],
               columns: tuple[str, ...] | None = None) -> tuple[str, list[Any]]:
    """``statement`` for ``rows``, as the driver's SQL and one parameter set per row
    (compiled once, values through their types' bind processors), for an
    ``executemany``: SQLAlchemy's per-row parameter machinery costs more than the
    database's own work on such rows."""
    compiled = compile_statement(statement, dialect, columns)
    return compiled.sql, [compiled.bind(row) for row in rows]


def run_many(connection: Connection, statement: Executable,
             rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...] | None = None) -> int:
    """Runs ``statement`` once per row in one ``executemany`` on ``connection`` (in its
    transaction); returns the rows changed in all (both drivers add them up)."""
    if not rows:
        return 0
    return connection.exec_driver_sql(*bound_many(connection.dialect, statement, rows,
                                                  columns)).rowcount


def insert_statement(table: Table, dialect: Dialect, columns: tuple[str, ...]
                     ) -> DriverStatement:
    """The INSERT of ``columns`` into ``table``, compiled for ``dialect``."""
    return compile_statement(_insert(table), dialect, columns)


@functools.cache
def _insert(table: Table) -> Executable:
    return table.insert()


class DriverTransaction:
    """Compiled statements run on one DBAPI cursor, inside the caller's transaction."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self._connection = cursor.connection  # the DBAPI connection
        self._raw: psycopg.RawCursor[Any] | None = None  # PostgreSQL's multi-row INSERTs

    def close(self) -> None:
        """Closes the cursors (the caller's transaction ends)."""
        if self._raw is not None:
            self._raw.close()

    def execute(self, statement: Executable, parameters: Mapping[str, Any] | None = None
                ) -> Any:
        """Runs ``statement`` once; returns the cursor (for ``fetchone``)."""
        compiled = compile_statement(statement, self.dialect)
        bound = compiled.bind(parameters or {})
        with _as_sqlalchemy_errors(compiled.sql, self.dialect, self._connection):
            self.cursor.execute(compiled.sql, bound)
        return self.cursor

    def insert_many(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Inserts ``rows`` into ``table``. Rows with the same columns share statements:
        on SQLite one ``executemany``; on PostgreSQL multi-row ``INSERT``s of 1, 2, 4 ...
        ``MAX_ROWS_PER_INSERT`` rows (``multi_row_insert``)."""
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for columns, group in groups.items():
            compiled = insert_statement(table, self.dialect, columns)
            if self.dialect.name != "postgresql":
                bound = [compiled.bind(row) for row in group]
                with _as_sqlalchemy_errors(compiled.sql, self.dialect, self._connection):
                    self.cursor.executemany(compiled.sql, bound)
                continue
            start = 0
            while start < len(group):
                count = _chunk(len(group) - start)
                many = multi_row_insert(compiled.sql, count)
                values = [value for row in group[start:start + count]
                          for value in many.row_values(compiled.bind(row))]
                with _as_sqlalchemy_errors(many.sql, self.dialect, self._connection):
                    self._raw_cursor().execute(many.sql, values)
                start += count

    def _raw_cursor(self) -> psycopg.RawCursor[Any]:
        """A cursor of the same connection (and transaction) taking PostgreSQL's own
        ``$1`` placeholders: psycopg sends its query text as it is, where it parses a
        ``%s`` query of more than 50 parameters again at every execution (it caches only
        short ones): 8 % of a loaded web worker's samples, and the app's CPU for a
        submission's rows 88-92 against 44-47 us (``bench/pg_insert.py``)."""
        if self._raw is None:
            self._raw = psycopg.RawCursor(self._connection)
        return self._raw


# PostgreSQL runs each row of an ``executemany`` as a statement of its own (bind, executor
# start and end, per row); one ``INSERT ... VALUES (...), (...)`` of eight submissions'
# rows costs the server about 30 % less CPU (``bench/pg_insert.py``: 391 -> 278 us per
# submission). Rows go in chunks of powers of two, so that each table has a few statement
# texts for the driver to prepare, not one per batch size.
MAX_ROWS_PER_INSERT = 64
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _chunk(remaining: int) -> int:
    """The largest power of two up to ``remaining`` and ``MAX_ROWS_PER_INSERT``."""
    return min(1 << (remaining.bit_length() - 1), MAX_ROWS_PER_INSERT)


@dataclass(frozen=True, slots=True)
class MultiRowInsert:
    """An ``INSERT`` of ``count`` rows with numbered placeholders (``$1``, ``$2`` ...,
    row after row), and the order in which each row's bound values fill them."""

    sql: str
    names: tuple[str, ...]  # one row's bind names, in placeholder order

    def row_values(self, bound: Mapping[str, Any]) -> list[Any]:
        """One row's driver values (``DriverStatement.bind``), in placeholder order."""
        return [bound[name] for name in self.names]


@functools.lru_cache(maxsize=256)
def multi_row_insert(sql: str, count: int) -> MultiRowInsert:
    """``sql`` (a one-row ``INSERT ... VALUES (...)`` with named placeholders, as the
    psycopg dialect compiles it) for ``count`` rows, to run on a ``psycopg.RawCursor``.
    What follows the row (a ``RETURNING``) is dropped: nobody reads it."""
    head, separator, rest = sql.partition(" VALUES (")
    if not separator or not _PLACEHOLDER.search(rest):
        raise ValueError(f"not a one-row INSERT with named binds: {sql[:80]}")
    depth = 1
    for end, character in enumerate(rest):  # to the parenthesis that closes the row
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0:
            one_row = rest[:end]
            break
    else:
        raise ValueError(f"the row of this INSERT does not end: {sql[:80]}")
    names = tuple(_PLACEHOLDER.findall(one_row))
    # Between the binds, pyformat's escaped percent sign is a percent sign of the SQL.
    pieces = [piece.replace("%%", "%") for piece in _PLACEHOLDER.split(one_row)[::2]]
    numbers = iter(range(1, count * len(names) + 1))
    rows = ["(" + "".join(piece if index == len(names) else f"{piece}${next(numbers)}"
                          for index, piece in enumerate(pieces)) + ")"
            for _ in range(count)]
    return MultiRowInsert(f"{head.replace('%%', '%')} VALUES {', '.join(rows)}", names)


@contextmanager
def transaction(engine: Engine) -> Iterator[DriverTransaction]:
    """A write transaction on a pooled DBAPI connection: committed when the block ends,
    rolled back if it raises. On SQLite it begins ``BEGIN IMMEDIATE``, as the ORM's
    write sessions do (``screening.storage.db``). On PostgreSQL it runs in psycopg's pipeline
    mode: statements are sent without waiting for each answer, and the client waits only
    where it needs a result (a ``fetchone``) and once at the end for everything else and
    the COMMIT. An error of a pipelined statement may surface at a later statement or at
    the commit (its ``statement`` then names that one); its type is the right one.

    A connection the driver reports as lost is invalidated, not returned to the pool."""
    dialect = engine.dialect
    connection = engine.raw_connection()
    driver_connection: Any = connection.driver_connection
    try:
        cursor = connection.cursor()
        try:
            if dialect.name == "postgresql":
                driver_transaction = DriverTransaction(cursor, dialect)
                try:
                    with _as_sqlalchemy_errors("COMMIT", dialect, driver_connection), \
                            driver_connection.pipeline():
                        yield driver_transaction
                        # Queued, so the pipeline's one closing sync answers it too.
                        cursor.execute("COMMIT")
                finally:
                    driver_transaction.close()  # once the pipeline has its results
            else:
                with _as_sqlalchemy_errors("BEGIN IMMEDIATE", dialect, driver_connection):
                    cursor.execute("BEGIN IMMEDIATE")
                yield DriverTransaction(cursor, dialect)
                with _as_sqlalchemy_errors("COMMIT", dialect, driver_connection):
                    connection.commit()
        except BaseException as error:
            _end_failed(connection, error, dialect)
            raise
        finally:
            cursor.close()
    finally:
        connection.close()


def _end_failed(connection: Any, error: BaseException, dialect: Dialect) -> None:
    """Rolls back after ``error``; a connection that is lost, or cannot roll back, is
    invalidated so the pool opens a new one instead of handing it out again."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        connection.invalidate(error.orig)
        return
    try:
        connection.rollback()
    except Exception as rollback_error:
        connection.invalidate(rollback_error)


def fetch_one(engine: Engine, statement: Executable, parameters: Mapping[str, Any]
              ) -> tuple[Any, ...] | None:
    """The first row of a one-statement read, outside any transaction (on PostgreSQL in
    autocommit: no BEGIN and ROLLBACK round trips), or None.

    Values come as the driver returns them, without column types applied (SQLite times
    stay text): select plain columns, and compare times only with None.
    """
    dialect = engine.dialect
    compiled = compile_statement(statement, dialect)
    bound = compiled.bind(parameters)
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        postgres = dialect.name == "postgresql"
        if postgres:
            driver.autocommit = True  # type: ignore[union-attr]
        cursor = connection.cursor()
        with _as_sqlalchemy_errors(compiled.sql, dialect, driver):
            cursor.execute(compiled.sql, bound)
            row = cursor.fetchone()
        cursor.close()
        if postgres:
            driver.autocommit = False  # type: ignore[union-attr]
    except BaseException as error:
        # The pool must not hand out a connection left in autocommit, or a lost one.
        connection.invalidate(error if isinstance(error, Exception) else None)
        raise
    finally:
        connection.close()
    return tuple(row) if row is not None else None


@contextmanager
def _as_sqlalchemy_errors(sql: str, dialect: Dialect, connection: Any) -> Iterator[None]:
    """Re-raises a DBAPI error as the ``sqlalchemy.exc`` error the ORM would raise
    (without the parameters, which may hold patient data), marked
    ``connection_invalidated`` when the driver reports ``connection`` (the DBAPI
    connection: psycopg's is asked whether it is closed or broken) lost."""
    dbapi = dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as error:
        lost = dialect.is_disconnect(error, connection, None)
        raise DBAPIError.instance(sql, None, error, dbapi.Error, hide_parameters=True,
                                  connection_invalidated=lost, dialect=dialect) from error
