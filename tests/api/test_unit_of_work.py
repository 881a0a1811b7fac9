"""The unit of work: one commit for everything a unit did, one audit appender."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from screening.services import accounts
from screening.storage.db import app_state, utcnow
from screening.storage.group_commit import GroupCommitter
from screening.storage.models import AuditEvent, Clinic
from screening.storage.unit_of_work import UnitOfWork, of, session_scope, unit_of_work


def audit_actions(app: Flask) -> list[str]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_an_audit_event_commits_with_the_change_it_describes(app: Flask) -> None:
    with unit_of_work(app_state(app).db) as uow:
        accounts.create_clinic(uow.session(write=True), slug="kept", name="Kept")
    with pytest.raises(RuntimeError), unit_of_work(app_state(app).db) as uow:
        accounts.create_clinic(uow.session(write=True), slug="gone", name="Gone")
        raise RuntimeError("the command failed after auditing")
    with session_scope(app, write=False) as session:
        assert session.scalars(select(Clinic.slug)).all() == ["kept"]
    assert audit_actions(app) == ["clinic.create"]


def committed_through_the_group_committer(work) -> int:  # type: ignore[no-untyped-def]
    """How many times ``work`` went through the group committer."""
    submitted: list[int] = []
    original = GroupCommitter.submit

    def counting(self: GroupCommitter, build):  # type: ignore[no-untyped-def]
        submitted.append(1)
        return original(self, build)

    GroupCommitter.submit = counting  # type: ignore[method-assign]
    try:
        work()
    finally:
        GroupCommitter.submit = original  # type: ignore[method-assign]
    return len(submitted)


def test_a_unit_that_read_commits_its_events_in_its_own_transaction_on_postgresql_only(
        app: Flask) -> None:
    """On SQLite a read's audit event shares the group commit's fsync; on PostgreSQL the
    read's own transaction takes it and commits at once, not behind a batch."""
    database = app_state(app).db

    def read_and_audit() -> None:
        with unit_of_work(database) as uow:
            uow.session().scalar(select(func.count()).select_from(Clinic))
            uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                      action="test.read")

    through_committer = committed_through_the_group_committer(read_and_audit)
    on_sqlite = database.write_engine.dialect.name == "sqlite"
    assert through_committer == (1 if on_sqlite else 0)
    assert audit_actions(app) == ["test.read"]


def test_a_unit_that_only_queued_rows_commits_them_through_the_group_committer(
        app: Flask) -> None:
    database = app_state(app).db

    def only_queue() -> None:
        with unit_of_work(database) as uow:
            uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                      action="test.queued")

    assert committed_through_the_group_committer(only_queue) == 1
    assert audit_actions(app) == ["test.queued"]


def test_rolling_the_write_session_back_drops_the_units_queued_events(app: Flask) -> None:
    with unit_of_work(app_state(app).db) as uow:
        session = uow.session(write=True)
        accounts.create_clinic(session, slug="undone", name="Undone")
        uow.audit(clinic_id=None, actor_type="system", actor_id=None, action="test.undone")
        session.rollback()
        uow.audit(clinic_id=None, actor_type="system", actor_id=None, action="test.kept")
    assert audit_actions(app) == ["test.kept"]
    with session_scope(app, write=False) as session:
        assert session.scalars(select(Clinic.slug)).all() == []


def test_a_queued_row_that_fails_at_commit_undoes_the_units_orm_changes(app: Flask) -> None:
    """The queued rows are written after the ORM's changes were sent: a broken one must
    still undo them all, and leave the pooled connection usable."""
    with pytest.raises(IntegrityError), unit_of_work(app_state(app).db) as uow:
        session = uow.session(write=True)
        accounts.create_clinic(session, slug="undone", name="Undone")
        uow.insert(AuditEvent.__table__, {  # type: ignore[arg-type]
            "occurred_at": utcnow(), "clinic_id": None, "actor_type": None,  # NOT NULL
            "actor_id": None, "action": "test.broken", "object_type": None,
            "object_id": None, "outcome": "success", "request_id": None, "seq": None,
            "prev_hash": None, "hash": None})
    with session_scope(app, write=False) as session:
        assert session.scalars(select(Clinic.slug)).all() == []
    assert audit_actions(app) == []
    with unit_of_work(app_state(app).db) as uow:  # the pool's connection is usable again
        accounts.create_clinic(uow.session(write=True), slug="after", name="After")
    assert audit_actions(app) == ["clinic.create"]


def test_a_direct_commit_of_the_write_session_writes_the_queued_events(app: Flask) -> None:
    with unit_of_work(app_state(app).db) as uow:
        session = uow.session(write=True)
        of(session).audit(clinic_id=None, actor_type="system", actor_id=None,
                          action="test.direct")
        session.commit()
        assert audit_actions(app) == ["test.direct"]


def test_every_session_of_a_unit_knows_its_unit(app: Flask) -> None:
    uow = UnitOfWork(app_state(app).db)
    try:
        assert of(uow.session()) is uow
        assert of(uow.session(write=True)) is uow
    finally:
        uow.close()


def test_concurrent_read_units_each_get_their_event_committed(app: Flask) -> None:
    database = app_state(app).db
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def read_and_audit(number: int) -> None:
        try:
            start.wait()
            with unit_of_work(database) as uow:
                uow.session().scalar(select(func.count()).select_from(Clinic))
                uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                          action="test.read", object_id=str(number))
        except BaseException as error:  # collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=read_and_audit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert audit_actions(app) == ["test.read"] * 8
