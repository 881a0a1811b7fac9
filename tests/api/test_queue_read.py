"""``GET /api/v1/queue`` (shared spec §3): open submissions in review order, no patient data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.storage.db import utcnow
from screening.storage.models import Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, routed
from tests.api.conftest import TenantCredentials

QUEUE = "/api/v1/queue"


def create(client: FlaskClient, creds: TenantCredentials, *priorities: str) -> list[str]:
    return [client.post(SUBMISSIONS, json=routed(p), headers=creds.headers("intake"))
            .get_json()["id"] for p in priorities]


def change(app: Flask, submission_id: str, **fields: Any) -> None:
    with session_scope(app) as session:
        submission = session.get_one(Submission, submission_id)
        for name, value in fields.items():
            setattr(submission, name, value)


def queue_ids(client: FlaskClient, creds: TenantCredentials, query: str = "") -> list[str]:
    response = client.get(f"{QUEUE}?{query}", headers=creds.headers("clinician"))
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


def test_review_order_is_priority_then_oldest_first(client: FlaskClient,
                                                    clinic: TenantCredentials) -> None:
    routine, critical, high, urgent, critical_later = create(
        client, clinic, "routine", "critical", "high", "urgent", "critical")
    assert queue_ids(client, clinic) == [critical, critical_later, urgent, high, routine]


def test_in_review_stays_in_order_and_decided_leaves(app: Flask, client: FlaskClient,
                                                     clinic: TenantCredentials) -> None:
    first, second, third, decided = create(client, clinic, "urgent", "urgent", "urgent",
                                           "critical")
    change(app, second, status="in_review")
    change(app, decided, status="decided")
    assert queue_ids(client, clinic) == [first, second, third]


def test_items_carry_no_answers_or_respondent(client: FlaskClient,
                                              clinic: TenantCredentials) -> None:
    [submission_id] = create(client, clinic, "critical")
    [item] = client.get(QUEUE, headers=clinic.headers("clinician")).get_json()["items"]
    assert set(item) == {"id", "received_at", "status", "priority", "reasons", "claim",
                         "escalation_level"}
    assert item["id"] == submission_id
    assert (item["status"], item["priority"], item["claim"]) == ("pending_review", "critical",
                                                                 None)
    assert "flag:suicide_risk_acute" in item["reasons"]


def test_live_claim_is_shown_and_an_expired_one_is_not(app: Flask, client: FlaskClient,
                                                       clinic: TenantCredentials) -> None:
    live, expired = create(client, clinic, "critical", "urgent")
    expires = (utcnow() + dt.timedelta(minutes=10)).replace(microsecond=0)
    change(app, live, status="in_review", claimed_by=clinic.clinician_id,
           claim_expires_at=expires)
    change(app, expired, status="in_review", claimed_by=clinic.clinician_id,
           claim_expires_at=utcnow() - dt.timedelta(seconds=1))
    items = client.get(QUEUE, headers=clinic.headers("clinician")).get_json()["items"]
    assert items[0]["claim"] == {"holder": clinic.clinician_id,
                                 "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert items[1]["claim"] is None


def test_filter_by_priority(client: FlaskClient, clinic: TenantCredentials) -> None:
    ids = create(client, clinic, "high", "routine", "high")
    assert queue_ids(client, clinic, "priority=high") == [ids[0], ids[2]]
    assert queue_ids(client, clinic, "priority=critical") == []


def test_pages_follow_review_order_across_statuses(app: Flask, client: FlaskClient,
                                                   clinic: TenantCredentials) -> None:
    ids = create(client, clinic, "routine", "urgent", "high", "urgent", "routine", "critical",
                 "high")
    for in_review in (ids[1], ids[4], ids[5]):
        change(app, in_review, status="in_review")
    expected = queue_ids(client, clinic)
    assert expected == [ids[5], ids[1], ids[3], ids[2], ids[6], ids[0], ids[4]]
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"{QUEUE}?{query}", headers=clinic.headers("admin")).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


def test_queue_is_per_clinic(client: FlaskClient, clinic: TenantCredentials,
                             other_clinic: TenantCredentials) -> None:
    create(client, other_clinic, "critical")
    mine = create(client, clinic, "routine")
    assert queue_ids(client, clinic) == mine


@pytest.mark.parametrize(("role", "status"), [("intake", 403), (None, 401)])
def test_queue_needs_a_clinician(client: FlaskClient, clinic: TenantCredentials,
                                 role: str | None, status: int) -> None:
    headers = clinic.headers(role) if role else {}
    assert client.get(QUEUE, headers=headers).status_code == status


@pytest.mark.parametrize(("query", "parameter"), [
    ("priority=low", "priority"), ("limit=0", "limit"), ("limit=1000", "limit"),
    ("cursor=WyJ4IiwieSIsInoiXQ", "cursor"), ("cursor=not-a-cursor", "cursor"),
])
def test_bad_parameters_are_422(client: FlaskClient, clinic: TenantCredentials, query: str,
                                parameter: str) -> None:
    response = client.get(f"{QUEUE}?{query}", headers=clinic.headers("clinician"))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [parameter]
