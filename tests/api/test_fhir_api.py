"""FHIR over HTTP: creating a submission from a QuestionnaireResponse goes the native way
(validation, evaluation, idempotency, audit), every error under /fhir is an OperationOutcome,
the CapabilityStatement lists exactly the served interactions, and the clinician export is
a valid R4 Bundle."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules import DEFAULT_CRISIS_MESSAGE
from rules.questionnaire import KETAMINE_INTAKE
from screening.intake.schemas import default_catalogue
from screening.storage.models import AuditEvent, Submission
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.capability import INTERACTIONS
from screening.web.fhir.questionnaire import to_resource
from screening.web.fhir.response import parse
from tests.api.bodies import SUBMISSIONS, example, routed
from tests.api.conftest import TenantCredentials
from tests.api.fhir_answering import answer
from tests.api.fhir_r4 import assert_valid_r4
from tests.api.test_fhir_response import uwcirg_phq9_response

RESPONSES = "/fhir/QuestionnaireResponse"
PUBLISHED = to_resource(KETAMINE_INTAKE)


def post(client: FlaskClient, clinic: TenantCredentials, resource: Any,
         **headers: str) -> Any:
    return client.post(RESPONSES, json=resource, content_type=FHIR_JSON,
                       headers={**clinic.headers("intake"), **headers})


def assert_outcome(response: Any, status: int) -> list[dict[str, Any]]:
    """The response is an R4 OperationOutcome with ``status``; returns its issues."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    assert_valid_r4(body)
    assert body["resourceType"] == "OperationOutcome"
    issues: list[dict[str, Any]] = body["issue"]
    return issues


def stored(db_session: Session, location: str) -> Submission:
    submission = db_session.get(Submission, location.rsplit("/", 1)[1])
    assert submission is not None
    return submission


# ---- create ---------------------------------------------------------------------------------


def test_a_completed_response_becomes_a_submission_like_the_native_post(
        client: FlaskClient, clinic: TenantCredentials, db_session: Session) -> None:
    via_fhir = post(client, clinic, answer(PUBLISHED, example()))
    issues = assert_outcome(via_fhir, 201)
    assert [i["severity"] for i in issues] == ["information"]
    native = client.post(SUBMISSIONS, json=example(), headers=clinic.headers("intake"))
    assert via_fhir.headers["Location"].startswith("/api/v1/submissions/")
    ours, theirs = (stored(db_session, r.headers["Location"]) for r in (via_fhir, native))
    assert (ours.answers, ours.respondent, ours.priority) == (
        theirs.answers, theirs.respondent, theirs.priority)
    assert ours.evaluation == theirs.evaluation
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.object_id == ours.id))
    assert [(e.action, e.actor_type, e.outcome) for e in events] == [
        ("submission.create", "intake_key", "success")]


