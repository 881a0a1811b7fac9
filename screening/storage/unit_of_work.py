"""The unit of work: one per request, command or job; the one write path of the service.

A ``UnitOfWork`` owns the transaction. Services receive it (or a session from it) and
never commit; one place commits: the view at the request's boundary, the command, the
job. Everything a unit writes is committed together or not at all.

It writes two ways, chosen at commit, behind the one ``commit()``:

- ORM work (claim, decide, accounts, rulesets ...) runs in its write ``session`` (on
  SQLite a ``BEGIN IMMEDIATE`` transaction); the rows queued with ``insert``/``execute``
  and the audit events are written into that transaction when it commits.
- A unit that only queued rows (an ingested submission), or on SQLite read and queued
  rows (the audit event of a read), is committed by the database's group committer
  (``screening.storage.group_commit``): under the serving loop, the units of the requests
  a worker serves together share one transaction and its fsync. On PostgreSQL a unit that
  read commits its rows in its own open transaction: a clinician's read does not wait for
  the next batch of submissions.

``audit(...)`` is the one audit appender: it queues an unsealed event (the sealer chains
it later, ``screening.storage.audit``) that commits with the unit's other writes.

Inside a request, ``current()`` is the request's unit, created on first use and closed at
teardown (rolled back if the request failed); ``get_session()`` is its session. Outside
one (CLI, jobs, tests), ``unit_of_work(database)`` is a block that commits on success.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g, has_app_context
from sqlalchemy import Executable, Table, event
from sqlalchemy.orm import Session

from screening.storage.db import Database, app_state, utcnow
from screening.storage.group_commit import WriteBatch
from screening.storage.models import AuditEvent

_AUDIT_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_OWNER = "unit_of_work"


class UnitOfWork:
    """One transaction's worth of work on ``database`` (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._read: Session | None = None
        self._write: Session | None = None
        self._inserts: list[tuple[Table, dict[str, Any]]] = []
        self._statements: list[tuple[Executable, dict[str, Any] | None]] = []

    def session(self, write: bool = False) -> Session:
        """The unit's session; ``write=True`` for one that may write (``BEGIN IMMEDIATE``
        on SQLite). Once a write session exists, reads use it too, so they see its
        changes."""
        if self._write is not None:
            return self._write
        db = self.database
        if write:
            if self._read is not None and db.read_sessions is db.write_sessions:
                # PostgreSQL: one factory, so the open read session serves writes too.
                self._write, self._read = self._read, None
            else:
                self._write = self._own(db.write_sessions())
            return self._write
        if self._read is None:
            self._read = self._own(db.read_sessions())
        return self._read

    def _own(self, session: Session) -> Session:
        session.info[_OWNER] = self
        event.listen(session, "before_commit", self._before_session_commit)
        event.listen(session, "after_soft_rollback", self._after_session_rollback)
        return session

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Queues one row for ``table``, written when the unit commits."""
        self._inserts.append((table, row))

    def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> None:
        """Queues a statement, run after the queued inserts when the unit commits."""
        self._statements.append((statement, parameters))

    def audit(
        self,
        *,
        clinic_id: str | None,
        actor_type: str,
        actor_id: str | None,
        action: str,
        object_type: str | None = None,
        object_id: str | None = None,
        outcome: str = "success",
        request_id: str | None = None,
    ) -> None:
        """Appends one audit event, unsealed, committed with the unit's other writes."""
        self._inserts.append((_AUDIT_EVENTS, {
            "occurred_at": utcnow(), "clinic_id": clinic_id, "actor_type": actor_type,
            "actor_id": actor_id, "action": action, "object_type": object_type,
            "object_id": object_id, "outcome": outcome, "request_id": request_id,
            "seq": None, "prev_hash": None, "hash": None,
        }))

    def commit(self) -> None:
        """Commits everything the unit did; its session stays usable afterwards."""
        if self._write is not None:
            self._write.commit()  # the before_commit hook writes the queued rows
            return
        db = self.database
        if (self._read is not None and db.read_sessions is db.write_sessions
                and (self._inserts or self._statements)):
            # PostgreSQL: the read's own open transaction takes its rows (the audit event of
            # a clinician's read) and commits at once, instead of waiting behind the group
            # committer's batch of submissions; PostgreSQL shares the WAL flush anyway.
            self._write, self._read = self._read, None
            self._write.commit()
            return
        inserts, statements = self._take_queued()
        if self._read is not None:
            self._read.commit()  # ends the read transaction; a read session writes nothing
        if not (inserts or statements):
            return

        def build(batch: WriteBatch) -> None:
            for table, row in inserts:
                batch.insert(table, row)
            for statement, parameters in statements:
                batch.execute(statement, parameters)

        self.database.committer.submit(build)

    def rollback(self) -> None:
        """Forgets the queued writes and rolls the sessions back."""
        self._inserts, self._statements = [], []
        for session in (self._read, self._write):
            if session is not None:
                session.rollback()

    def close(self, error: BaseException | None = None) -> None:
        """Ends the unit: what was not committed is rolled back (a request that answered
        an error, or a caller that never committed); closes the sessions."""
        if error is not None or self._inserts or self._statements:
            self.rollback()
        for session in (self._read, self._write):
            if session is not None:
                session.close()
        self._read = self._write = None

    def _take_queued(self) -> tuple[list[tuple[Table, dict[str, Any]]],
                                    list[tuple[Executable, dict[str, Any] | None]]]:
        queued = self._inserts, self._statements
        self._inserts, self._statements = [], []
        return queued

    def _before_session_commit(self, session: Session) -> None:
        if not (self._inserts or self._statements):
            return
        if session is not self._write:
            raise RuntimeError("queued writes are committed by UnitOfWork.commit()")
        inserts, statements = self._take_queued()
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for table, row in inserts:
            by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            session.execute(table.insert(), rows)
        for statement, parameters in statements:
            session.execute(statement, parameters)

    def _after_session_rollback(self, session: Session, _previous: Any) -> None:
        # Whoever rolls the write session back undoes the unit's queued writes with it.
        if session is self._write:
            self._inserts, self._statements = [], []


