"""SQLite's writers' queue: every write transaction waits its turn in the kernel.

Write sessions (claims, decisions, worker jobs) used to wait for SQLite's lock in its
sleep-and-retry busy handler while group commits of other processes took turns; now they
take the same ``flock`` as the group committer before ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from flask import Flask
from sqlalchemy import select

from screening.storage.db import Database, app_state
from screening.storage.models import Clinic
from screening.storage.unit_of_work import unit_of_work
from screening.storage.writers import WritersLock, writers_lock

JOIN_S = 10.0  # a thread still alive after this is stuck, and the test fails


@pytest.fixture
def database(app: Flask) -> Database:
    database = app_state(app).db
    if database.write_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL writers take no lock in common")
    return database


@pytest.fixture
def lock_path(database: Database) -> str:
    assert database.writers is not None
    return database.writers.path


def is_free(path: str) -> bool:
    """True when nobody holds the writers' lock (tried without waiting)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)


def run_in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_a_write_session_holds_the_queue_from_begin_until_its_commit_completes(
        database: Database, lock_path: str) -> None:
    assert is_free(lock_path)
    with database.write_sessions() as session:
        session.scalar(select(Clinic.id).limit(1))  # BEGIN IMMEDIATE
        assert not is_free(lock_path)
        session.commit()
        assert is_free(lock_path)
        session.scalar(select(Clinic.id).limit(1))  # a second transaction takes it again
        assert not is_free(lock_path)
    assert is_free(lock_path)  # closed: rolled back and returned to the pool


def test_a_read_session_takes_no_place_in_the_queue(database: Database,
                                                   lock_path: str) -> None:
    with database.read_sessions() as session:
        session.scalar(select(Clinic.id).limit(1))
        assert is_free(lock_path)


def test_a_second_writer_waits_in_the_queue_and_begins_after_the_first_commits(
        database: Database, lock_path: str) -> None:
    order: list[str] = []
    first_began, second_tried = threading.Event(), threading.Event()

    def first() -> None:
        with unit_of_work(database) as uow:
            uow.session(write=True).scalar(select(Clinic.id).limit(1))
            order.append("first began")
            first_began.set()
            assert second_tried.wait(JOIN_S)
            order.append("first commits")
        order.append("first committed")

    def second() -> None:
        assert first_began.wait(JOIN_S)
        second_tried.set()
        with unit_of_work(database) as uow:
            uow.session(write=True).scalar(select(Clinic.id).limit(1))
            order.append("second began")

    threads = [run_in_thread(first), run_in_thread(second)]
    for thread in threads:
        thread.join(JOIN_S)
        assert not thread.is_alive()
    assert order == ["first began", "first commits", "first committed", "second began"]
    assert is_free(lock_path)


def test_a_writer_of_another_process_waits_for_the_group_committer(
        database: Database, lock_path: str) -> None:
    """Another process (here: a separate file description, as another process has) holds
    the queue: the group committer's batch waits in the kernel, then commits."""
    outsider = os.open(lock_path, os.O_RDWR)
    fcntl.flock(outsider, fcntl.LOCK_EX)
    done = threading.Event()

    def commit_an_event() -> None:
        with unit_of_work(database) as uow:
            uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                      action="test.queued")
        done.set()

    thread = run_in_thread(commit_an_event)
    try:
        assert not done.wait(0.3)  # still queued behind the outsider
    finally:
        os.close(outsider)
    thread.join(JOIN_S)
    assert done.is_set()


def test_a_write_begun_inside_a_held_queue_does_not_wait_for_itself(
        database: Database) -> None:
    """A thread that holds the queue and begins a write session (a write nested in
    another) is not queued behind itself: SQLite's own lock decides, as before."""
    assert isinstance(database.writers, WritersLock)
    finished = threading.Event()

    def nested() -> None:
        with database.writers.held(), unit_of_work(database) as uow:
            uow.session(write=True).scalar(select(Clinic.id).limit(1))
        finished.set()

    thread = run_in_thread(nested)
    thread.join(JOIN_S)
    assert finished.is_set()


def test_postgres_and_in_memory_databases_have_no_writers_queue() -> None:
    assert writers_lock("sqlite:///:memory:") is None
    assert writers_lock("postgresql+psycopg://postgres@127.0.0.1:5432/test") is None
