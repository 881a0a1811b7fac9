"""Property-based conformance: schemathesis generates requests from openapi.yaml and checks
that the application answers them as the document says (status codes, media types,
headers and bodies) and never with a server error.

Credentials are injected per operation (intake key for creating submissions, admin token
for the audit log, clinician token for the other protected reads); public operations are
called without one. Every run starts from a clinic holding a few submissions (the
document's own example and two extremes) so that lists, the queue and the audit log have
items to conform, and every submission the fuzzer manages to create is read back in full.
Generation is derandomized and bounded so a run is reproducible and stays well under a
minute per database engine.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import TenantCredentials
from tests.api.test_openapi import DOCUMENT_PATH, document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 40
# The role whose credential each protected operation is called with; "clinician" otherwise.
ROLE_FOR = {
    ("POST", "/api/v1/submissions"): "intake",
    ("POST", "/fhir/QuestionnaireResponse"): "intake",
    ("GET", "/api/v1/audit"): "admin",
    ("POST", "/api/v1/webhooks"): "admin",
    ("GET", "/api/v1/webhooks"): "admin",
    ("DELETE", "/api/v1/webhooks/{id}"): "admin",
    ("POST", "/api/v1/webhooks/{id}/rotate-secret"): "admin",
    ("GET", "/api/v1/webhooks/{id}/deliveries"): "admin",
    ("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"): "admin",
}
IDEMPOTENCY_KEY = "Idempotency-Key"
_VALID_KEY = re.compile(r"[!-~]{1,200}")

# Loaded from the file (tests/api/test_openapi.py proves the app serves exactly these bytes).
# Not ``schemathesis.pytest.from_fixture``: its lazy loader writes ``request.node._nodeid``,
# which pytest 9.2 no longer has; the app is handed to each call instead.
# Creating a submission is the costliest call (evaluation, audit chain, idempotency record):
# its coverage phase sends only negative data, valid bodies come from the examples and
# fuzzing phases and the seeds, which keeps a run under a minute on PostgreSQL too.
CONFIG = schemathesis.Config.from_dict({
    "operations": [{
        "include-path": "/api/v1/submissions",
        "include-method": "POST",
        "phases": {"coverage": {"generation": {"mode": "negative"}}},
    }],
})
schema = schemathesis.openapi.from_path(DOCUMENT_PATH, config=CONFIG)
CREATE = schema["/api/v1/submissions"]["POST"]
READ = schema["/api/v1/submissions/{id}"]["GET"]


def example_body() -> dict[str, Any]:
    """The request example of the document (shared spec §4)."""
    content = document()["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"]
    return copy.deepcopy(content["application/json"]["example"])


def every_section_raising_every_flag() -> dict[str, Any]:
    """Acute suicide risk, every screen positive, every history and medication item yes
    or unsure, severe blood pressure, aged over 65."""
    body = example_body()
    body["respondent"] = {"date_of_birth": "1950-02-28", "sex_at_birth": "male"}
    yes = {f"q{n}": "yes" for n in range(1, 11)}
    answers = body["answers"]
    answers["phq9"] = {**{f"q{n}": 3 for n in range(1, 10)}, "difficulty": 3}
    answers["asq"] = {"q1": "yes", "q2": "yes", "q3": "yes", "q4": "yes", "q5": "yes"}
    answers["cssrs"] = {**{k: "yes" for k in list(yes)[:6]}, "q6_recent": "yes"}
    answers["mdq"] = {"q1": ["yes"] * 13, "q2": "yes", "q3": "serious"}
    answers["pcl5"] = {f"q{n}": 4 for n in range(1, 21)}
    answers["audit_c"] = {"q1": 4, "q2": 4, "q3": 4}
    answers["dast10"] = {**yes, "q3": "no"}
    schemas = document()["components"]["schemas"]
    answers["medical_history"] = {k: "unsure" for k in schemas["MedicalHistory"]["properties"]}
    answers["medications"] = {k: "yes" for k in schemas["Medications"]["properties"]}
    answers["reproductive"] = {"pregnant": "unsure", "breastfeeding": "yes"}
    answers["vitals"] = {"systolic_bp": 190, "diastolic_bp": 110}
    trial = {"medication": "x", "weeks": 6, "adequate_dose": "unsure",
             "taken_as_prescribed": "yes", "response": "stopped_side_effects"}
    answers["treatment_history"] = {"antidepressant_trials": [trial]}
    return body


def only_what_is_required() -> dict[str, Any]:
    """A minor with only the required sections, and optional instruments left incomplete."""
    return {
        "questionnaire": "ketamine-intake",
        "respondent": {"date_of_birth": "2012-02-29"},
        "answers": {
            "phq9": {f"q{n}": 0 for n in range(1, 10)},
            "asq": {"q1": "no", "q2": "no", "q3": "no", "q4": "no"},
            "gad7": {"q1": 1},
            "cssrs": {"q1": "no"},
            "mdq": {"q2": "yes"},
            "pcl5": {"q1": 4},
            "audit_c": {"q1": 2},
            "dast10": {"q1": "yes"},
            "treatment_history": {"antidepressant_trials": []},
        },
    }


SEED_BODIES = (example_body, every_section_raising_every_flag, only_what_is_required)


def authorize(case: schemathesis.Case, clinic: TenantCredentials) -> None:
    """Replace any generated ``Authorization`` with a valid credential of the right role;
    public operations (``security: []``) are called without one."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if case.operation.definition.raw.get("security") != []:
        role = ROLE_FOR.get((case.method.upper(), case.path), "clinician")
        headers.update(clinic.headers(role))
    case.headers = headers