def test_the_crisis_message_comes_first_when_a_suicide_risk_signal_is_present(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    issues = assert_outcome(post(client, clinic, answer(PUBLISHED, routed("critical"))), 201)
    crisis = issues[0]
    assert crisis["severity"] == "information"
    assert crisis["details"]["text"] == DEFAULT_CRISIS_MESSAGE
    assert crisis["details"]["coding"][0]["code"] == "show-crisis-resources"


def test_no_crisis_message_without_a_risk_signal(client: FlaskClient,
                                                 clinic: TenantCredentials) -> None:
    issues = assert_outcome(post(client, clinic, answer(PUBLISHED, routed("routine"))), 201)
    assert [i["details"]["coding"][0]["code"] for i in issues] == ["received"]


def test_prefer_representation_answers_the_stored_response(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    body = routed("urgent")
    created = post(client, clinic, answer(PUBLISHED, body), Prefer="return=representation")
    assert created.status_code == 201 and created.mimetype == FHIR_JSON
    resource = created.get_json()
    assert_valid_r4(resource)
    assert resource["id"] == created.headers["Location"].rsplit("/", 1)[1]
    assert resource["extension"][0]["valueString"] == DEFAULT_CRISIS_MESSAGE
    assert parse(resource, default_catalogue()).body == default_catalogue().load(body)


def test_prefer_minimal_answers_no_body(client: FlaskClient, clinic: TenantCredentials) -> None:
    created = post(client, clinic, answer(PUBLISHED, example()), Prefer="return=minimal")
    assert created.status_code == 201 and created.data == b""
    assert created.headers["Location"].startswith("/api/v1/submissions/")


def test_idempotency_key_replays_and_refuses_another_body(
        client: FlaskClient, clinic: TenantCredentials, db_session: Session) -> None:
    resource = answer(PUBLISHED, example())
    first = post(client, clinic, resource, **{"Idempotency-Key": "form-1"})
    again = post(client, clinic, resource, **{"Idempotency-Key": "form-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post(client, clinic, answer(PUBLISHED, routed("routine")),
                 **{"Idempotency-Key": "form-1"})
    issues = assert_outcome(other, 422)
    assert issues[0]["diagnostics"].startswith("Idempotency-Key: ")
    assert len(db_session.scalars(select(Submission)).all()) == 1


# ---- refusals -----------------------------------------------------------------------------------


def test_an_in_progress_response_is_refused(client: FlaskClient,
                                            clinic: TenantCredentials) -> None:
    resource = answer(PUBLISHED, example(), status="in-progress")
    issues = assert_outcome(post(client, clinic, resource), 422)
    assert issues[0]["expression"] == ["QuestionnaireResponse.status"]


def test_a_response_to_another_publishers_phq9_is_an_unknown_questionnaire(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    issues = assert_outcome(post(client, clinic, uwcirg_phq9_response()), 422)
    assert issues[0]["code"] == "not-found"
    assert "Unknown Questionnaire" in issues[0]["details"]["text"]


def test_missing_required_items_are_named_by_link_id(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    body = example()
    del body["answers"]["phq9"]["q3"], body["answers"]["asq"]["q2"]
    body["answers"]["treatment_history"]["antidepressant_trials"][1].pop("medication")
    issues = assert_outcome(post(client, clinic, answer(PUBLISHED, body)), 422)
    named = {i["diagnostics"].split(":")[0]: i for i in issues}
    assert set(named) == {"phq9.q3", "asq.q2", "treatment_history.antidepressant_trials.medication"}
    assert {i["code"] for i in issues} == {"required"}
    assert named["phq9.q3"]["expression"] == ["QuestionnaireResponse.item[1]"]
    assert named["treatment_history.antidepressant_trials.medication"]["expression"] == [
        "QuestionnaireResponse.item[4].item[1]"]


def test_out_of_domain_answers_are_refused_without_repeating_them(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    body = example()
    body["respondent"]["date_of_birth"] = "2999-12-31"
    body["answers"]["vitals"]["systolic_bp"] = 999
    response = post(client, clinic, answer(PUBLISHED, body))
    issues = assert_outcome(response, 422)
    assert {i["diagnostics"].split(":")[0] for i in issues} == {
        "respondent.date_of_birth", "vitals.systolic_bp"}
    assert b"2999" not in response.data and b"999," not in response.data


def test_a_body_that_is_not_a_questionnaire_response_is_400(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    issues = assert_outcome(post(client, clinic, {"resourceType": "Patient"}), 400)
    assert issues[0]["code"] == "structure"


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "login"),
    ({"Authorization": "Bearer ik_000000000000_nope"}, 401, "login"),
], ids=["no credential", "unknown key"])
def test_unauthenticated_posts_are_outcomes(client: FlaskClient, headers: dict[str, str],
                                            status: int, code: str) -> None:
    response = client.post(RESPONSES, json={}, content_type=FHIR_JSON, headers=headers)
    assert assert_outcome(response, status)[0]["code"] == code
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_clinician_may_not_post_responses(client: FlaskClient,
                                            clinic: TenantCredentials) -> None:
    response = client.post(RESPONSES, json=answer(PUBLISHED, example()),
                           content_type=FHIR_JSON, headers=clinic.headers("clinician"))
    assert assert_outcome(response, 403)[0]["code"] == "forbidden"


def test_media_type_and_syntax_errors_are_outcomes(client: FlaskClient,
                                                   clinic: TenantCredentials) -> None:
    headers = clinic.headers("intake")
    plain = client.post(RESPONSES, data="{}", content_type="text/plain", headers=headers)
    assert assert_outcome(plain, 415)[0]["code"] == "not-supported"
    broken = client.post(RESPONSES, data="{", content_type=FHIR_JSON, headers=headers)
    assert_outcome(broken, 400)


def test_plain_application_json_is_accepted(client: FlaskClient,
                                            clinic: TenantCredentials) -> None:
    response = client.post(RESPONSES, json=answer(PUBLISHED, example()),
                           headers=clinic.headers("intake"))
    assert response.status_code == 201


def test_routing_errors_under_fhir_are_outcomes(client: FlaskClient) -> None:
    assert assert_outcome(client.get("/fhir/Patient/1"), 404)[0]["code"] == "not-found"
    not_allowed = client.delete("/fhir/Questionnaire/ketamine-intake")
    assert assert_outcome(not_allowed, 405)[0]["code"] == "not-supported"
    assert "GET" in not_allowed.headers["Allow"]
    assert not_allowed.headers["X-Content-Type-Options"] == "nosniff"


def test_too_large_bodies_are_outcomes(make_app: Any, clinic: TenantCredentials) -> None:
    client = make_app().test_client()
    response = client.post(RESPONSES, data="{" + " " * 70_000 + "}", content_type=FHIR_JSON,
                           headers=clinic.headers("intake"))
    assert assert_outcome(response, 413)[0]["code"] == "too-costly"


def test_rate_limited_requests_are_outcomes(make_app: Any) -> None:
    client = make_app(RATE_LIMIT="1/minute").test_client()
    client.get("/fhir/metadata")
    limited = client.get("/fhir/metadata")
    assert assert_outcome(limited, 429)[0]["code"] == "throttled"
    assert "Retry-After" in limited.headers


# ---- metadata -------------------------------------------------------------------------------


def test_capability_statement_is_valid_r4_and_lists_exactly_the_served_interactions(
        client: FlaskClient, app: Flask) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200 and response.mimetype == FHIR_JSON
    statement = response.get_json()
    assert_valid_r4(statement)
    listed = {(r["type"], i["code"]) for r in statement["rest"][0]["resource"]
              for i in r["interaction"]}
    assert listed == {(kind, code) for kind, code, *_ in INTERACTIONS}
    served = {(method, rule.rule.removeprefix("/fhir")) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/fhir/") and rule.rule != "/fhir/metadata"
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert served == {(method, path) for *_, method, path in INTERACTIONS}


def test_unexpected_errors_under_fhir_are_fatal_outcomes_without_internals(
        make_app: Any) -> None:
    app = make_app()

    def failing_view() -> Any:
        raise RuntimeError("internal detail")

    app.add_url_rule("/fhir/failing", "fhir_failing", failing_view)
    response = app.test_client().get("/fhir/failing")
    issues = assert_outcome(response, 500)
    assert (issues[0]["severity"], issues[0]["code"]) == ("fatal", "exception")
    assert b"internal detail" not in response.data
