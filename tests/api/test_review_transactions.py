"""How many transactions a clinician's request takes: the response is built from what was
loaded in the request's own transaction, never by a second one after its commit (one more
BEGIN, query and ROLLBACK on PostgreSQL; on SQLite a write session's second transaction
queued behind ingest for the writers' lock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event

from screening.storage.db import app_state
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import NEXT, clinician_of, path, submit


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
