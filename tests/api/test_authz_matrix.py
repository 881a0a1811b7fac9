"""Authorisation matrix (shared spec §1, §3): every route of the application, called by
{no credential, intake key, clinician, admin, another clinic's clinician}, answers the
status in ``MATRIX``, and that status is documented for the operation in openapi.yaml.
Every object route answers 404 to another clinic, exactly as it answers an unknown id."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rules.questionnaire import KETAMINE_INTAKE
from screening.notify.delivery import apply_dispatch, plan_dispatch
from screening.services import webhooks
from screening.storage.db import utcnow
from screening.storage.models import WebhookDelivery
from screening.storage.unit_of_work import session_scope
from screening.web.fhir.questionnaire import to_resource
from tests.api.bodies import example
from tests.api.conftest import TenantCredentials
from tests.api.fhir_answering import answer
from tests.api.reviewing import PROBLEM, evaluation_columns, path, seed
from tests.api.test_openapi import document, served_operations

ROLES = ("anonymous", "intake", "clinician", "admin", "other_clinic")
SUBMISSION = "/api/v1/submissions/{id}"
WEBHOOK = "/api/v1/webhooks/{id}"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
RULESET_DRAFT = "/api/v1/ruleset/drafts/{id}"

# (METHOD, OpenAPI path) -> status for each of ROLES, in that order.
MATRIX: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/health"): (200, 200, 200, 200, 200),
    ("GET", "/health/ready"): (200, 200, 200, 200, 200),
    ("GET", "/openapi.yaml"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/questionnaires"): (200, 200, 200, 200, 200),
    ("GET", "/api/v1/questionnaires/{id}"): (200, 200, 200, 200, 200),
    ("POST", "/api/v1/submissions"): (401, 201, 403, 403, 403),
    ("GET", "/api/v1/submissions"): (401, 403, 200, 200, 200),
    ("GET", SUBMISSION): (401, 403, 200, 200, 404),
    ("POST", SUBMISSION + "/claim"): (401, 403, 200, 200, 404),
    ("POST", SUBMISSION + "/release"): (401, 403, 200, 200, 404),
    ("POST", SUBMISSION + "/decision"): (401, 403, 200, 200, 404),
    ("POST", SUBMISSION + "/notes"): (401, 403, 201, 201, 404),
    ("GET", "/api/v1/queue"): (401, 403, 200, 200, 200),
    ("POST", "/api/v1/queue/next"): (401, 403, 200, 200, 204),
    ("GET", "/api/v1/audit"): (401, 403, 403, 200, 403),
    ("GET", "/api/v1/audit/checkpoint"): (401, 403, 403, 404, 403),  # none signed yet
    ("GET", "/api/v1/audit/public-key"): (401, 403, 403, 200, 403),
    ("GET", SUBMISSION + "/fhir"): (401, 403, 200, 200, 404),
    ("GET", "/fhir/metadata"): (200, 200, 200, 200, 200),
    ("GET", "/fhir/Questionnaire"): (200, 200, 200, 200, 200),
    ("GET", "/fhir/Questionnaire/{id}"): (200, 200, 200, 200, 200),
    ("POST", "/fhir/QuestionnaireResponse"): (401, 201, 403, 403, 403),
    ("GET", "/api/v1/ruleset"): (401, 403, 200, 200, 200),
    ("GET", "/api/v1/ruleset/versions"): (401, 403, 403, 200, 403),
    ("POST", "/api/v1/ruleset/drafts"): (401, 403, 403, 201, 403),
    ("POST", RULESET_DRAFT + "/shadow"): (401, 403, 403, 200, 403),
    ("POST", RULESET_DRAFT + "/activate"): (401, 403, 403, 200, 403),
    ("POST", "/api/v1/webhooks"): (401, 403, 403, 201, 403),
    ("GET", "/api/v1/webhooks"): (401, 403, 403, 200, 403),
    ("DELETE", WEBHOOK): (401, 403, 403, 204, 403),
    ("POST", WEBHOOK + "/rotate-secret"): (401, 403, 403, 200, 403),
    ("GET", WEBHOOK + "/deliveries"): (401, 403, 403, 200, 403),
    ("POST", WEBHOOK + "/deliveries/{delivery_id}/redeliver"): (401, 403, 403, 202, 403),
}
OBJECT_ROUTES = [route for route in MATRIX if route[1].startswith(SUBMISSION)]
CASES = [(route, role, MATRIX[route][i]) for route in MATRIX for i, role in enumerate(ROLES)]


@dataclass(frozen=True, slots=True)
class Scene:
    """Clinic "alpha" with one submission, clinic "beta", and the caller's headers."""

    app: Flask
    client: FlaskClient
    alpha: TenantCredentials
    beta: TenantCredentials
    submission_id: str
    webhook_id: str
    delivery_id: str

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "other_clinic":
            return self.beta.headers("clinician")
        return self.alpha.headers(role)


def flags_of_example() -> list[str]:
    evaluation = evaluation_columns(example(), utcnow())["evaluation"]
    return [flag["id"] for flag in evaluation["flags"]]


def claim_first(scene: Scene, role: str) -> dict[str, str]:
    """Claims the submission as the caller (or as alpha's clinician when the caller cannot)
    and returns an ``If-Match`` header with the new ETag."""
    claimer = role if role in ("clinician", "admin") else "clinician"
    response = scene.client.post(path(scene.submission_id, "claim"),
                                 headers=scene.alpha.headers(claimer))
    assert response.status_code == 200
    return {"If-Match": response.headers["ETag"]}