def of(session: Session) -> UnitOfWork:
    """The unit of work that owns ``session``."""
    unit = session.info.get(_OWNER)
    if unit is None:
        raise RuntimeError("this session belongs to no unit of work")
    return unit  # type: ignore[no-any-return]


def current() -> UnitOfWork:
    """The current request's unit of work, created on first use."""
    unit: UnitOfWork | None = g.get("_unit_of_work")
    if unit is None:
        unit = g._unit_of_work = UnitOfWork(app_state().db)
    return unit


def get_session(write: bool = False) -> Session:
    """The current request's session (see ``UnitOfWork.session``)."""
    return current().session(write)


def commit() -> None:
    """Commits the current request's unit of work."""
    current().commit()


def rollback() -> None:
    """Rolls back the current request's unit of work."""
    current().rollback()


def rollback_request() -> None:
    """Rolls back the current request's unit of work (used by the error handlers)."""
    if has_app_context() and (unit := g.get("_unit_of_work")) is not None:
        unit.rollback()


def _close_request_unit(error: BaseException | None) -> None:
    unit: UnitOfWork | None = g.pop("_unit_of_work", None)
    if unit is not None:
        unit.close(error)


@contextmanager
def unit_of_work(database: Database) -> Iterator[UnitOfWork]:
    """A unit outside any request (CLI, jobs, tests): commits when the block ends,
    rolls back if it raises, always closes."""
    unit = UnitOfWork(database)
    try:
        yield unit
        unit.commit()
    except BaseException as error:
        unit.close(error)
        raise
    unit.close()


@contextmanager
def session_scope(app: Flask, *, write: bool = True) -> Iterator[Session]:
    """The session of a ``unit_of_work`` on ``app``'s database."""
    with unit_of_work(app_state(app).db) as unit:
        yield unit.session(write)


def init_app(app: Flask) -> None:
    """Closes each request's unit of work at teardown."""
    # Per request, not only per app context: a test may hold one app context open across
    # many requests, and a unit must never outlive its request.
    app.teardown_request(_close_request_unit)
    app.teardown_appcontext(_close_request_unit)
