"""The audit log (shared spec §7): ``GET /api/v1/audit`` for admins, and the hash chain that
``screening audit verify`` checks, tampered with by raw SQL after real API traffic."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from screening.cli import main
from screening.server.sealer import seal_job
from screening.storage import audit
from screening.storage.db import app_state
from screening.storage.models import AuditChainHead, AuditEvent
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials

AUDIT = "/api/v1/audit"
EVENT_FIELDS = {"seq", "occurred_at", "clinic_id", "actor_type", "actor_id", "action",
                "object_type", "object_id", "outcome", "request_id", "hash", "sealed"}


def traffic(client: FlaskClient, creds: TenantCredentials) -> str:
    """One create, two full reads and one failed authentication; the submission's id."""
    created = client.post(SUBMISSIONS, json=example(), headers=creds.headers("intake"))
    for _ in range(2):
        client.get(created.headers["Location"], headers=creds.headers("clinician"))
    wrong_secret = creds.intake_key.rsplit("_", 1)[0] + "_" + "x" * 43
    client.get("/api/v1/queue", headers={"Authorization": f"Bearer {wrong_secret}"})
    return str(created.get_json()["id"])


def listed(client: FlaskClient, creds: TenantCredentials, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{AUDIT}?{query}", headers=creds.headers("admin"))
    assert response.status_code == 200, response.get_json()
    return list(response.get_json()["items"])


# -- GET /api/v1/audit -----------------------------------------------------------------

def test_admin_reads_the_clinics_events_oldest_first(client: FlaskClient,
                                                     clinic: TenantCredentials) -> None:
    submission_id = traffic(client, clinic)
    items = listed(client, clinic)
    assert all(set(item) == EVENT_FIELDS for item in items)
    assert [item["occurred_at"] for item in items] == sorted(i["occurred_at"] for i in items)
    assert {item["clinic_id"] for item in items} == {clinic.clinic_id}
    tail = [(i["action"], i["actor_type"], i["object_id"], i["outcome"]) for i in items[-4:]]
    assert tail == [
        ("submission.create", "intake_key", submission_id, "success"),
        ("submission.read", "user", submission_id, "success"),
        ("submission.read", "user", submission_id, "success"),
        ("auth.failed", "anonymous", None, "denied"),
    ]


def test_filter_by_submission(client: FlaskClient, clinic: TenantCredentials) -> None:
    first = traffic(client, clinic)
    traffic(client, clinic)
    items = listed(client, clinic, f"submission_id={first}")
    assert [(i["action"], i["object_id"]) for i in items] == [
        ("submission.create", first), ("submission.read", first), ("submission.read", first)]
    assert listed(client, clinic, "submission_id=00000000-0000-4000-8000-000000000000") == []


def test_pages_by_cursor(client: FlaskClient, clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    everything = listed(client, clinic)
    seen: list[dict[str, Any]] = []
    query = "limit=2"
    while True:
        page = client.get(f"{AUDIT}?{query}", headers=clinic.headers("admin")).get_json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        query = f"limit=2&cursor={page['next_cursor']}"
    assert seen == everything


def test_other_clinics_events_are_not_shown(client: FlaskClient, clinic: TenantCredentials,
                                            other_clinic: TenantCredentials) -> None:
    theirs = traffic(client, other_clinic)
    assert listed(client, clinic, f"submission_id={theirs}") == []
    assert {i["clinic_id"] for i in listed(client, clinic)} == {clinic.clinic_id}


@pytest.mark.parametrize(("role", "status"), [("clinician", 403), ("intake", 403), (None, 401)])
def test_only_admins_read_the_audit_log(client: FlaskClient, clinic: TenantCredentials,
                                        role: str | None, status: int) -> None:
    headers = clinic.headers(role) if role else {}
    assert client.get(AUDIT, headers=headers).status_code == status


@pytest.mark.parametrize(("query", "parameter"), [
    ("submission_id=42", "submission_id"), ("submission_id=", "submission_id"),
    ("cursor=eyJ4Ijox", "cursor"), ("cursor=WyIxIl0", "cursor"), ("limit=201", "limit"),
])
def test_bad_parameters_are_422(client: FlaskClient, clinic: TenantCredentials, query: str,
                                parameter: str) -> None:
    response = client.get(f"{AUDIT}?{query}", headers=clinic.headers("admin"))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [parameter]


# -- the hash chain ----------------------------------------------------------------------

def problems(app: Flask) -> list[audit.ChainProblem]:
    with session_scope(app, write=False) as session:
        return audit.verify(session)


def tamper(app: Flask, *statements: str) -> None:
    with session_scope(app) as session:
        for statement in statements:
            session.execute(text(statement))


def last_seq(app: Flask) -> int:
    """The chain's length once every waiting event is sealed."""
    seal_job(app_state(app))
    with session_scope(app, write=False) as session:
        return session.get_one(AuditChainHead, 1).last_seq


def test_untouched_chain_verifies(app: Flask, client: FlaskClient,
                                  clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    assert last_seq(app) >= 4
    assert problems(app) == []


@pytest.mark.parametrize("assignment", [
    "action = 'submission.list'", "actor_id = 'someone-else'", "outcome = 'denied'",
    "object_id = NULL", "request_id = 'forged'",
])
def test_edited_event_is_named_by_its_seq(app: Flask, client: FlaskClient,
                                          clinic: TenantCredentials, assignment: str) -> None:
    traffic(client, clinic)
    seq = last_seq(app) - 2
    tamper(app, f"UPDATE audit_events SET {assignment} WHERE seq = {seq}")
    assert [p.seq for p in problems(app)] == [seq]


def test_edited_event_with_a_recomputed_hash_breaks_the_next_link(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    seq = last_seq(app) - 2
    tamper(app, f"UPDATE audit_events SET outcome = 'error' WHERE seq = {seq}")
    with session_scope(app) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
        event.hash = audit.chain_hash(event.prev_hash, audit.event_fields(event))
    assert [p.seq for p in problems(app)] == [seq + 1]


def test_deleted_event_is_detected(app: Flask, client: FlaskClient,
                                   clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    seq = last_seq(app) - 2
    tamper(app, f"DELETE FROM audit_events WHERE seq = {seq}")
    assert seq in [p.seq for p in problems(app)]


def test_deleting_the_last_event_leaves_the_head_unmatched(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    seq = last_seq(app)
    tamper(app, f"DELETE FROM audit_events WHERE seq = {seq}")
    assert [p.seq for p in problems(app)] == [seq]


def test_reordered_events_are_detected(app: Flask, client: FlaskClient,
                                       clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    a, b = last_seq(app) - 2, last_seq(app) - 1
    tamper(app, f"UPDATE audit_events SET seq = -1 WHERE seq = {a}",
           f"UPDATE audit_events SET seq = {a} WHERE seq = {b}",
           f"UPDATE audit_events SET seq = {b} WHERE seq = -1")
    assert {a, b} <= {p.seq for p in problems(app)}


def test_cli_verify_exit_codes(app: Flask, client: FlaskClient, clinic: TenantCredentials,
                               database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    traffic(client, clinic)
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    seq = last_seq(app)
    tamper(app, f"DELETE FROM audit_events WHERE seq = {seq}")
    broken = CliRunner().invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"seq {seq}" in broken.stderr
