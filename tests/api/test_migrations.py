"""Migrations are the only way the schema is made: they reach head on an empty database,
match the models exactly, and go down and up again, on the engine of this run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from screening.db import alembic_config, make_engine, upgrade
from screening.models import GENESIS_HASH, Base

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