def key_per_body(case: schemathesis.Case) -> None:
    """Make a generated, valid ``Idempotency-Key`` unique to its body, as a client keys one
    logical submission: otherwise the fuzzer's favourite key ``"0"`` is reused with every
    body and almost every example ends as "key reused with a different body" (422)."""
    key = (case.headers or {}).get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        digest = hashlib.sha256(repr(case.body).encode()).hexdigest()[:16]
        case.headers[IDEMPOTENCY_KEY] = f"{key}-{digest}"


def read_back(app: Flask, clinic: TenantCredentials, submission_id: str) -> dict[str, Any]:
    """The full read of a submission, checked against the document."""
    case = READ.Case(path_parameters={"id": submission_id}, headers=clinic.headers("clinician"))
    response = case.call_and_validate(app=app, checks=CHECKS)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def seeded(app: Flask, clinic: TenantCredentials) -> list[str]:
    """Ids of the seed submissions, created through the API and checked on the way."""
    ids = []
    for make_body in SEED_BODIES:
        case = CREATE.Case(body=make_body(), headers=clinic.headers("intake"),
                           media_type="application/json")
        response = case.call_and_validate(app=app, checks=CHECKS)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    # One app and one clinic serve every example of an operation on purpose: the data each
    # example leaves behind is more for the next to read.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_app_conforms_to_openapi_document(
    case: Any, app: Flask, clinic: TenantCredentials, seeded: list[str]
) -> None:
    authorize(case, clinic)
    key_per_body(case)
    response = case.call_and_validate(app=app, checks=CHECKS)
    if case.operation.label == CREATE.label and response.status_code == 201:
        read_back(app, clinic, response.json()["id"])


def test_seeded_submissions_read_back_as_documented(
    app: Flask, clinic: TenantCredentials, seeded: list[str]
) -> None:
    example, extreme, minimal = (read_back(app, clinic, sid) for sid in seeded)
    assert set(extreme["evaluation"]["scores"]) == {
        "phq9", "gad7", "asq", "cssrs", "mdq", "pcl5", "audit_c", "dast10"
    }
    assert {f["kind"] for f in extreme["evaluation"]["flags"]} == {
        "safety", "absolute_contraindication", "relative_contraindication", "caution",
        "screen_positive",
    }
    assert minimal["evaluation"]["scores"]["gad7"]["total"] is None
    assert example["evaluation"]["routing"]["priority"] == "high"


def test_idempotent_replay_is_documented(app: Flask, clinic: TenantCredentials) -> None:
    headers = {**clinic.headers("intake"), IDEMPOTENCY_KEY: "form-4711-attempt"}
    first, again = (
        CREATE.Case(body=example_body(), headers=dict(headers), media_type="application/json")
        .call_and_validate(app=app, checks=CHECKS)
        for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == ["true"]
    assert again.json()["id"] == first.json()["id"]


PROTECTED = [
    (method, path) for method, path, operation in (
        (m.upper(), p, o) for p, item in document()["paths"].items() for m, o in item.items()
    ) if operation.get("security") != []
]
# A credential that is valid but lacks the right for the operation (shared spec §1).
WRONG_ROLE_FOR = {
    ("POST", "/api/v1/submissions"): "clinician",
    ("POST", "/fhir/QuestionnaireResponse"): "clinician",
    ("GET", "/api/v1/audit"): "clinician",
}


def minimal_case(method: str, path: str, headers: dict[str, str]) -> schemathesis.Case:
    """A well-formed request to one operation, with the given headers."""
    operation = schema[path][method]
    kwargs: dict[str, Any] = {"headers": headers}
    if "{id}" in path:
        kwargs["path_parameters"] = {"id": "00000000-0000-4000-8000-000000000000"}
    if "{delivery_id}" in path:
        kwargs["path_parameters"]["delivery_id"] = "00000000-0000-4000-8000-000000000001"
    if method == "POST":
        kwargs |= {"body": example_body(), "media_type": "application/json"}
    return operation.Case(**kwargs)


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_denials_are_documented_problems(
    method: str, path: str, app: Flask, clinic: TenantCredentials
) -> None:
    wrong_role = WRONG_ROLE_FOR.get((method, path), "intake")
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer ut_000000000000_not-a-token"}, 401),
        (clinic.headers(wrong_role), 403),
    ):
        response = minimal_case(method, path, headers).call_and_validate(app=app, checks=CHECKS)
        assert response.status_code == status


def test_another_clinics_submission_is_a_documented_404(
    app: Flask, seeded: list[str], other_clinic: TenantCredentials
) -> None:
    case = READ.Case(path_parameters={"id": seeded[0]}, headers=other_clinic.headers("clinician"))
    assert case.call_and_validate(app=app, checks=CHECKS).status_code == 404


def test_oversized_body_is_a_documented_413(app: Flask, clinic: TenantCredentials) -> None:
    body = example_body()
    body["respondent"]["given_name"] = "x" * (64 * 1024)
    case = CREATE.Case(body=body, headers=clinic.headers("intake"), media_type="application/json")
    assert case.call_and_validate(app=app, checks=CHECKS).status_code == 413


def test_rate_limit_is_a_documented_429(make_app: Any, clinic: TenantCredentials) -> None:
    limited = make_app(RATE_LIMIT="2/minute")
    statuses = [
        minimal_case("GET", "/api/v1/queue", clinic.headers("clinician"))
        .call_and_validate(app=limited, checks=CHECKS).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
