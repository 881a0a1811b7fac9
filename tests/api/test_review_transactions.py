"""How many transactions and statements a clinician's request takes: the response is built
from what was loaded in the request's own transaction, never by a second one after its
commit (one more BEGIN, query and ROLLBACK on PostgreSQL; on SQLite a write session's
second transaction queued behind ingest for the writers' lock), and the submission comes
with its decision and notes in one query (on PostgreSQL each statement is a round trip,
which under load costs more than its work)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, select
from werkzeug.test import TestResponse

from screening.storage.db import app_state, utcnow
from screening.storage.models import Note, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import NEXT, clinician_of, path, submit


@contextmanager
def statements_run(app: Flask) -> Iterator[list[str]]:
    """The first words of each statement the ORM and Core run inside the block (the
    credential lookup goes straight to the driver, and BEGIN/COMMIT are not counted)."""
    db = app_state(app).db
    run: list[str] = []

    def on_execute(_connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split()
        if words[0] == "BEGIN":  # SQLite's BEGIN IMMEDIATE: a transaction, counted above
            return
        run.append(" ".join(words[:3] if words[0] != "SELECT" else
                            ["SELECT", "FROM", words[words.index("FROM") + 1]]))

    engines = {db.read_engine, db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield run
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", on_execute)


@contextmanager
def transactions_begun(app: Flask) -> Iterator[list[str]]:
    """The engines (``read``/``write``) of each ORM transaction begun inside the block."""
    db = app_state(app).db
    begun: list[str] = []
    listeners = {}
    # On PostgreSQL both names are one engine: its transactions count once, as "write".
    for name, engine in (("read", db.read_engine), ("write", db.write_engine)):
        def on_begin(connection: Connection, name: str = name) -> None:
            begun.append(name)
        listeners[engine] = on_begin
    for engine, listener in listeners.items():
        event.listen(engine, "begin", listener)
    try:
        yield begun
    finally:
        for engine, listener in listeners.items():
            event.remove(engine, "begin", listener)


def test_claim_read_and_decide_each_build_their_answer_inside_one_transaction(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    client.post(path(submission_id, "notes"), json={"text": "called back"},
                headers=clinician_of(clinic).headers)
    me = clinician_of(clinic)
    with transactions_begun(app) as claim:
        claimed = client.post(NEXT, headers=me.headers)
    with transactions_begun(app) as read:
        full = client.get(path(submission_id), headers=me.headers)
    flags = [flag["id"] for flag in full.get_json()["evaluation"]["flags"]]
    with transactions_begun(app) as decide:
        decided = client.post(path(submission_id, "decision"), headers={
            **me.headers, "If-Match": full.headers["ETag"]},
            json={"outcome": "needs_more_information", "acknowledged_flags": flags})
    assert (claimed.status_code, full.status_code, decided.status_code) == (200, 200, 200)
    assert [note["text"] for note in decided.get_json()["notes"]] == ["called back"]
    assert decided.get_json()["decision"]["outcome"] == "needs_more_information"
    assert (len(claim), len(read), len(decide)) == (1, 1, 1), (claim, read, decide)


def test_claims_reads_and_decisions_load_the_decision_and_notes_with_the_submission(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    client.post(path(submission_id, "notes"), json={"text": "called back"}, headers=me.headers)
    with statements_run(app) as claim_next:
        from_queue = client.post(NEXT, headers=me.headers)
    client.post(path(submission_id, "release"), headers=me.headers)
    with statements_run(app) as claim:
        claimed = client.post(path(submission_id, "claim"), headers=me.headers)
    with statements_run(app) as read:
        full = client.get(path(submission_id), headers=me.headers)
    flags = [flag["id"] for flag in full.get_json()["evaluation"]["flags"]]
    with statements_run(app) as decide:
        decided = client.post(path(submission_id, "decision"), headers={
            **me.headers, "If-Match": full.headers["ETag"]},
            json={"outcome": "needs_more_information", "acknowledged_flags": flags})
    assert (from_queue.status_code, claimed.status_code, full.status_code,
            decided.status_code) == (200, 200, 200, 200)
    assert from_queue.get_json()["id"] == submission_id
    for answer in (from_queue, claimed, decided):
        assert [note["text"] for note in answer.get_json()["notes"]] == ["called back"]
    # queue/next: the claiming UPDATE, then the claimed row with decision and notes.
    assert claim_next == ["UPDATE submissions SET", "SELECT FROM submissions",
                          "INSERT INTO audit_events"]
    # A claim and a decision lock the row in a statement of its own on PostgreSQL, before
    # the joined load (on SQLite the write transaction holds the database already).
    sqlite = app_state(app).settings.is_sqlite
    lock = [] if sqlite else ["SELECT FROM submissions"]
    assert claim == [*lock, "SELECT FROM submissions", "UPDATE submissions SET",
                     "INSERT INTO audit_events"]
    # A unit that only read hands its audit event to the group committer on SQLite
    # (straight to the driver, not counted here); on PostgreSQL it inserts it itself.
    assert read == ["SELECT FROM submissions"] + ([] if sqlite else ["INSERT INTO audit_events"])
    assert decide == [*lock, "SELECT FROM submissions", "UPDATE submissions SET",
                      "INSERT INTO webhook_events", "INSERT INTO decisions",
                      "INSERT INTO audit_events"]


def answered_while_the_row_was_locked(
        app: Flask, clinic: TenantCredentials, submission_id: str, note: str,
        request: Callable[[FlaskClient], TestResponse]) -> TestResponse:
    """``request``'s answer, sent while another transaction holds the submission's row (as
    the escalation job does; on SQLite, the database) and adds ``note``, committed once
    the request has waited for it."""
    answers: list[TestResponse] = []
    waiting = threading.Thread(target=lambda: answers.append(request(app.test_client())))
    with session_scope(app) as holder:
        holder.execute(select(Submission.id).where(Submission.id == submission_id)
                       .with_for_update())
        holder.add(Note(submission_id=submission_id, clinic_id=clinic.clinic_id,
                        author_id=clinic.clinician_id, text=note, created_at=utcnow()))
        holder.flush()
        waiting.start()
        waiting.join(timeout=1)
        assert answers == []  # it waits for the row
    waiting.join(timeout=30)
    [answer] = answers
    return answer


def test_a_claim_or_decision_that_waited_for_the_row_shows_the_note_added_meanwhile(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    claimed = answered_while_the_row_was_locked(
        app, clinic, submission_id, "called back",
        lambda waiting: waiting.post(path(submission_id, "claim"), headers=me.headers))
    assert claimed.status_code == 200
    assert [note["text"] for note in claimed.get_json()["notes"]] == ["called back"]
    flags = [flag["id"] for flag in claimed.get_json()["evaluation"]["flags"]]
    decided = answered_while_the_row_was_locked(
        app, clinic, submission_id, "no answer",
        lambda waiting: waiting.post(path(submission_id, "decision"), headers={
            **me.headers, "If-Match": claimed.headers["ETag"]},
            json={"outcome": "needs_more_information", "acknowledged_flags": flags}))
    assert decided.status_code == 200
    assert [note["text"] for note in decided.get_json()["notes"]] == [
        "called back", "no answer"]
