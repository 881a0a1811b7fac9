"""The OpenAPI description of ``POST /fhir/QuestionnaireResponse`` says what the service
does: every ``Prefer: return=`` it honours is listed, and the ``questionnaire`` it refuses
when empty is described with ``minLength: 1``."""

from __future__ import annotations

from typing import Any

import jsonschema
from flask.testing import FlaskClient

from rules.questionnaire import KETAMINE_INTAKE
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.questionnaire import to_resource
from tests.api.bodies import example
from tests.api.conftest import TenantCredentials
from tests.api.fhir_answering import answer
from tests.api.test_openapi import document, resolve

RESPONSES = "/fhir/QuestionnaireResponse"


def operation() -> dict[str, Any]:
    found: dict[str, Any] = document()["paths"][RESPONSES]["post"]
    return found


def prefer_values() -> list[str]:
    [prefer] = [p for p in map(resolve, operation()["parameters"]) if p["name"] == "Prefer"]
    values: list[str] = prefer["schema"]["enum"]
    return values


def post(client: FlaskClient, clinic: TenantCredentials, resource: Any,
         **headers: str) -> Any:
    return client.post(RESPONSES, json=resource, content_type=FHIR_JSON,
                       headers={**clinic.headers("intake"), **headers})


def test_every_documented_prefer_value_is_honoured_and_none_is_missing(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    assert sorted(prefer_values()) == sorted(
        ["return=OperationOutcome", "return=representation", "return=minimal"])
    answered = {}
    for value in prefer_values():
        body = example()
        body["respondent"]["external_id"] = value  # a new submission each time
        response = post(client, clinic, answer(to_resource(KETAMINE_INTAKE), body),
                        Prefer=value)
        assert response.status_code == 201, response.get_data(as_text=True)
        answered[value] = (response.get_json() or {}).get("resourceType")
    assert answered == {"return=OperationOutcome": "OperationOutcome",
                        "return=representation": "QuestionnaireResponse",
                        "return=minimal": None}


def test_an_empty_questionnaire_reference_is_refused_and_documented_as_such(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    schema = document()["components"]["schemas"]["FhirQuestionnaireResponse"]
    assert schema["properties"]["questionnaire"]["minLength"] == 1
    resource = answer(to_resource(KETAMINE_INTAKE), example())
    resource["questionnaire"] = ""
    assert not jsonschema.Draft202012Validator(schema).is_valid(resource)
    assert post(client, clinic, resource).status_code == 422