Arrange = Callable[[Scene, str], dict[str, str]]
ARRANGE: dict[tuple[str, str], Arrange] = {
    ("POST", SUBMISSION + "/release"): claim_first,
    ("POST", SUBMISSION + "/decision"): claim_first,
    ("POST", RULESET_DRAFT + "/activate"): lambda scene, role: {"If-Match": '"ruleset-1"'},
}
BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("POST", "/api/v1/submissions"): example,
    ("POST", SUBMISSION + "/decision"): lambda: {
        "outcome": "needs_more_information", "acknowledged_flags": flags_of_example()},
    ("POST", SUBMISSION + "/notes"): lambda: {"text": "Checked."},
    ("POST", "/api/v1/ruleset/drafts"): lambda: {"settings": {"phq9_threshold": 15}},
    ("POST", "/api/v1/webhooks"): lambda: {"url": "https://93.184.215.14/hook",
                                           "events": ["submission.created"]},
}


QUESTIONNAIRE_ROUTES = {"/api/v1/questionnaires/{id}", "/fhir/Questionnaire/{id}"}
FHIR_RESPONSE = ("POST", "/fhir/QuestionnaireResponse")


def url(route: tuple[str, str], submission_id: str, scene: Scene | None = None) -> str:
    if route[1] in QUESTIONNAIRE_ROUTES:
        return route[1].format(id="ketamine-intake")
    if route[1].startswith(WEBHOOK) and scene is not None:
        return route[1].format(id=scene.webhook_id, delivery_id=scene.delivery_id)
    return route[1].format(id=submission_id)


def call(scene: Scene, route: tuple[str, str], role: str, submission_id: str) -> Any:
    headers = {**scene.headers(role), **(ARRANGE[route](scene, role) if route in ARRANGE else {})}
    if route == FHIR_RESPONSE:
        body = json.dumps(answer(to_resource(KETAMINE_INTAKE), example()))
        return scene.client.post(route[1], data=body, headers=headers,
                                 content_type="application/fhir+json")
    body = BODIES[route]() if route in BODIES else None
    if route[1].startswith(RULESET_DRAFT):  # alpha's admin drafts the object first
        drafted = scene.client.post("/api/v1/ruleset/drafts", headers=scene.alpha.headers(
            "admin"), json={"settings": {"phq9_threshold": 15}})
        submission_id = drafted.get_json()["id"]
    return scene.client.open(url(route, submission_id, scene), method=route[0], json=body,
                             headers=headers)


@pytest.fixture
def scene(app: Flask, client: FlaskClient, clinic: TenantCredentials,
          other_clinic: TenantCredentials) -> Scene:
    [submission_id] = seed(app, clinic.clinic_id, [example()], 1)
    webhook_id, delivery_id = webhook_with_a_delivery(app, clinic.clinic_id)
    return Scene(app, client, clinic, other_clinic, submission_id, webhook_id, delivery_id)


def webhook_with_a_delivery(app: Flask, clinic_id: str) -> tuple[str, str]:
    """A webhook endpoint of the clinic and one delivery of a test event to it."""
    with session_scope(app) as session:
        endpoint = webhooks.register(
            session, webhooks.Admin(clinic_id), url="https://93.184.215.14/hook",
            events=["submission.created"], min_priority="routine", description=None,
            allow_private=False, now=utcnow())
        webhooks.queue_test(session, webhooks.Admin(clinic_id), endpoint.id, now=utcnow())
        session.flush()
        plan = plan_dispatch(session.connection(), utcnow(), 0, lock=True)
        assert plan is not None and apply_dispatch(session.connection(), plan, utcnow())
        # (a pending delivery, no attempt taken)
        delivery = session.scalars(select(WebhookDelivery)).one()
        return endpoint.id, delivery.id


def test_matrix_covers_every_route_of_the_application(app: Flask) -> None:
    assert served_operations(app) == set(MATRIX)


@pytest.mark.parametrize(
    ("route", "role", "status"), CASES, ids=[f"{r[0]} {r[1]} as {role}" for r, role, _ in CASES])
def test_route_answers_the_documented_status_to_each_caller(
        scene: Scene, route: tuple[str, str], role: str, status: int) -> None:
    documented = document()["paths"][route[1]][route[0].lower()]["responses"]
    assert str(status) in documented
    response = call(scene, route, role, scene.submission_id)
    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        fhir = route[1].startswith("/fhir/")
        assert response.mimetype == ("application/fhir+json" if fhir else PROBLEM)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=[f"{m} {p}" for m, p in OBJECT_ROUTES])
@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_another_clinics_object_is_404_exactly_like_an_unknown_id(
        scene: Scene, route: tuple[str, str], role: str) -> None:
    foreign = scene.beta.headers(role)
    body = BODIES[route]() if route in BODIES else None
    headers = {**foreign, "If-Match": f'"{scene.submission_id}-v1"'}
    theirs = scene.client.open(url(route, scene.submission_id), method=route[0], json=body,
                               headers=headers)
    unknown = scene.client.open(url(route, UNKNOWN_ID), method=route[0], json=body,
                                headers={**foreign, "If-Match": f'"{UNKNOWN_ID}-v1"'})
    assert theirs.status_code == unknown.status_code == 404
    strip = {"instance"}
    assert ({k: v for k, v in theirs.get_json().items() if k not in strip}
            == {k: v for k, v in unknown.get_json().items() if k not in strip})
    read = scene.client.get(path(scene.submission_id), headers=scene.alpha.headers("clinician"))
    assert read.headers["ETag"] == f'"{scene.submission_id}-v1"'
    assert read.get_json()["notes"] == []
