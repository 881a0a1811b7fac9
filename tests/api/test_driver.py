"""Driver-level statements (``screening.storage.driver``) write what the ORM would, on each
engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from screening.storage import driver
from screening.storage.db import app_state
from screening.storage.models import Clinic, IdempotencyRecord, Submission, new_id
from screening.storage.unit_of_work import session_scope
from tests.api.conftest import TenantCredentials

RECEIVED = dt.datetime(2026, 2, 28, 23, 59, 59, 123456, tzinfo=dt.UTC)


def _submission_row(clinic_id: str) -> dict[str, object]:
    return {
        "id": new_id(), "clinic_id": clinic_id, "questionnaire_id": "ketamine-intake",
        "questionnaire_version": "1", "respondent": {"given_name": "Ä", "nested": [1, None]},
        "answers": {"phq9": {"q1": 3}}, "evaluation": {"score": 27, "flags": []},
        "ruleset_version": "test", "status": "pending_review", "priority": "routine",
        "priority_rank": 3, "received_at": RECEIVED, "version": 1, "claimed_by": None,
        "claim_expires_at": None, "decided_at": None, "idempotency_key": None,
    }


def test_a_row_written_by_the_driver_reads_back_through_the_orm(
        app: Flask, clinic: TenantCredentials) -> None:
    """JSON documents and UTC times go through the ORM's own bind processors."""
    row = _submission_row(clinic.clinic_id)
    with driver.transaction(app_state(app).db.write_engine) as transaction:
        transaction.insert_many(Submission.__table__, [row])  # type: ignore[arg-type]
    with session_scope(app, write=False) as session:
        stored = session.get(Submission, row["id"])
        assert stored is not None
        for name, value in row.items():
            assert getattr(stored, name) == value, name
        assert stored.received_at.tzinfo is not None


def test_values_bound_in_the_statement_itself_are_kept(
        app: Flask, clinic: TenantCredentials) -> None:
    """``.values(status="completed")`` needs no parameter from the caller."""
    table = IdempotencyRecord.__table__
    record_id = new_id()
    now = dt.datetime.now(dt.UTC)
    engine = app_state(app).db.write_engine
    with driver.transaction(engine) as transaction:
        transaction.insert_many(table, [{  # type: ignore[arg-type]
            "id": record_id, "clinic_id": clinic.clinic_id, "key": "k", "fingerprint": "f",
            "status": "in_flight", "response_status": None, "response_body": None,
            "submission_id": None, "created_at": now, "expires_at": now}])
    complete = (table.update().where(table.c.id == bindparam("record_id"))
                .values(status="completed", response_status=201,
                        response_body=bindparam("body")))
    with driver.transaction(engine) as transaction:
        transaction.execute(complete, {"record_id": record_id, "body": {"id": "x"}})
    with session_scope(app, write=False) as session:
        record = session.get(IdempotencyRecord, record_id)
        assert record is not None
        assert (record.status, record.response_status, record.response_body) == (
            "completed", 201, {"id": "x"})


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()],
                         ids=["sqlite", "postgresql"])
def test_binding_orders_values_applies_processors_and_fills_statement_values(
        dialect: Any) -> None:
    table = IdempotencyRecord.__table__
    moment = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    statement = (table.update().where(table.c.id == bindparam("record_id"))
                 .values(status="completed", expires_at=bindparam("until")))
    compiled = driver.compile_statement(statement, dialect)
    bound = compiled.bind({"until": moment, "record_id": "r1"})
    expected = {"status": "completed", "until": moment, "record_id": "r1"}
    processors = {name: compiled.processors.get(name, lambda value: value)
                  for name in compiled.names}
    by_name = (dict(zip(compiled.names, bound, strict=True)) if compiled.positional
               else bound)
    assert by_name == {name: processors[name](expected[name]) for name in compiled.names}
    assert any(name in compiled.defaults for name in compiled.names)
    with pytest.raises(KeyError):
        compiled.bind({"until": moment})  # a parameter the caller must give is missing
    single = driver.compile_statement(
        table.delete().where(table.c.id == bindparam("record_id")), dialect)
    assert list(single.bind({"record_id": "r1"}).values() if not single.positional
                else single.bind({"record_id": "r1"})) == ["r1"]


def test_a_broken_constraint_raises_integrity_error_and_writes_nothing(
        app: Flask, clinic: TenantCredentials) -> None:
    """The driver's error comes as SQLAlchemy's, and the transaction is rolled back."""
    table = Clinic.__table__
    fresh = {"id": new_id(), "slug": "fresh-clinic", "name": "x", "ruleset_version": 1,
             "created_at": RECEIVED}
    duplicate = {"id": new_id(), "slug": clinic.slug, "name": "x", "ruleset_version": 1,
                 "created_at": RECEIVED}
    with pytest.raises(IntegrityError) as raised:
        with driver.transaction(app_state(app).db.write_engine) as transaction:
            transaction.insert_many(table, [fresh])  # type: ignore[arg-type]
            transaction.insert_many(table, [duplicate])  # type: ignore[arg-type]
    assert raised.value.hide_parameters and raised.value.params is None
    with session_scope(app, write=False) as session:
        assert session.scalar(select(Clinic.id).where(Clinic.slug == "fresh-clinic")) is None


