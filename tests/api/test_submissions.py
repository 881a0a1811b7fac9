"""POST/GET ``/api/v1/submissions`` (shared spec §3–§6): status codes, shapes, tenancy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening.storage.models import AuditEvent, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, example, routed
from tests.api.conftest import TenantCredentials

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
PROBLEM = "application/problem+json"


def post(client: FlaskClient, creds: TenantCredentials, body: Any,
         **headers: str) -> Any:
    return client.post(SUBMISSIONS, json=body, headers={**creds.headers("intake"), **headers})


def stored(app: Flask) -> list[Submission]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(Submission)))


def events(app: Flask) -> list[AuditEvent]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# -- POST ------------------------------------------------------------------------------

def test_create_answers_201_with_id_status_time_and_safety_only(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    response = post(client, clinic, example())
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "status", "received_at", "safety"}
    assert UUID.fullmatch(body["id"])
    assert body["status"] == "pending_review"
    assert TIMESTAMP.fullmatch(body["received_at"])
    assert body["safety"] == {"show_crisis_resources": False, "message": None}
    assert response.headers["Location"] == f"{SUBMISSIONS}/{body['id']}"
    assert "Idempotent-Replayed" not in response.headers


def test_create_stores_answers_evaluation_and_routing(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = post(client, clinic, example()).get_json()["id"]
    [row] = stored(app)
    assert row.id == submission_id
    assert row.clinic_id == clinic.clinic_id
    assert (row.questionnaire_id, row.questionnaire_version) == ("ketamine-intake", "1")
    assert row.respondent == example()["respondent"]
    assert row.answers == example()["answers"]
    assert row.evaluation["ruleset_version"] == row.ruleset_version
    # spec §6: uncontrolled_hypertension "unsure" is a relative contraindication -> high
    assert (row.priority, row.priority_rank) == ("high", 2)
    assert row.evaluation["routing"]["reasons"] == ["flag:uncontrolled_hypertension"]
    assert (row.status, row.version) == ("pending_review", 1)


def test_missing_version_records_the_current_one(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    body = example()
    del body["questionnaire_version"]
    assert post(client, clinic, body).status_code == 201
    assert stored(app)[0].questionnaire_version == "1"


def test_create_is_audited(app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    response = post(client, clinic, example(), **{"X-Request-ID": "req-create-1"})
    [event] = [e for e in events(app) if e.action == "submission.create"]
    assert (event.clinic_id, event.actor_type, event.object_type, event.object_id) == (
        clinic.clinic_id, "intake_key", "submission", response.get_json()["id"])
    assert (event.outcome, event.request_id) == ("success", "req-create-1")


def test_suicide_risk_shows_the_clinics_crisis_message(
        make_clinic: Any, client: FlaskClient) -> None:
    creds = make_clinic("gamma", crisis_message="Call the gamma crisis line.")
    safety = post(client, creds, routed("critical")).get_json()["safety"]
    assert safety == {"show_crisis_resources": True, "message": "Call the gamma crisis line."}


def test_suicide_risk_without_clinic_text_names_988(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    safety = post(client, clinic, routed("urgent")).get_json()["safety"]
    assert safety["show_crisis_resources"] is True
    assert "988" in safety["message"]


def test_malformed_json_is_400(client: FlaskClient, clinic: TenantCredentials) -> None:
    response = client.post(SUBMISSIONS, data=b'{"questionnaire": ', headers={
        **clinic.headers("intake"), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_body_that_is_not_json_is_415(client: FlaskClient, clinic: TenantCredentials,
                                      content_type: str | None) -> None:
    headers = clinic.headers("intake")
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(SUBMISSIONS, data=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.mimetype == PROBLEM


def test_body_above_64_kib_is_413(app: Flask, client: FlaskClient,
                                  clinic: TenantCredentials) -> None:
    body = example()
    body["respondent"]["external_id"] = "x" * (64 * 1024)
    response = post(client, clinic, body)
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert stored(app) == []


@pytest.mark.parametrize("authorization", [None, "Bearer ik_000000000000_nope", "Basic abc"])
def test_without_a_valid_credential_is_401(client: FlaskClient, clinic: TenantCredentials,
                                           authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(SUBMISSIONS, json=example(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_user_tokens_may_not_submit(app: Flask, client: FlaskClient,
                                    clinic: TenantCredentials, role: str) -> None:
    response = client.post(SUBMISSIONS, json=example(), headers=clinic.headers(role))
    assert response.status_code == 403
    assert stored(app) == []


def test_invalid_body_is_422_and_stores_nothing(app: Flask, client: FlaskClient,
                                                clinic: TenantCredentials) -> None:
    body = example()
    body["answers"]["phq9"]["q1"] = 7
    response = post(client, clinic, body)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"answers.phq9.q1": ["Must be one of: 0, 1, 2, 3."]}
    assert stored(app) == []


# -- GET one ---------------------------------------------------------------------------

def test_full_read_as_clinician(app: Flask, client: FlaskClient,
                                clinic: TenantCredentials) -> None:
    location = post(client, clinic, example()).headers["Location"]
    response = client.get(location, headers=clinic.headers("clinician"))
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["id", "questionnaire", "questionnaire_version", "received_at",
                          "status", "priority", "reasons", "respondent", "answers",
                          "evaluation", "claim", "escalation_level", "decision", "notes"]
    assert body["respondent"] == example()["respondent"]
    assert body["answers"] == example()["answers"]
    assert body["evaluation"]["routing"] == {"priority": "high",
                                             "reasons": ["flag:uncontrolled_hypertension"]}
    assert (body["claim"], body["decision"], body["notes"]) == (None, None, [])
    assert response.headers["ETag"] == f'"{body["id"]}-v1"'


def test_full_read_is_audited_per_read(app: Flask, client: FlaskClient,
                                       clinic: TenantCredentials) -> None:
    location = post(client, clinic, example()).headers["Location"]
    for role in ("clinician", "admin"):
        assert client.get(location, headers=clinic.headers(role)).status_code == 200
    reads = [e for e in events(app) if e.action == "submission.read"]
    assert [e.actor_id for e in reads] == [clinic.clinician_id, clinic.admin_id]
    assert {e.object_id for e in reads} == {location.rsplit("/", 1)[1]}


def test_other_clinics_submission_is_404(app: Flask, client: FlaskClient,
                                         clinic: TenantCredentials,
                                         other_clinic: TenantCredentials) -> None:
    location = post(client, clinic, example()).headers["Location"]
    response = client.get(location, headers=other_clinic.headers("clinician"))
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert not [e for e in events(app) if e.action == "submission.read"]


@pytest.mark.parametrize("submission_id", ["00000000-0000-4000-8000-000000000000", "nope"])
def test_unknown_submission_is_404(client: FlaskClient, clinic: TenantCredentials,
                                   submission_id: str) -> None:
    response = client.get(f"{SUBMISSIONS}/{submission_id}",
                          headers=clinic.headers("clinician"))
    assert response.status_code == 404


def test_intake_key_may_not_read(client: FlaskClient, clinic: TenantCredentials) -> None:
    location = post(client, clinic, example()).headers["Location"]
    assert client.get(location, headers=clinic.headers("intake")).status_code == 403
    assert client.get(SUBMISSIONS, headers=clinic.headers("intake")).status_code == 403


def test_read_without_credential_is_401(client: FlaskClient, clinic: TenantCredentials) -> None:
    location = post(client, clinic, example()).headers["Location"]
    assert client.get(location).status_code == 401


# -- GET list --------------------------------------------------------------------------

def _create(client: FlaskClient, creds: TenantCredentials, *priorities: str) -> list[str]:
    return [post(client, creds, routed(p)).get_json()["id"] for p in priorities]


def test_list_is_newest_first_without_patient_data(client: FlaskClient,
                                                   clinic: TenantCredentials) -> None:
    ids = _create(client, clinic, "routine", "critical", "high")
    response = client.get(SUBMISSIONS, headers=clinic.headers("clinician"))
    assert response.status_code == 200
    page = response.get_json()
    assert [item["id"] for item in page["items"]] == ids[::-1]
    assert page["next_cursor"] is None
    for item in page["items"]:
        assert set(item) == {"id", "received_at", "status", "priority", "reasons", "claim",
                         "escalation_level"}


def test_list_shows_only_the_callers_clinic(client: FlaskClient, clinic: TenantCredentials,
                                            other_clinic: TenantCredentials) -> None:
    _create(client, other_clinic, "routine")
    mine = _create(client, clinic, "routine")
    page = client.get(SUBMISSIONS, headers=clinic.headers("admin")).get_json()
    assert [item["id"] for item in page["items"]] == mine


def test_list_filters_by_status_and_priority(app: Flask, client: FlaskClient,
                                             clinic: TenantCredentials) -> None:
    ids = _create(client, clinic, "routine", "critical", "routine")
    with session_scope(app) as session:
        session.get_one(Submission, ids[0]).status = "decided"
    headers = clinic.headers("clinician")

    def listed(query: str) -> list[str]:
        return [i["id"] for i in client.get(f"{SUBMISSIONS}?{query}", headers=headers)
                .get_json()["items"]]

    assert listed("status=decided") == [ids[0]]
    assert listed("priority=routine") == [ids[2], ids[0]]
    assert listed("status=pending_review&priority=routine") == [ids[2]]
    assert listed("priority=urgent") == []


def test_list_pages_with_cursor_until_exhausted(client: FlaskClient,
                                                clinic: TenantCredentials) -> None:
    ids = _create(client, clinic, *["routine"] * 5)
    seen: list[str] = []
    url = f"{SUBMISSIONS}?limit=2"
    while True:
        page = client.get(url, headers=clinic.headers("clinician")).get_json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"{SUBMISSIONS}?limit=2&cursor={page['next_cursor']}"
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"),
     ("status=open", "status"), ("priority=low", "priority"), ("cursor=%%%", "cursor"),
     ("cursor=bm90IGpzb24", "cursor"), ("cursor=WzFd", "cursor"), ("cursor=", "cursor")],
)
def test_bad_list_parameters_are_422_naming_the_parameter(
        client: FlaskClient, clinic: TenantCredentials, query: str, parameter: str) -> None:
    response = client.get(f"{SUBMISSIONS}?{query}", headers=clinic.headers("clinician"))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert list(response.get_json()["errors"]) == [parameter]


def test_limit_200_is_accepted(client: FlaskClient, clinic: TenantCredentials) -> None:
    response = client.get(f"{SUBMISSIONS}?limit=200", headers=clinic.headers("clinician"))
    assert response.status_code == 200
