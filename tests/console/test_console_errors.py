"""Console errors are HTML pages for people: the API's rate limit (static files exempt),
an unexpected failure (no internals, nothing kept), and the absolute session lifetime."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.web.console import guard, pages
from tests.console.signing_in import ConsoleLogin, add_console_user, sign_in


def test_the_api_rate_limit_answers_an_html_page_and_spares_static_files(
    make_app: Callable[..., Flask], clinic: object
) -> None:
    app = make_app(SECRET_KEY="s" * 40, RATE_LIMIT="3/minute")
    client = app.test_client()
    statuses = [client.get("/console/login").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/console/login")
    assert limited.mimetype == "text/html" and "Retry-After" in limited.headers
    assert "Too many attempts" in limited.get_data(as_text=True)
    with client.get("/console/static/console.css") as stylesheet:
        assert stylesheet.status_code == 200


def test_an_unexpected_failure_is_a_plain_500_page(
    console_app: Flask, reviewer: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("SELECT given_name FROM secrets")

    monkeypatch.setattr(pages, "queue_rows", broken)
    response = reviewer.get("/console/queue")
    assert response.status_code == 500 and response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Nothing was changed" in body
    assert "given_name" not in body and "RuntimeError" not in body


def test_a_session_older_than_its_lifetime_is_refused_even_when_busy(
    console_app: Flask, monkeypatch: pytest.MonkeyPatch, clinic: object
) -> None:
    login: ConsoleLogin = add_console_user(console_app, "alpha", "long@alpha.example",
                                           "clinician")
    client = console_app.test_client()
    sign_in(client, login)
    assert client.get("/console/queue").status_code == 200
    monkeypatch.setattr(guard, "MAX_SESSION_HOURS", -1)
    assert client.get("/console/queue").status_code == 303


def test_a_path_under_the_console_no_route_matches_is_an_html_page_with_the_policy(
    console_client: FlaskClient,
) -> None:
    missing = console_client.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "There is nothing at this address." in missing.get_data(as_text=True)
    assert "style-src 'self'" in missing.headers["Content-Security-Policy"]
    wrong_method = console_client.delete("/console/login")
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    assert "POST" in wrong_method.headers["Allow"]


def test_the_same_unknown_path_elsewhere_is_a_problem_or_an_operation_outcome(
    console_client: FlaskClient,
) -> None:
    api = console_client.get("/api/v1/no-such-resource")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert "style-src" not in api.headers["Content-Security-Policy"]
    fhir = console_client.get("/fhir/NoSuchResource")
    assert fhir.status_code == 404 and fhir.mimetype == "application/fhir+json"
    assert fhir.get_json(force=True)["resourceType"] == "OperationOutcome"