def test_fetch_one_reads_outside_any_transaction(app: Flask, clinic: TenantCredentials) -> None:
    engine = app_state(app).db.read_engine
    statement = select(Clinic.slug).where(Clinic.id == bindparam("clinic_id"))
    assert driver.fetch_one(engine, statement, {"clinic_id": clinic.clinic_id}) == (
        clinic.slug,)
    assert driver.fetch_one(engine, statement, {"clinic_id": "none"}) is None


def test_a_statement_that_needs_sqlalchemys_execution_is_refused(app: Flask) -> None:
    """An insert leaving out columns with Python-side defaults would store NULLs."""
    dialect = app_state(app).db.write_engine.dialect
    with pytest.raises(ValueError, match="defaults or expanding"):
        driver.insert_statement(Clinic.__table__, dialect, ("slug", "name"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="defaults or expanding"):
        driver.compile_statement(select(Clinic.id).where(Clinic.slug.in_(["a", "b"])), dialect)


def test_none_in_a_json_column_is_stored_as_the_orm_stores_it(
        app: Flask, clinic: TenantCredentials) -> None:
    """JSON null, not SQL NULL, exactly like a row the ORM writes."""
    now = dt.datetime.now(dt.UTC)
    fields = {"clinic_id": clinic.clinic_id, "fingerprint": "f", "status": "in_flight",
              "response_status": None, "response_body": None, "submission_id": None,
              "created_at": now, "expires_at": now}
    with driver.transaction(app_state(app).db.write_engine) as transaction:
        transaction.insert_many(IdempotencyRecord.__table__,  # type: ignore[arg-type]
                                [{"id": "by-driver", "key": "a", **fields}])
    with session_scope(app) as session:
        session.add(IdempotencyRecord(id="by-orm", key="b", **fields))
    table = IdempotencyRecord.__table__
    stored = select(table.c.response_body.is_(None)).where(table.c.id == bindparam("id"))
    engine = app_state(app).db.read_engine
    assert driver.fetch_one(engine, stored, {"id": "by-driver"}) == driver.fetch_one(
        engine, stored, {"id": "by-orm"})


@pytest.mark.parametrize("count", [1, 13, 70])
def test_every_row_of_a_large_insert_is_written_once_in_chunks(
        app: Flask, clinic: TenantCredentials, count: int) -> None:
    """On PostgreSQL rows go in multi-row INSERTs of 64, 32 ... 1 rows (70 = 64 + 4 + 2):
    each row lands once, with its own values, whatever the chunks."""
    rows = [{**_submission_row(clinic.clinic_id), "priority_rank": index % 4,
             "answers": {"row": index}} for index in range(count)]
    with driver.transaction(app_state(app).db.write_engine) as transaction:
        transaction.insert_many(Submission.__table__, rows)  # type: ignore[arg-type]
    with session_scope(app, write=False) as session:
        stored = {s.id: (s.priority_rank, s.answers) for s in session.scalars(select(Submission))}
    assert stored == {row["id"]: (row["priority_rank"], row["answers"]) for row in rows}


def test_a_broken_row_in_a_later_chunk_writes_none_of_the_rows(
        app: Flask, clinic: TenantCredentials) -> None:
    rows = [_submission_row(clinic.clinic_id) for _ in range(9)]
    rows[8]["id"] = rows[0]["id"]  # the ninth row (a chunk of its own) repeats the first
    with pytest.raises(IntegrityError):
        with driver.transaction(app_state(app).db.write_engine) as transaction:
            transaction.insert_many(Submission.__table__, rows)  # type: ignore[arg-type]
    with session_scope(app, write=False) as session:
        assert session.scalars(select(Submission.id)).all() == []


def test_a_multi_row_insert_repeats_the_row_and_drops_returning() -> None:
    sql = ("INSERT INTO t (a, b) VALUES (%(a)s::VARCHAR, lower(%(b)s)) "
           "RETURNING t.seq")
    many = driver.multi_row_insert(sql, 3)
    assert many.sql == ("INSERT INTO t (a, b) VALUES ($1::VARCHAR, lower($2)), "
                        "($3::VARCHAR, lower($4)), ($5::VARCHAR, lower($6))")
    assert many.row_values({"b": 2, "a": 1}) == [1, 2]
    # pyformat's escaped percent sign is the SQL's own once the query is raw
    assert driver.multi_row_insert("INSERT INTO t (a) VALUES (%(a)s || '%%')", 2).sql == (
        "INSERT INTO t (a) VALUES ($1 || '%'), ($2 || '%')")
    with pytest.raises(ValueError, match="one-row INSERT"):
        driver.multi_row_insert("UPDATE t SET a = %(a)s", 2)


def test_a_connection_lost_in_a_driver_transaction_is_reported_invalidated(
        app: Flask, clinic: TenantCredentials) -> None:
    """PostgreSQL: the server ends the transaction's backend; the error says the
    connection was lost (``connection_invalidated``), as SQLAlchemy's own execution
    does, and the pool hands out a working connection next."""
    engine = app_state(app).db.write_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("a backend the server ends: PostgreSQL")
    with pytest.raises(DBAPIError) as raised:
        with driver.transaction(engine) as transaction:
            pid = transaction.execute(select(func.pg_backend_pid())).fetchone()[0]
            with engine.connect() as other:
                other.execute(select(func.pg_terminate_backend(pid)))
            transaction.insert_many(Submission.__table__,  # type: ignore[arg-type]
                                    [_submission_row(clinic.clinic_id)])
    assert raised.value.connection_invalidated
    assert driver.fetch_one(engine, select(func.count()).select_from(Submission), {}) == (0,)
