"""A suicide-risk answer is never refused (shared spec §4, §6; clinical reference §3.4):
ASQ q5 yes after four no, C-SSRS answers outside the screener's skip pattern and C-SSRS
q6 yes without its recency are stored, flagged acute, routed critical and answered with
the crisis message. Other answers to disabled items stay refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rules import DEFAULT_CRISIS_MESSAGE
from rules.questionnaire import KETAMINE_INTAKE
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.questionnaire import ACCEPT_WHEN_DISABLED, to_resource
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials
from tests.api.fhir_answering import answer
from tests.api.test_submissions import stored

PUBLISHED = to_resource(KETAMINE_INTAKE)
ASQ_ALL_NO = {"q1": "no", "q2": "no", "q3": "no", "q4": "no"}


def with_answers(**sections: dict[str, Any]) -> dict[str, Any]:
    body = example()
    body["answers"]["medical_history"]["uncontrolled_hypertension"] = "no"
    body["answers"].update(sections)
    return body


def accepted_as_acute(client: FlaskClient, clinic: TenantCredentials,
                      response: Any) -> dict[str, Any]:
    """The submission was created with the crisis message and is critical for review;
    returns its suicide-risk flag."""
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["safety"] == {"show_crisis_resources": True,
                                 "message": DEFAULT_CRISIS_MESSAGE}
    full = client.get(f"{SUBMISSIONS}/{created['id']}", headers=clinic.headers("clinician"))
    evaluation = full.get_json()["evaluation"]
    assert full.get_json()["priority"] == "critical"
    assert evaluation["routing"] == {"priority": "critical",
                                     "reasons": ["flag:suicide_risk_acute"]}
    [flag] = [f for f in evaluation["flags"] if f["kind"] == "safety"]
    assert flag["id"] == "suicide_risk_acute"
    return {"flag": flag, "answers": full.get_json()["answers"], "scores": evaluation["scores"]}


def test_nimh_asq_q5_yes_after_four_no_is_stored_acute_and_critical(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    body = with_answers(asq={**ASQ_ALL_NO, "q5": "yes"})
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    seen = accepted_as_acute(client, clinic, response)
    assert seen["answers"]["asq"] == {**ASQ_ALL_NO, "q5": "yes"}
    assert seen["scores"]["asq"] == {"result": "acute_positive"}
    assert seen["flag"]["answer"] == {"asq.q5": "yes"}
    assert "not left alone" in seen["flag"]["detail"]
    assert len(stored(app)) == 1


def test_asq_q5_no_after_four_no_stays_refused_and_nothing_is_stored(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    body = with_answers(asq={**ASQ_ALL_NO, "q5": "no"})
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == ["answers.asq.q5"]
    assert stored(app) == []


@pytest.mark.parametrize("cssrs", [
    pytest.param({"q1": "no", "q2": "no", "q4": "yes", "q6": "no"},
                 id="Columbia screener: q4 yes although q2 no skips it"),
    pytest.param({"q1": "no", "q2": "no", "q3": "no", "q4": "no", "q5": "yes", "q6": "no"},
                 id="Columbia screener: q3-q5 sent after q2 no, q5 yes"),
    pytest.param({"q1": "no", "q2": "no", "q6": "no", "q6_recent": "no", "q5": "yes"},
                 id="Columbia screener: recency sent although q6 no"),
])
def test_columbia_answers_outside_the_skip_pattern_are_accepted(
        client: FlaskClient, clinic: TenantCredentials, cssrs: dict[str, str]) -> None:
    body = with_answers(cssrs=cssrs)
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    seen = accepted_as_acute(client, clinic, response)
    assert seen["answers"]["cssrs"] == cssrs
    assert seen["scores"]["cssrs"] == {"risk": "high"}


def test_columbia_triage_q6_yes_without_recency_is_acute_and_says_recency_was_unknown(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    body = with_answers(cssrs={"q1": "no", "q2": "no", "q6": "yes"})
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    seen = accepted_as_acute(client, clinic, response)
    assert seen["flag"]["answer"] == {"cssrs.q6": "yes"}
    assert "recency unknown" in seen["flag"]["detail"]
    assert "Columbia" in seen["flag"]["source"]
    assert seen["scores"]["cssrs"] == {"risk": "high"}


def test_the_published_questionnaire_marks_the_answers_accepted_when_disabled() -> None:
    marks = {item["linkId"]: [e["valueCoding"]["code"] for e in item.get("extension", [])
                              if e["url"] == ACCEPT_WHEN_DISABLED]
             for group in PUBLISHED["item"] for item in group.get("item", [])}
    assert marks["asq.q5"] == ["yes"]
    assert marks["asq.q1"] == []
    for name in ("q1", "q2", "q3", "q4", "q5", "q6", "q6_recent"):
        assert marks[f"cssrs.{name}"] == ["yes", "no"]
    assert marks["phq9.q9"] == []


def test_a_fhir_response_with_asq_q5_yes_after_four_no_is_accepted_as_acute(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    resource = answer(PUBLISHED, with_answers(asq={**ASQ_ALL_NO, "q5": "yes"}))
    response = client.post("/fhir/QuestionnaireResponse", json=resource,
                           content_type=FHIR_JSON, headers=clinic.headers("intake"))
    assert response.status_code == 201, response.get_data(as_text=True)
    submission_id = response.headers["Location"].rsplit("/", 1)[1]
    full = client.get(f"{SUBMISSIONS}/{submission_id}", headers=clinic.headers("clinician"))
    assert full.get_json()["priority"] == "critical"
