"""Migrations are the only way the schema is made: they reach head on an empty database,
match the models exactly, and go down and up again, on the engine of this run."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from screening.storage import audit
from screening.storage.db import Database, alembic_config, make_engine, upgrade
from screening.storage.models import GENESIS_HASH, AuditEvent, Base
from screening.storage.unit_of_work import unit_of_work

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of this run's engine: a new SQLite file, or a throw-away
    PostgreSQL schema (so the shared test schema stays untouched)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"migration_{uuid.uuid4().hex[:8]}"
    admin = make_engine(TEST_DATABASE_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models_then_downgrades_and_upgrades_again(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url)
    assert schema_differences(empty_database_url) == []
    assert set(Base.metadata.tables) <= table_names(empty_database_url)

    command.downgrade(alembic_config(empty_database_url), "base")
    assert table_names(empty_database_url) <= {"alembic_version"}

    upgrade(empty_database_url)
    assert schema_differences(empty_database_url) == []


def test_initial_migration_seeds_the_audit_chain_head(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT id, last_seq, last_hash FROM audit_chain_head"
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, 0, GENESIS_HASH)]


def test_constraints_are_named_by_the_convention() -> None:
    for table in Base.metadata.sorted_tables:
        for constraint in (*table.constraints, *table.indexes):
            assert constraint.name, f"unnamed constraint on {table.name}"


def test_events_chained_before_sealing_existed_stay_valid_and_new_ones_follow(
    empty_database_url: str,
) -> None:
    """0007 keeps the seq and hash of events written by the locked append (0004), and the
    sealer continues their chain."""
    upgrade(empty_database_url, "0004")
    engine = make_engine(empty_database_url)
    prev_hash = GENESIS_HASH
    try:
        with engine.begin() as connection:
            for seq in (1, 2, 3):
                fields = {"seq": seq, "occurred_at": f"2026-11-0{seq}T10:00:00.000000Z",
                          "clinic_id": None, "actor_type": "system", "actor_id": None,
                          "action": "clinic.create", "object_type": None, "object_id": None,
                          "outcome": "success", "request_id": None}
                new_hash = audit.chain_hash(prev_hash, fields)
                connection.execute(
                    text("INSERT INTO audit_events (seq, occurred_at, actor_type, action, "
                         "outcome, prev_hash, hash) VALUES (:seq, :at, 'system', "
                         "'clinic.create', 'success', :prev, :hash)"),
                    {"seq": seq, "at": dt.datetime(2026, 11, seq, 10, tzinfo=dt.UTC),
                     "prev": prev_hash, "hash": new_hash})
                prev_hash = new_hash
            connection.execute(text("UPDATE audit_chain_head SET last_seq = 3, "
                                    "last_hash = :hash"), {"hash": prev_hash})
        upgrade(empty_database_url)
        database = Database.connect(empty_database_url)
        with unit_of_work(database) as uow:
            uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                      action="clinic.create")
        database.dispose()
        with Session(engine) as session, session.begin():
            assert audit.seal_pending(session) == 1
        with Session(engine) as session:
            assert audit.verify(session) == []
            assert [e.seq for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                    ] == [1, 2, 3, 4]
    finally:
        engine.dispose()


def test_rulesets_migration_carries_each_crisis_message_into_settings_version_one(
        empty_database_url: str) -> None:
    upgrade(empty_database_url, "0004")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO clinics (id, slug, name, crisis_message, created_at) VALUES "
                "('c1', 'one', 'One', 'Call the one line.', '2026-11-01 00:00:00'), "
                "('c2', 'two', 'Two', NULL, '2026-11-01 00:00:00')"
            )
        upgrade(empty_database_url)
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT c.slug, c.ruleset_version, v.version, v.settings FROM clinics c "
                "JOIN ruleset_versions v ON v.clinic_id = c.id ORDER BY c.slug"
            ).all()
        settings = [row[3] if isinstance(row[3], dict) else json.loads(row[3]) for row in rows]
        assert [tuple(row[:3]) for row in rows] == [("one", 1, 1), ("two", 1, 1)]
        assert settings == [{"crisis_message": "Call the one line."}, {}]
        command.downgrade(alembic_config(empty_database_url), "0004")
        with engine.connect() as connection:
            messages = connection.exec_driver_sql(
                "SELECT slug, crisis_message FROM clinics ORDER BY slug").all()
        assert [tuple(row) for row in messages] == [("one", "Call the one line."), ("two", None)]
    finally:
        engine.dispose()
