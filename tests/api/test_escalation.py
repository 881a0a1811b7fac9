"""Escalation of waiting crisis cases (shared spec §9): a critical or urgent submission
nobody holds a live claim on raises ``submission.escalated`` after its clinic's interval
(critical 10, urgent 60 minutes) and after every further one, until claimed or decided.
Time is passed in (``now``) rather than waited for."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening.notify.escalation import escalate_due
from screening.services.rulesets import escalation_minutes
from screening.storage.db import utcnow
from screening.storage.models import WebhookEvent
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import QUEUE, events, expire_claim, path, stored, submit
from tests.api.test_rulesets import activate, draft

MINUTE = dt.timedelta(minutes=1)


def escalate(app: Flask, now: dt.datetime) -> int:
    with session_scope(app) as session:
        return escalate_due(session, now)


def escalated_events(app: Flask) -> list[WebhookEvent]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(WebhookEvent)
                                    .where(WebhookEvent.type == "submission.escalated")
                                    .order_by(WebhookEvent.seq)))


def test_the_default_intervals_are_critical_10_and_urgent_60_minutes(
        app: Flask, clinic: TenantCredentials) -> None:
    with session_scope(app, write=False) as session:
        assert escalation_minutes(session, clinic.clinic_id) == {"critical": 10, "urgent": 60}


@pytest.mark.parametrize("priority, interval", [("critical", 10), ("urgent", 60)])
def test_escalates_at_each_interval_boundary(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, priority: str,
        interval: int) -> None:
    submission_id = submit(client, clinic, routed(priority))
    received = stored(app, submission_id).received_at
    assert escalate(app, received + interval * MINUTE - dt.timedelta(seconds=1)) == 0
    assert escalate(app, received + interval * MINUTE) == 1
    assert escalate(app, received + interval * MINUTE) == 0  # once per level
    assert escalate(app, received + 2 * interval * MINUTE - dt.timedelta(seconds=1)) == 0
    assert escalate(app, received + 2 * interval * MINUTE) == 1
    levels = [(e.data["escalation_level"], e.data["waiting_minutes"])
              for e in escalated_events(app)]
    assert levels == [(1, interval), (2, 2 * interval)]
    assert stored(app, submission_id).escalation_level == 2
    [item] = client.get(QUEUE, headers=clinic.headers("clinician")).get_json()["items"]
    assert item["escalation_level"] == 2
    full = client.get(path(submission_id), headers=clinic.headers("clinician")).get_json()
    assert full["escalation_level"] == 2
    audited = events(app, "submission.escalate")
    assert [(e.object_id, e.actor_type) for e in audited] == [(submission_id, "system")] * 2


@pytest.mark.parametrize("priority", ["high", "routine"])
def test_high_and_routine_never_escalate(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, priority: str) -> None:
    submit(client, clinic, routed(priority))
    assert escalate(app, utcnow() + dt.timedelta(days=2)) == 0


def test_a_claim_stops_escalation_and_an_expired_one_resumes_it(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, routed("critical"))
    received = stored(app, submission_id).received_at
    assert escalate(app, received + 10 * MINUTE) == 1
    claimed = client.post(path(submission_id, "claim"), headers=clinic.headers("clinician"))
    assert claimed.status_code == 200
    assert escalate(app, utcnow() + 5 * MINUTE) == 0  # the lease (15 min) is live
    expire_claim(app, submission_id)
    assert escalate(app, utcnow()) == 0  # waited < 20 minutes since received
    assert escalate(app, received + 20 * MINUTE) == 1
    assert stored(app, submission_id).escalation_level == 2


def test_a_decided_submission_never_escalates(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, routed("critical"))
    claimed = client.post(path(submission_id, "claim"), headers=clinic.headers("clinician"))
    flags = [flag["id"] for flag in claimed.get_json()["evaluation"]["flags"]]
    decided = client.post(
        path(submission_id, "decision"),
        json={"outcome": "refer_to_crisis_services", "acknowledged_flags": flags},
        headers={**clinic.headers("clinician"), "If-Match": claimed.headers["ETag"]})
    assert decided.status_code == 200
    assert escalate(app, utcnow() + dt.timedelta(days=1)) == 0
    assert escalated_events(app) == []


def test_the_clinics_active_ruleset_sets_the_interval(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    """Shared spec §10: ``escalation_minutes`` is a clinic setting; escalation reads it."""
    draft_id = draft(client, clinic, {"escalation_minutes": {"critical": 3}})
    assert activate(client, clinic, draft_id, '"ruleset-1"').status_code == 200
    with session_scope(app, write=False) as session:
        assert escalation_minutes(session, clinic.clinic_id) == {"critical": 3, "urgent": 60}
    submission_id = submit(client, clinic, routed("critical"))
    received = stored(app, submission_id).received_at
    assert escalate(app, received + 3 * MINUTE - dt.timedelta(seconds=1)) == 0
    assert escalate(app, received + 3 * MINUTE) == 1
