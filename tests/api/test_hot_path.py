"""The ingest hot path: group commit, raw credential lookups, idle-only pool pings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from screening.storage import audit, driver
from screening.storage.db import PING_AFTER_IDLE_S, app_state, make_engine, utcnow
from screening.storage.group_commit import PendingWrite, WriteBatch, WriteInterrupted
from screening.storage.models import AuditEvent, Clinic, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials, bearer


def test_concurrent_submissions_share_commits_and_keep_the_chain(
        make_app: Callable[..., Flask], clinic: TenantCredentials) -> None:
    """Twenty threads post at once: every submission is stored, each with its
    ``submission.create`` event, and the audit chain verifies."""
    app = make_app()
    statuses: list[int] = []

    def post() -> None:
        client = app.test_client()
        response = client.post(SUBMISSIONS, json=example(), headers=clinic.headers("intake"))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [201] * 20
    with session_scope(app, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 20
        created = select(func.count()).where(AuditEvent.action == "submission.create")
        assert session.scalar(created) == 20
        assert audit.verify(session) == []


def test_a_failing_item_fails_alone(app: Flask, clinic: TenantCredentials) -> None:
    """A batch whose one item breaks a constraint is retried item by item: the others are
    committed, the bad one raises."""
    committer = app_state(app).db.committer
    table = Clinic.__table__

    def good(slug: str) -> Callable[[WriteBatch], str]:
        def build(batch: WriteBatch) -> str:
            batch.insert(table, {"id": slug, "slug": slug, "name": slug,  # type: ignore[arg-type]
                                 "ruleset_version": 1, "created_at": utcnow()})
            return slug
        return build

    def duplicate(batch: WriteBatch) -> None:
        batch.insert(table, {"id": "dup", "slug": clinic.slug, "name": "x",  # type: ignore[arg-type]
                             "ruleset_version": 1, "created_at": utcnow()})

    items = [PendingWrite(good("ok-one")), PendingWrite(duplicate), PendingWrite(good("ok-two"))]
    committer.commit_batch(items)
    assert [item.done for item in items] == [True, True, True]
    assert [item.result for item in items] == ["ok-one", None, "ok-two"]
    assert isinstance(items[1].error, IntegrityError)
    with session_scope(app, write=False) as session:
        slugs = set(session.scalars(select(Clinic.slug)))
    assert {"ok-one", "ok-two"} <= slugs


def test_a_batch_failing_for_no_one_items_fault_fails_whole_and_is_not_retried(
        app: Flask) -> None:
    """An error that is not a broken constraint or a bad value (here a statement the
    database refuses outright) may leave the outcome unknown: every item fails, none is
    retried alone (which could write it twice)."""
    committer = app_state(app).db.committer
    table = Clinic.__table__
    built: list[str] = []

    def good(batch: WriteBatch) -> None:
        built.append("good")
        batch.insert(table, {"id": "kept-out", "slug": "kept-out", "name": "x",  # type: ignore[arg-type]
                             "ruleset_version": 1, "created_at": utcnow()})

    def broken(batch: WriteBatch) -> None:
        batch.execute(text("SELECT * FROM no_such_table"))

    items = [PendingWrite(good), PendingWrite(broken)]
    committer.commit_batch(items)
    assert all(item.done and isinstance(item.error, DBAPIError) for item in items)
    assert built == ["good"]
    with session_scope(app, write=False) as session:
        assert session.get(Clinic, "kept-out") is None


def test_an_interrupted_batch_fails_its_items_and_frees_the_committer(app: Flask) -> None:
    """A batch interrupted while it is built (a signal stopping the server): nothing of
    it is written, each waiting request raises ``WriteInterrupted``, the next commits."""
    committer = app_state(app).db.committer
    table = Clinic.__table__

    def interrupted(batch: WriteBatch) -> None:
        raise KeyboardInterrupt

    waiting = PendingWrite(lambda batch: batch.insert(table, {  # type: ignore[arg-type]
        "id": "never", "slug": "never", "name": "x", "ruleset_version": 1,
        "created_at": utcnow()}))
    with pytest.raises(KeyboardInterrupt):
        committer.commit_batch([waiting, PendingWrite(interrupted)])
    with pytest.raises(WriteInterrupted):
        waiting.outcome()
    with pytest.raises(KeyboardInterrupt):
        committer.submit(interrupted)
    assert committer.submit(lambda batch: "written") == "written"
    with session_scope(app, write=False) as session:
        assert session.get(Clinic, "never") is None


def test_a_request_whose_commit_fails_before_taking_its_item_is_never_written_later(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit fails before any transaction can begin: its request fails, and its
    item does not linger to be committed with the next one."""
    committer = app_state(app).db.committer
    table = Clinic.__table__
    row = {"id": "late", "slug": "late", "name": "late", "ruleset_version": 1,
           "created_at": utcnow()}

    @contextmanager
    def unreachable(engine: object) -> Iterator[None]:
        raise OSError("database unreachable")
        yield

    monkeypatch.setattr(driver, "transaction", unreachable)
    with pytest.raises(OSError):
        committer.submit(lambda batch: batch.insert(table, row))  # type: ignore[arg-type]
    monkeypatch.undo()
    assert committer.submit(lambda batch: "next") == "next"
    with session_scope(app, write=False) as session:
        assert session.get(Clinic, "late") is None


def test_unknown_and_wrong_secret_credentials_are_refused_on_ingest(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    """The raw lookups keep the credential checks: unknown id and wrong secret are 401."""
    token = clinic.intake_key
    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    unknown_id = token[:3] + "0" * 12 + token[15:]
    for bad in (wrong_secret, unknown_id):
        response = client.post(SUBMISSIONS, json=example(), headers=bearer(bad))
        assert response.status_code == 401


def test_an_idle_dead_postgres_connection_is_replaced(app: Flask) -> None:
    """A pooled connection idle past PING_AFTER_IDLE_S is pinged at checkout; one whose
    server process is gone is replaced instead of failing the request."""
    database = app_state(app).db
    if database.read_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL pooling")
    with database.read_engine.connect() as connection:
        victim = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        record = connection.connection._connection_record
        assert record is not None
    record.info["idle_since"] -= PING_AFTER_IDLE_S + 1
    outsider = make_engine(database.url)  # not the app's pool, which holds the victim
    try:
        with outsider.begin() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({victim})")
    finally:
        outsider.dispose()
    with database.read_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != victim
