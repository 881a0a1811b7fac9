"""``GET /api/v1/submissions/{id}/fhir``: the clinician's audited export as a valid R4
Bundle of the response, the Patient, the score Observations and the review Task."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from screening.intake.schemas import default_catalogue
from screening.storage.models import AuditEvent, Submission
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.response import parse
from tests.api.bodies import SUBMISSIONS, example, routed
from tests.api.conftest import TenantCredentials
from tests.api.fhir_r4 import assert_valid_r4

LOINC = "http://loinc.org"


def submit(client: FlaskClient, clinic: TenantCredentials, body: dict[str, Any]) -> str:
    created = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    assert created.status_code == 201
    submission_id: str = created.get_json()["id"]
    return submission_id


def export(client: FlaskClient, clinic: TenantCredentials, submission_id: str) -> Any:
    return client.get(f"{SUBMISSIONS}/{submission_id}/fhir", headers=clinic.headers("clinician"))


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def observation_values(bundle: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for observation in resources(bundle, "Observation"):
        code = observation["code"]["coding"][0]
        assert code["system"] == LOINC
        value = observation.get("valueInteger", observation.get("valueCodeableConcept"))
        out[code["code"]] = value
    return out


def test_export_is_a_valid_r4_bundle_of_every_part(
        client: FlaskClient, clinic: TenantCredentials, db_session: Session) -> None:
    submission_id = submit(client, clinic, example())
    response = export(client, clinic, submission_id)
    assert response.status_code == 200 and response.mimetype == FHIR_JSON
    bundle = response.get_json()
    assert_valid_r4(bundle)
    for entry in bundle["entry"]:
        assert_valid_r4(entry["resource"])
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    assert bundle["type"] == "collection"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "QuestionnaireResponse", "Patient", "Observation", "Observation", "Observation", "Task"]
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.object_id == submission_id)
                                   .order_by(AuditEvent.id))
    assert [e.action for e in events] == ["submission.create", "submission.read"]


def test_references_resolve_inside_the_bundle(client: FlaskClient,
                                               clinic: TenantCredentials) -> None:
    bundle = export(client, clinic, submit(client, clinic, example())).get_json()
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    references = [r["reference"] for e in bundle["entry"] for r in _references(e["resource"])]
    assert references and set(references) <= full_urls


def _references(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if set(node) == {"reference"} else []
        return found + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def test_exports_of_one_submission_have_the_same_ids(client: FlaskClient,
                                                     clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, example())
    first, second = (export(client, clinic, submission_id).get_json() for _ in range(2))
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_response_and_patient_carry_the_submission(client: FlaskClient,
                                                   clinic: TenantCredentials) -> None:
    body = example()
    bundle = export(client, clinic, submit(client, clinic, body)).get_json()
    response, = resources(bundle, "QuestionnaireResponse")
    assert parse(response, default_catalogue()).body == default_catalogue().load(body)
    patient, = resources(bundle, "Patient")
    assert patient["birthDate"] == "1990-04-12"
    assert patient["name"] == [{"family": "Byron", "given": ["Ada"]}]
    assert patient["identifier"][0]["value"] == "form-4711"


def test_score_observations_use_the_loinc_codes_of_the_scores(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    """Clinical reference §3.1/§3.3: PHQ-9 total 44261-6, item 9 44260-8, GAD-7 total
    70274-6; the spec example totals 14 (PHQ-9) and 9 (GAD-7), item 9 answered 0."""
    bundle = export(client, clinic, submit(client, clinic, example())).get_json()
    values = observation_values(bundle)
    assert values["44261-6"] == 14 and values["70274-6"] == 9
    assert values["44260-8"]["coding"][0]["code"] == "LA6568-5"


def test_no_gad7_observation_without_a_gad7_section(client: FlaskClient,
                                                    clinic: TenantCredentials) -> None:
    body = example()
    del body["answers"]["gad7"]
    bundle = export(client, clinic, submit(client, clinic, body)).get_json()
    assert set(observation_values(bundle)) == {"44261-6", "44260-8"}


@pytest.mark.parametrize(("priority", "fhir_priority"), [
    ("critical", "stat"), ("urgent", "asap"), ("high", "urgent"), ("routine", "routine"),
])
def test_task_priority_keeps_the_review_order(client: FlaskClient, clinic: TenantCredentials,
                                              priority: str, fhir_priority: str) -> None:
    bundle = export(client, clinic, submit(client, clinic, routed(priority))).get_json()
    task, = resources(bundle, "Task")
    assert (task["priority"], task["status"], task["businessStatus"]["text"]) == (
        fhir_priority, "requested", "pending_review")


def test_export_needs_a_clinician_of_the_clinic(client: FlaskClient, clinic: TenantCredentials,
                                                other_clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, example())
    path = f"{SUBMISSIONS}/{submission_id}/fhir"
    assert client.get(path, headers=clinic.headers("intake")).status_code == 403
    elsewhere = client.get(path, headers=other_clinic.headers("clinician"))
    assert elsewhere.status_code == 404
    assert elsewhere.mimetype == "application/problem+json"


@pytest.mark.parametrize(("status", "task_status"), [
    ("in_review", "in-progress"), ("decided", "completed"),
])
def test_task_status_follows_the_review(client: FlaskClient, clinic: TenantCredentials,
                                        db_session: Session, status: str,
                                        task_status: str) -> None:
    submission_id = submit(client, clinic, example())
    db_session.execute(update(Submission).where(Submission.id == submission_id)
                       .values(status=status))
    db_session.commit()
    task, = resources(export(client, clinic, submission_id).get_json(), "Task")
    assert (task["status"], task["businessStatus"]["text"]) == (task_status, status)
