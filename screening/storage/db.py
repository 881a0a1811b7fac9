"""Database plumbing: declarative ``Base``, engines, session factories, SQLite pragmas.

Requests, commands and jobs use the database through a unit of work
(``screening.storage.unit_of_work``), which owns the transaction.

SQLite gets two engines on the same file: reads begin a deferred transaction, writes begin
``BEGIN IMMEDIATE`` so concurrent writers wait for the lock instead of failing with
"database is locked" half-way through; they wait in the writers' queue
(``screening.storage.writers``), not in SQLite's sleep-and-retry busy handler.
PostgreSQL uses one pooled engine for both.

``Database.committer`` (``screening.storage.group_commit``) commits the units that only queued
rows: under the serving loop, the units a worker serves together share one transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, current_app
from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    Executable,
    MetaData,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from screening.config.settings import Settings
from screening.storage import driver
from screening.storage.group_commit import GroupCommitter
from screening.storage.writers import (
    WritersLock,
    give_back_at_checkin,
    hold_for_transaction,
    writers_lock,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
PG_CONNECT_TIMEOUT_S = 5  # readiness checks must answer, not hang on a dead host
PING_AFTER_IDLE_S = 10.0
# SQLite's WAL is copied back into the database file by the worker (``checkpoint_wal``,
# about once a second), not by the committing request: a checkpoint on the commit path
# stalls every writer queued behind it, and copying once a second writes a page changed
# by hundreds of commits once instead of every few dozen commits (``bench/ingest.py``).
# A connection still checkpoints by itself when the WAL passes this many pages (64 MiB
# of 4 KiB pages): a server run without a worker keeps a bounded WAL.
WAL_AUTOCHECKPOINT_PAGES = 16384
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024  # the WAL file is cut back to this after a reset


class Base(DeclarativeBase):
    """Declarative base; constraint names follow ``NAMING_CONVENTION`` so Alembic can
    alter and drop them on every engine."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC and always returns aware UTC datetimes (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # On SQLite the value goes as the text SQLAlchemy's DATETIME would store, made in
        # one step: every write binds several times, and the generic chain
        # (``process_bind_param``, then DATETIME's %-format) costs more than twice this.
        if dialect.name == "sqlite":
            return _sqlite_utc_text
        return super().bind_processor(dialect)


def _sqlite_utc_text(value: dt.datetime | None) -> str | None:
    """``value`` in UTC as SQLite's DATETIME text ("YYYY-MM-DD HH:MM:SS.ffffff")."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (several times faster than ``json``); the
    audit chain's canonical JSON is not, it keeps its own fixed encoding."""
    return orjson.dumps(value).decode()


def make_engine(url: str, *, immediate: bool = False, foreign_keys: bool = True,
                writers: WritersLock | None = None) -> Engine:
    """An engine for ``url``. On SQLite, ``immediate`` makes every transaction begin with
    ``BEGIN IMMEDIATE``, after taking ``writers`` (the writers' queue) when given;
    ``foreign_keys`` is switched off only for migrations."""
    if not url.startswith("sqlite"):
        engine = create_engine(
            url,
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        )
        _ping_idle_connections(engine)
        return engine
    engine = create_engine(url, json_serializer=json_dumps, json_deserializer=orjson.loads,
                           connect_args={"check_same_thread": False})
    _configure_sqlite(engine, immediate=immediate, foreign_keys=foreign_keys, writers=writers)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections idle ``PING_AFTER_IDLE_S`` or more: a
    ping is a round trip, and a connection returned moments ago is alive. A dead one is
    replaced before use (``DisconnectionError`` makes the pool reconnect)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("connection found dead after idling") from error


def _configure_sqlite(engine: Engine, *, immediate: bool, foreign_keys: bool,
                      writers: WritersLock | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module; the "begin" hook below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if writers is not None:
            hold_for_transaction(connection, writers)
        connection.exec_driver_sql(begin)

    if writers is not None:
        give_back_at_checkin(engine)


@dataclass(slots=True)
class Database:
    """The engines and session factories of one application."""

    url: str
    read_engine: Engine
    write_engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    committer: GroupCommitter
    writers: WritersLock | None  # SQLite's writers' queue (``screening.storage.writers``)

    @classmethod
    def connect(cls, url: str) -> Database:
        """Builds engines for ``url`` (nothing is opened until first use)."""
        writers = writers_lock(url)
        write_engine = make_engine(url, immediate=True, writers=writers)
        read_engine = make_engine(url) if url.startswith("sqlite") else write_engine
        write_sessions = sessionmaker(write_engine, expire_on_commit=False)
        read_sessions = (
            sessionmaker(read_engine, expire_on_commit=False)
            if read_engine is not write_engine
            else write_sessions
        )
        return cls(url, read_engine, write_engine, read_sessions, write_sessions,
                   GroupCommitter(write_engine, writers), writers)

    def fetch_one(self, statement: Executable, parameters: Mapping[str, Any]
                  ) -> tuple[Any, ...] | None:
        """``driver.fetch_one`` on the read engine: the per-request credential lookup."""
        return driver.fetch_one(self.read_engine, statement, parameters)

    def dispose(self) -> None:
        """Closes every pooled connection."""
        self.write_engine.dispose()
        self.read_engine.dispose()

    def checkpoint_wal(self) -> tuple[int, int]:
        """SQLite: copies the WAL's committed pages back into the database file
        (``PRAGMA wal_checkpoint(PASSIVE)``: it waits for no reader or writer, and what
        it cannot copy yet is copied next time); the WAL's frames and how many of them
        are now in the database. (0, 0) on PostgreSQL."""
        if not self.url.startswith("sqlite"):
            return 0, 0
        # On the driver's connection, outside any transaction: the engine's "begin" hook
        # would open one, and a checkpoint cannot pass an open read.
        connection = self.read_engine.raw_connection()
        try:
            cursor = connection.cursor()
            _busy, frames, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            connection.close()
        return max(frames, 0), max(copied, 0)

    def ping(self) -> None:
        """Runs ``SELECT 1``; raises if the database is unreachable."""
        with self.read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))


@dataclass(frozen=True, slots=True)
class AppState:
    """What ``create_app`` keeps in ``app.extensions["screening"]``."""

    settings: Settings
    db: Database


def app_state(app: Flask | None = None) -> AppState:
    """The ``AppState`` of ``app`` (default: the current application)."""
    return (app or current_app).extensions["screening"]


def init_app(settings: Settings) -> Database:
    """Creates the application's ``Database``."""
    return Database.connect(settings.database_url)


def alembic_config(url: str) -> Any:
    """An Alembic ``Config`` for ``url``, built in code (``alembic.ini`` holds no URL)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrates the database at ``url`` to ``revision`` (Alembic)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
