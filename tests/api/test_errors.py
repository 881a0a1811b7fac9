"""Every error is application/problem+json (RFC 9457) with no submitted value and no
internals; Werkzeug's headers (Allow, WWW-Authenticate) survive."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Blueprint, Flask

from screening import errors
from screening.web.api._json import json_body
from screening.web.auth import public

SECRET_VALUE = "Ada-Byron-1990-04-12"

probe = Blueprint("probe", __name__, url_prefix="/probe")


@probe.post("/echo")
@public
def echo() -> dict[str, Any]:
    body = json_body()
    return {"type": type(body).__name__}


@probe.get("/boom")
@public
def boom() -> None:
    raise RuntimeError(f"internal detail {SECRET_VALUE}")


@probe.get("/invalid")
@public
def invalid() -> None:
    raise errors.Unprocessable({"respondent.date_of_birth": ["Not a valid date."]})


@probe.get("/conflict")
@public
def conflict() -> None:
    raise errors.Conflict("Another clinician holds the claim.")


@pytest.fixture
def probe_app(make_app: Any) -> Flask:
    return make_app(api_blueprints=[probe])


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["type"] == errors.PROBLEM_TYPE_BASE + slug
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.path
    return body


def test_unknown_route_is_a_404_problem(client: Any) -> None:
    assert_problem(client.get("/no/such/path?x=1"), 404, "not-found")


def test_405_keeps_the_allow_header(client: Any) -> None:
    response = client.delete("/health")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_413_above_64_kib(probe_app: Flask) -> None:
    body = json.dumps({"pad": "x" * (64 * 1024)})
    response = probe_app.test_client().post(
        "/api/v1/probe/echo", data=body, content_type="application/json"
    )
    assert_problem(response, 413, "payload-too-large")


def test_body_of_exactly_64_kib_is_accepted(probe_app: Flask) -> None:
    body = '"' + "x" * (64 * 1024 - 2) + '"'
    response = probe_app.test_client().post(
        "/api/v1/probe/echo", data=body, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json == {"type": "str"}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)
def test_415_when_the_body_is_not_json(probe_app: Flask, content_type: str | None) -> None:
    response = probe_app.test_client().post(
        "/api/v1/probe/echo", data="{}", content_type=content_type
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_json_with_charset_and_structured_suffix_is_accepted(probe_app: Flask) -> None:
    client = probe_app.test_client()
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post("/api/v1/probe/echo", data="{}", content_type=content_type)
        assert response.json == {"type": "dict"}


@pytest.mark.parametrize(
    "raw",
    [
        '{"given_name": "' + SECRET_VALUE + '"',
        "NaN",
        '{"a": Infinity}',
        b"\xff\xfe{",
        "[" * 5000 + "]" * 5000,
        "",
    ],
    ids=["truncated", "nan", "infinity", "bad-utf8", "deep-nesting", "empty"],
)
def test_malformed_json_is_a_400_that_echoes_nothing(probe_app: Flask, raw: str | bytes) -> None:
    response = probe_app.test_client().post(
        "/api/v1/probe/echo", data=raw, content_type="application/json"
    )
    body = assert_problem(response, 400, "bad-request")
    assert SECRET_VALUE not in json.dumps(body)


def test_500_shows_no_internals(probe_app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    response = probe_app.test_client().get("/api/v1/probe/boom")
    body = assert_problem(response, 500, "internal-error")
    assert body["detail"] == "An unexpected error occurred."
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert SECRET_VALUE not in response.get_data(as_text=True)
    logged = capsys.readouterr().err
    assert "RuntimeError" in logged
    assert SECRET_VALUE not in logged


def test_422_carries_field_errors(probe_app: Flask) -> None:
    body = assert_problem(
        probe_app.test_client().get("/api/v1/probe/invalid"), 422, "validation-failed"
    )
    assert body["errors"] == {"respondent.date_of_birth": ["Not a valid date."]}


def test_screening_errors_render_their_status_and_detail(probe_app: Flask) -> None:
    body = assert_problem(probe_app.test_client().get("/api/v1/probe/conflict"), 409, "conflict")
    assert body["detail"] == "Another clinician holds the claim."


@pytest.mark.parametrize(
    "error_class",
    [
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.PreconditionFailed,
        errors.PayloadTooLarge,
        errors.UnsupportedMediaType,
        errors.PreconditionRequired,
        errors.ServiceUnavailable,
    ],
)
def test_every_error_class_is_a_screening_error_with_an_http_status(error_class: type) -> None:
    error = error_class()
    assert isinstance(error, errors.ScreeningError)
    assert 400 <= error.status < 600
    assert error.detail == error.title
