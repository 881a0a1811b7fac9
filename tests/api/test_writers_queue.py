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

from screening.services import accounts
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
    seen_by_second: list[str] = []
    first_began, second_tried = threading.Event(), threading.Event()

    def first() -> None:
        with unit_of_work(database) as uow:
            accounts.create_clinic(uow.session(write=True), slug="first", name="First")
            order.append("first began")
            first_began.set()
            assert second_tried.wait(JOIN_S)
            order.append("first commits")

    def second() -> None:
        assert first_began.wait(JOIN_S)
        second_tried.set()
        with unit_of_work(database) as uow:
            session = uow.session(write=True)
            seen_by_second.extend(session.scalars(select(Clinic.slug)))
            order.append("second began")

    threads = [run_in_thread(first), run_in_thread(second)]
    for thread in threads:
        thread.join(JOIN_S)
        assert not thread.is_alive()
    assert order == ["first began", "first commits", "second began"]
    assert seen_by_second == ["first"]  # it began only once the first had committed
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


def test_a_batch_waits_while_a_single_writer_is_waiting(lock_path: str) -> None:
    """A single writer announces itself (shared lock on ``-first``) while it waits: a batch
    does not queue before it, even with the lock itself free."""
    lock = WritersLock(lock_path)
    announced = os.open(lock.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(announced, fcntl.LOCK_SH)  # as a waiting single writer holds it
    taken = threading.Event()

    def lead_a_batch() -> None:
        acquisition = lock.acquire(batch=True)
        assert acquisition is not None
        taken.set()
        acquisition.release()

    leader = run_in_thread(lead_a_batch)
    try:
        assert not taken.wait(0.3)  # the lock is free, yet the batch lets the writer go
    finally:
        os.close(announced)  # the single writer has its turn
    leader.join(JOIN_S)
    assert taken.is_set()


def test_a_single_writer_does_not_wait_for_another_waiting_one(lock_path: str) -> None:
    lock = WritersLock(lock_path)
    announced = os.open(lock.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(announced, fcntl.LOCK_SH)
    try:
        acquisition = lock.acquire()
        assert acquisition is not None
        acquisition.release()
    finally:
        os.close(announced)


def test_an_attempt_takes_the_lock_only_when_nobody_holds_it(lock_path: str) -> None:
    """The serving loop's batches never wait for the lock: an attempt while another
    writer holds it gets nothing, and the lock once free."""
    lock, other = WritersLock(lock_path), WritersLock(lock_path)
    held = other.acquire()
    assert held is not None
    try:
        assert lock.attempt(batch=True) is None
        assert lock.attempt() is None
    finally:
        held.release()
    attempt = lock.attempt(batch=True)
    assert attempt is not None
    assert not is_free(lock_path)
    attempt.release()
    assert is_free(lock_path)


def test_a_batchs_attempt_gives_way_to_a_single_writer_waiting(lock_path: str) -> None:
    lock = WritersLock(lock_path)
    announced = os.open(lock.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(announced, fcntl.LOCK_SH)  # as a waiting single writer holds it
    try:
        assert lock.attempt(batch=True) is None
        single = lock.attempt()
        assert single is not None
        single.release()
    finally:
        os.close(announced)
    batch = lock.attempt(batch=True)
    assert batch is not None
    batch.release()


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
