"""Sessions, time handling and SQLite settings of screening.storage.db."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import DateTime, select, text
from sqlalchemy.dialects import sqlite

from screening.server import worker
from screening.services import accounts
from screening.storage import audit
from screening.storage.db import (
    WAL_AUTOCHECKPOINT_PAGES,
    WAL_SIZE_LIMIT_BYTES,
    UTCDateTime,
    app_state,
)
from screening.storage.models import Clinic
from screening.storage.unit_of_work import get_session, session_scope, unit_of_work


def test_datetimes_come_back_aware_and_in_utc(app: Flask) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=plus_two)
    with session_scope(app) as session:
        clinic = accounts.create_clinic(session, slug="tz", name="Time Zone Clinic")
        clinic.created_at = moment
    with session_scope(app, write=False) as session:
        stored = session.scalars(select(Clinic.created_at)).one()
    assert stored.tzinfo == dt.UTC
    assert stored == moment
    assert stored.hour == 10


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2026, 1, 1), _dialect("sqlite"))


@pytest.mark.parametrize("moment", [
    dt.datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.UTC),  # no microseconds: still written
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(999, 1, 1, tzinfo=dt.UTC),  # a year of three digits: four in the text
])
def test_sqlite_datetime_text_is_the_generic_chains(moment: dt.datetime) -> None:
    dialect = sqlite.dialect()
    fast = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    generic = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and generic is not None
    naive_utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    assert fast(moment) == generic(naive_utc)
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive"):
        fast(naive_utc)


def _dialect(name: str) -> Any:
    return type("Dialect", (), {"name": name})()


def test_one_session_per_request_closed_at_teardown(app: Flask) -> None:
    with app.test_request_context():
        read = get_session()
        assert get_session() is read
        write = get_session(write=True)
        assert get_session(write=True) is write
        # Once a write session exists, reads use it so they see its changes.
        assert get_session() is write
        write.execute(text("SELECT 1"))
        assert write.in_transaction()
    assert not write.in_transaction()


def test_request_session_rolls_back_when_the_request_fails(app: Flask) -> None:
    with pytest.raises(RuntimeError), app.test_request_context():
        session = get_session(write=True)
        session.add(Clinic(slug="never", name="Never Committed"))
        session.flush()
        raise RuntimeError("view failed")
    with session_scope(app, write=False) as check:
        assert check.scalar(select(Clinic).where(Clinic.slug == "never")) is None


def test_session_scope_commits_or_rolls_back(app: Flask) -> None:
    with pytest.raises(RuntimeError), session_scope(app) as session:
        accounts.create_clinic(session, slug="gone", name="Rolled Back")
        raise RuntimeError("job failed")
    with session_scope(app) as session:
        accounts.create_clinic(session, slug="kept", name="Committed")
    with session_scope(app, write=False) as session:
        assert session.scalars(select(Clinic.slug)).all() == ["kept"]


def test_concurrent_appenders_all_commit_and_the_audit_chain_never_forks(app: Flask) -> None:
    """Twelve units of work append an audit event at once (their commits share the
    group committer's transactions); no write fails, and the sealed chain verifies."""
    failures: list[BaseException] = []
    start = threading.Barrier(12)

    def append(n: int) -> None:
        try:
            start.wait()
            with unit_of_work(app_state(app).db) as uow:
                uow.audit(
                    clinic_id=None,
                    actor_type="system",
                    actor_id=None,
                    action="test.concurrent",
                    object_id=str(n),
                )
        except BaseException as error:  # collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with session_scope(app, write=False) as session:
        assert audit.verify(session) == []
        assert audit.count(session) == 12


@pytest.fixture
def sqlite_app(app: Flask) -> Flask:
    if not app_state(app).settings.is_sqlite:
        pytest.skip("SQLite settings")
    return app


def test_sqlite_pragmas(sqlite_app: Flask) -> None:
    with app_state(sqlite_app).db.read_engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout",
                         "wal_autocheckpoint", "journal_size_limit")
        }
    expected = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000,
                "wal_autocheckpoint": WAL_AUTOCHECKPOINT_PAGES,
                "journal_size_limit": WAL_SIZE_LIMIT_BYTES}
    assert pragma == expected


def test_the_worker_copies_the_wal_into_the_database_file(sqlite_app: Flask) -> None:
    """Requests leave the WAL checkpoint to the worker's job: a committed write is in the
    WAL and not yet in the database file itself, and one run of the job copies it there."""
    state = app_state(sqlite_app)
    path = state.db.url.removeprefix("sqlite:///")
    with session_scope(sqlite_app, write=True) as session:
        session.execute(text("CREATE TABLE wal_probe (x INTEGER)"))
        session.execute(text("INSERT INTO wal_probe VALUES (1)"))
    assert _rows_in_database_file(path) is None  # committed, still only in the WAL
    assert worker.wal_checkpoint_job(state) == 0  # upkeep: never counts as work
    assert _rows_in_database_file(path) == 1


def _rows_in_database_file(path: str) -> int | None:
    """The rows of ``wal_probe`` in the database file alone (``immutable=1`` reads no
    WAL); None while the table is not there."""
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return connection.execute("SELECT count(*) FROM wal_probe").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        connection.close()


def _begin_immediate(path: str) -> None:
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def test_foreign_keys_are_enforced(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError

    from screening.storage.models import IntakeKey

    with pytest.raises(IntegrityError), session_scope(app) as session:
        session.add(IntakeKey(public_id="000000000000", clinic_id="missing", secret_hash="0" * 64))
        session.flush()
