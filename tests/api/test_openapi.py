"""The OpenAPI document: valid OpenAPI 3.1, served as shipped, and exactly the app's routes.

The document is hand-written; these tests keep it honest against the application (every
route documented, nothing documented that is not served) and against the house rules of
the contract (shared spec §3 public operations, §8 problem responses).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from openapi_spec_validator import OpenAPIV31SpecValidator

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM = "application/problem+json"
FHIR = "application/fhir+json"  # errors under /fhir are OperationOutcomes
# Shared spec §3: the only operations anyone may call without a credential.
PUBLIC_OPERATIONS = {
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.yaml"),
    ("GET", "/api/v1/questionnaires"),
    ("GET", "/api/v1/questionnaires/{id}"),
    # FHIR servers publish their CapabilityStatement and (here) Questionnaires openly.
    ("GET", "/fhir/metadata"),
    ("GET", "/fhir/Questionnaire"),
    ("GET", "/fhir/Questionnaire/{id}"),
}
# Health probes are never rate limited (load balancers poll them).
NOT_RATE_LIMITED = {("GET", "/health"), ("GET", "/health/ready")}
# Query parameters whose bad values answer 422 naming the parameter.
PAGING = {"limit", "cursor"}
_FLASK_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@cache
def document() -> dict[str, Any]:
    """The parsed document at the repository root."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every documented operation as (METHOD, path, operation object)."""
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def operation_ids() -> list[str]:
    return [f"{method} {path}" for method, path, _ in operations()]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (one level is all the document uses for responses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return resolve(target)


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every route of the app, without HEAD/OPTIONS, static
    files and the review console (HTML pages for people, not part of the API contract)."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if rule.endpoint.startswith("console."):
            continue
        path = _FLASK_PARAMETER.sub(r"{\1}", rule.rule)
        served |= {(m, path) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    return served


def test_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.1.")
    errors = [str(e) for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_document_validation_rejects_a_parameter_in_an_unknown_place() -> None:
    broken = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    broken["paths"]["/api/v1/queue"]["get"]["parameters"].append(
        {"name": "x", "in": "body", "schema": {"type": "string"}}
    )
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())


def test_root_document_is_the_packaged_document() -> None:
    packaged = files("screening").joinpath("openapi.yaml").read_bytes()
    assert packaged == DOCUMENT_PATH.read_bytes()


def test_wheels_ship_the_document_as_package_data() -> None:
    pyproject = tomllib.loads((DOCUMENT_PATH.parent / "pyproject.toml").read_text("utf-8"))
    assert "openapi.yaml" in pyproject["tool"]["setuptools"]["package-data"]["screening"]
    # The root document is the package's file itself, so the two cannot drift apart.
    assert DOCUMENT_PATH.resolve() == DOCUMENT_PATH.parent / "screening" / "openapi.yaml"


def test_get_openapi_yaml_serves_the_document(client: Any) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == DOCUMENT_PATH.read_bytes()
    assert yaml.safe_load(response.data) == document()


def test_every_route_is_documented_and_every_operation_is_served(app: Flask) -> None:
    served = served_operations(app)
    documented = {(method, path) for method, path, _ in operations()}
    assert sorted(served - documented) == [], "routes missing from openapi.yaml"
    assert sorted(documented - served) == [], "operations in openapi.yaml the app lacks"


def test_route_conversion_covers_converters_and_ignores_static() -> None:
    app = Flask(__name__, static_folder=None)
    app.add_url_rule("/a/<uuid:id>/b/<name>", "x", lambda **_: "", methods=["GET", "POST"])
    assert served_operations(app) == {("GET", "/a/{id}/b/{name}"), ("POST", "/a/{id}/b/{name}")}


@pytest.mark.parametrize(("method", "path", "operation"), list(operations()), ids=operation_ids())
def test_operation_says_what_it_does_and_who_may_call(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    assert operation.get("summary")
    assert "**Who may call:**" in operation.get("description", "")
    assert operation.get("operationId")


@pytest.mark.parametrize(("method", "path", "operation"), list(operations()), ids=operation_ids())
def test_only_the_public_operations_go_without_credentials(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    security = operation.get("security", document()["security"])
    if (method, path) in PUBLIC_OPERATIONS:
        assert security == []
    else:
        assert security == [{"bearerAuth": []}]


def expected_problem_statuses(method: str, path: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses an operation can answer, from what it takes (shared spec §1, §8)."""
    expected = {"500"}
    if (method, path) not in NOT_RATE_LIMITED:
        expected.add("429")
    if (method, path) not in PUBLIC_OPERATIONS:
        expected |= {"401", "403"}
    if "{" in path:
        expected.add("404")
    if "requestBody" in operation:
        expected |= {"400", "413", "415", "422"}
    if any(resolve(p)["name"] in PAGING for p in operation.get("parameters", [])):
        expected.add("422")
    if path == "/health/ready":
        expected.add("503")
    return expected


@pytest.mark.parametrize(("method", "path", "operation"), list(operations()), ids=operation_ids())
def test_operation_documents_the_problems_it_can_answer(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    documented = {s for s in operation["responses"] if s[0] in "45"}
    assert documented >= expected_problem_statuses(method, path, operation)


@pytest.mark.parametrize(("method", "path", "operation"), list(operations()), ids=operation_ids())
def test_every_error_is_a_problem_and_every_response_has_a_request_id(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    for status, reference in operation["responses"].items():
        response = resolve(reference)
        assert "X-Request-ID" in response.get("headers", {}), status
        if status[0] in "45":
            media, schema = (FHIR, "OperationOutcome") if path.startswith("/fhir/") else (
                PROBLEM, "Problem")
            assert set(response["content"]) == {media}, status
            assert response["content"][media]["schema"] == {
                "$ref": f"#/components/schemas/{schema}"
            }
        if status == "401":
            assert "WWW-Authenticate" in response["headers"]
        if status == "429":
            assert "Retry-After" in response["headers"]

