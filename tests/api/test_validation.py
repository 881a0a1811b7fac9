"""422 validation of ``POST /api/v1/submissions`` against the ketamine-intake definition
(shared spec §4 required items and answer domains, §8 problem details)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials

PROBLEM = "application/problem+json"
REQUIRED = "Missing data for required field."
ASQ_Q5_GATE = ('Must not be answered unless answers.asq.q1 is "yes" or answers.asq.q2 is "yes" '
               'or answers.asq.q3 is "yes" or answers.asq.q4 is "yes".')


def errors_of(client: FlaskClient, creds: TenantCredentials, body: Any) -> dict[str, list[str]]:
    response = client.post(SUBMISSIONS, data=json.dumps(body), headers={
        **creds.headers("intake"), "Content-Type": "application/json"})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem)
    assert (problem["status"], problem["instance"]) == (422, SUBMISSIONS)
    return problem["errors"]


def test_every_offending_path_is_named_at_once(client: FlaskClient,
                                               clinic: TenantCredentials) -> None:
    body = example()
    body["source"] = "web"                                   # unknown top-level field
    body["respondent"]["middle_name"] = "x"                   # unknown respondent field
    answers = body["answers"]
    for item in ("q3", "q4", "q5", "q6", "q7", "q8", "q9"):   # missing required PHQ-9 items
        del answers["phq9"][item]
    answers["phq9"]["q1"] = True                              # bool for int
    answers["phq9"]["q2"] = "3"                               # numeric string for int
    answers["gad7"]["q1"] = 4                                 # out of domain
    answers["gad7"]["q8"] = 0                                 # unknown item
    answers["asq"]["q5"] = "no"                               # given while q1-q4 are all no
    answers["vitals"]["systolic_bp"] = 301                    # above physiological bound
    answers["treatment_history"]["antidepressant_trials"][1]["weeks"] = 8.5
    answers["medical_history"]["psychosis"] = "maybe"
    answers["reproductive"]["pregnant"] = None
    errors = errors_of(client, clinic, body)
    assert errors == {
        "source": ["Unknown field."],
        "respondent.middle_name": ["Unknown field."],
        "answers.phq9.q1": ["Not a valid integer."],
        "answers.phq9.q2": ["Not a valid integer."],
        **{f"answers.phq9.q{n}": [REQUIRED] for n in range(3, 10)},
        "answers.gad7.q1": ["Must be one of: 0, 1, 2, 3."],
        "answers.gad7.q8": ["Unknown field."],
        "answers.asq.q5": [ASQ_Q5_GATE],
        "answers.vitals.systolic_bp": [
            "Must be greater than or equal to 50 and less than or equal to 300."],
        "answers.treatment_history.antidepressant_trials.1.weeks": ["Not a valid integer."],
        "answers.medical_history.psychosis": ["Must be one of: yes, no, unsure."],
        "answers.reproductive.pregnant": ["Field may not be null."],
    }


@pytest.mark.parametrize("positive", ["q1", "q2", "q3", "q4"])
def test_asq_q5_is_required_when_any_of_q1_to_q4_is_yes(
        client: FlaskClient, clinic: TenantCredentials, positive: str) -> None:
    body = example()
    body["answers"]["asq"][positive] = "yes"
    assert errors_of(client, clinic, body) == {"answers.asq.q5": [REQUIRED]}
    body["answers"]["asq"]["q5"] = "no"
    assert client.post(SUBMISSIONS, json=body,
                       headers=clinic.headers("intake")).status_code == 201


def test_required_sections_and_date_of_birth(client: FlaskClient,
                                             clinic: TenantCredentials) -> None:
    body = example()
    for section in ("phq9", "asq", "treatment_history"):
        del body["answers"][section]
    del body["respondent"]["date_of_birth"]
    assert errors_of(client, clinic, body) == {
        "respondent.date_of_birth": [REQUIRED],
        "answers.phq9": [REQUIRED],
        "answers.asq": [REQUIRED],
        "answers.treatment_history": [REQUIRED],
    }


def test_trials_may_be_empty_but_not_missing(client: FlaskClient,
                                             clinic: TenantCredentials) -> None:
    body = example()
    body["answers"]["treatment_history"] = {}
    assert errors_of(client, clinic, body) == {
        "answers.treatment_history.antidepressant_trials": [REQUIRED]}
    body["answers"]["treatment_history"]["antidepressant_trials"] = []
    assert client.post(SUBMISSIONS, json=body,
                       headers=clinic.headers("intake")).status_code == 201


def test_optional_sections_may_be_left_out(client: FlaskClient,
                                           clinic: TenantCredentials) -> None:
    body = example()
    for section in ("gad7", "medical_history", "medications", "reproductive", "vitals"):
        del body["answers"][section]
    assert client.post(SUBMISSIONS, json=body,
                       headers=clinic.headers("intake")).status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"questionnaire": "phq-only"}, "questionnaire", "Unknown questionnaire."),
        ({"questionnaire_version": "2"}, "questionnaire_version",
         "Unknown questionnaire version."),
        ({"questionnaire_version": 1}, "questionnaire_version", "Not a valid string."),
    ],
    ids=["unknown questionnaire", "unknown version", "version not a string"],
)
def test_unknown_questionnaire_or_version_names_the_field(
        client: FlaskClient, clinic: TenantCredentials, change: dict[str, Any], field: str,
        message: str) -> None:
    assert errors_of(client, clinic, {**example(), **change}) == {field: [message]}


def test_missing_questionnaire_is_required(client: FlaskClient,
                                           clinic: TenantCredentials) -> None:
    body = example()
    del body["questionnaire"]
    assert errors_of(client, clinic, body) == {"questionnaire": [REQUIRED]}


@pytest.mark.parametrize("body", [[], "text", 3, None], ids=["list", "string", "number", "null"])
def test_body_that_is_not_an_object_is_422(client: FlaskClient, clinic: TenantCredentials,
                                           body: Any) -> None:
    assert errors_of(client, clinic, body) == {"_schema": ["Invalid input type."]}


def test_mdq_q1_needs_exactly_13_answers(client: FlaskClient,
                                         clinic: TenantCredentials) -> None:
    body = example()
    body["answers"]["mdq"] = {"q1": ["yes"] * 12, "q2": "no", "q3": "none"}
    assert errors_of(client, clinic, body) == {"answers.mdq.q1": ["Length must be 13."]}


def test_more_than_50_trials_is_422(client: FlaskClient, clinic: TenantCredentials) -> None:
    body = example()
    body["answers"]["treatment_history"]["antidepressant_trials"] = [
        {"medication": "x"}] * 51
    assert errors_of(client, clinic, body) == {
        "answers.treatment_history.antidepressant_trials": ["Longer than maximum length 50."]}


def test_date_of_birth_in_the_future_is_422(client: FlaskClient,
                                            clinic: TenantCredentials) -> None:
    body = example()
    body["respondent"]["date_of_birth"] = "2999-01-01"
    assert errors_of(client, clinic, body) == {
        "respondent.date_of_birth": ["Must not be in the future."]}


@pytest.mark.parametrize("value", ["", " ", "a b", "é", "x" * 256])
def test_bad_idempotency_key_is_422_naming_the_header(
        client: FlaskClient, clinic: TenantCredentials, value: str) -> None:
    response = client.post(SUBMISSIONS, json=example(), headers={
        **clinic.headers("intake"), "Idempotency-Key": value})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["Idempotency-Key"]
