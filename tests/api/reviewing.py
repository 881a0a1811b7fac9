"""Helpers for the review tests (shared spec §3, §7): submissions made over HTTP or seeded
in bulk, extra clinicians, lease expiry set in the database (no sleeping), audit events."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update

import rules
from screening.services import accounts
from screening.storage.db import utcnow
from screening.storage.models import AuditEvent, Clinic, Submission, new_id
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials, bearer

QUEUE = "/api/v1/queue"
NEXT = "/api/v1/queue/next"
PROBLEM = "application/problem+json"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def path(submission_id: str, action: str = "") -> str:
    """``/api/v1/submissions/{id}`` or one of its action paths."""
    return f"{SUBMISSIONS}/{submission_id}" + (f"/{action}" if action else "")


@dataclass(frozen=True, slots=True)
class Clinician:
    """A user of a clinic and its bearer header."""

    user_id: str
    headers: dict[str, str]


def clinician_of(creds: TenantCredentials, role: str = "clinician") -> Clinician:
    """The fixture clinic's own clinician (or admin)."""
    user_id = creds.clinician_id if role == "clinician" else creds.admin_id
    return Clinician(user_id, creds.headers(role))


def add_clinician(app: Flask, creds: TenantCredentials, name: str) -> Clinician:
    """Another clinician of the same clinic, made as the CLI makes users."""
    with session_scope(app) as session:
        clinic = session.get_one(Clinic, creds.clinic_id)
        issued = accounts.create_user(
            session, clinic, email=f"{name}@{creds.slug}.example", role="clinician"
        )
    return Clinician(issued.owner_id, bearer(issued.token))


def submit(client: FlaskClient, creds: TenantCredentials, body: dict[str, Any] | None = None
           ) -> str:
    """Posts a submission as the clinic's intake source; returns its id."""
    response = client.post(SUBMISSIONS, json=body or example(), headers=creds.headers("intake"))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def evaluation_columns(body: dict[str, Any], received_at: dt.datetime) -> dict[str, Any]:
    """The stored columns of a submission of ``body`` (evaluated as the service does)."""
    evaluation = rules.evaluate(
        body["respondent"], body["answers"], received_at.date(), rules.DEFAULT_RULESET
    )
    priority = evaluation.routing.priority
    return {
        "questionnaire_id": body["questionnaire"],
        "questionnaire_version": body["questionnaire_version"],
        "respondent": body["respondent"],
        "answers": body["answers"],
        "evaluation": evaluation.to_dict(),
        "ruleset_version": evaluation.ruleset_version,
        "priority": priority.value,
        "priority_rank": priority.rank,
    }


def seed(app: Flask, clinic_id: str, bodies: list[dict[str, Any]], count: int) -> list[str]:
    """Inserts ``count`` pending submissions in one statement, cycling through ``bodies``
    (each evaluated once), received one second apart; returns their ids."""
    start = utcnow() - dt.timedelta(days=1)
    columns = [evaluation_columns(body, start) for body in bodies]
    rows = [
        {
            **columns[index % len(columns)],
            "id": new_id(),
            "clinic_id": clinic_id,
            "status": "pending_review",
            "received_at": start + dt.timedelta(seconds=index),
            "version": 1,
        }
        for index in range(count)
    ]
    with session_scope(app) as session:
        session.execute(insert(Submission), rows)
    return [row["id"] for row in rows]


def expire_claim(app: Flask, submission_id: str) -> None:
    """Moves the submission's lease expiry one second into the past."""
    with session_scope(app) as session:
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(claim_expires_at=utcnow() - dt.timedelta(seconds=1))
        )


def stored(app: Flask, submission_id: str) -> Submission:
    """The submission row as stored now."""
    with session_scope(app, write=False) as session:
        return session.get_one(Submission, submission_id)


def events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    """Audit events in chain order, optionally of one action."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with session_scope(app, write=False) as session:
        return list(session.scalars(query))
