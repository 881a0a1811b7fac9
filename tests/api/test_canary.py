"""Patient data never leaks (shared spec §8): distinctive canary values sent in valid and
invalid requests must not appear in any error body, any log line or any URL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

import rules
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials

GIVEN = "Zqxwvjohanna"
FAMILY = "Qyzzkowalczyk"
EMAIL = "zqxwv.canary@example.org"
BIRTH = "1901-02-03"
PHONE = "+1 555 0199 7321"
EXTERNAL = "mrn-zqxwv-4711"
CANARIES = (GIVEN, FAMILY, EMAIL, BIRTH, PHONE, EXTERNAL)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__!r}")


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Every record reaching the ``screening`` loggers or the root logger (at the levels
    the service configures), with all its attributes."""
    handler = _Records()
    loggers = [logging.getLogger("screening"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


def canary_body() -> dict[str, Any]:
    body = example()
    body["respondent"].update(given_name=GIVEN, family_name=FAMILY, email=EMAIL,
                              date_of_birth=BIRTH, phone=PHONE, external_id=EXTERNAL)
    return body


def invalid_bodies() -> Iterator[dict[str, Any]]:
    """Canaries in every place a validation error can name."""
    body = canary_body()
    body["respondent"]["given_name"] = GIVEN * 20                   # too long
    body["respondent"]["date_of_birth"] = BIRTH + "T00:00"        # not a plain date
    body["answers"]["phq9"]["q1"] = FAMILY                          # wrong type
    body["answers"]["asq"]["q1"] = EMAIL                            # out of domain
    body["answers"]["treatment_history"]["antidepressant_trials"][0]["weeks"] = PHONE
    body["answers"]["medical_history"][EMAIL] = "yes"               # unknown member
    body["answers"]["vitals"] = {PHONE: 120}
    body[BIRTH] = GIVEN
    yield body
    unknown_questionnaire = canary_body()
    unknown_questionnaire["questionnaire"] = GIVEN
    unknown_questionnaire["questionnaire_version"] = FAMILY
    yield unknown_questionnaire
    date_only = canary_body()
    date_only["respondent"]["date_of_birth"] = "2999-02-03"
    yield date_only


def assert_logs_clean(logged: list[str], stderr: str) -> None:
    assert any("'screening.access'" in line for line in logged), "no log captured"
    assert_clean("\n".join(logged), "a log record")
    assert_clean(stderr, "stderr")


def assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked into {where}"


def assert_response_clean(response: Any, *, body_too: bool = True) -> None:
    if body_too:
        assert_clean(response.get_data(as_text=True), "a response body")
    assert_clean(json.dumps(dict(response.headers)), "response headers")


def test_invalid_submissions_echo_nothing(client: FlaskClient, clinic: TenantCredentials,
                                          logged: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for body in invalid_bodies():
        response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
        assert response.status_code == 422
        assert_response_clean(response)
    assert_logs_clean(logged, capsys.readouterr().err)


def test_valid_submission_and_its_reads_leak_nowhere_but_the_full_read(
        client: FlaskClient, clinic: TenantCredentials, logged: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    headers = {**clinic.headers("intake"), "Idempotency-Key": "canary-key"}
    created = client.post(SUBMISSIONS, json=canary_body(), headers=headers)
    assert created.status_code == 201
    assert_response_clean(created)
    replayed = client.post(SUBMISSIONS, json=canary_body(), headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert_response_clean(replayed)
    changed = canary_body()
    changed["respondent"]["phone"] = PHONE + "0"
    conflict = client.post(SUBMISSIONS, json=changed, headers=headers)
    assert conflict.status_code == 422
    assert_response_clean(conflict)

    clinician = clinic.headers("clinician")
    full = client.get(created.headers["Location"], headers=clinician)
    assert full.get_json()["respondent"]["email"] == EMAIL  # the audited full read only
    assert_response_clean(full, body_too=False)
    for path in (SUBMISSIONS, "/api/v1/queue", "/api/v1/audit"):
        listing = client.get(path, headers=clinic.headers("admin"))
        assert listing.status_code == 200
        assert_response_clean(listing)
    assert_logs_clean(logged, capsys.readouterr().err)


def test_query_strings_are_neither_echoed_nor_logged(
        client: FlaskClient, clinic: TenantCredentials, logged: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    for query in (f"cursor={EMAIL}", f"status={GIVEN}", f"priority={FAMILY}",
                  f"limit={BIRTH}"):
        response = client.get(f"{SUBMISSIONS}?{query}", headers=clinic.headers("clinician"))
        assert response.status_code == 422
        assert_response_clean(response)
    response = client.get(f"/api/v1/audit?submission_id={PHONE}", headers=clinic.headers("admin"))
    assert response.status_code == 422
    assert_response_clean(response)
    assert_logs_clean(logged, capsys.readouterr().err)


def test_a_crash_while_evaluating_logs_no_patient_data(
        client: FlaskClient, clinic: TenantCredentials, logged: list[str],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(respondent: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot evaluate {respondent}")

    monkeypatch.setattr(rules, "evaluate", crash)
    response = client.post(SUBMISSIONS, json=canary_body(), headers=clinic.headers("intake"))
    assert response.status_code == 500
    assert_response_clean(response)
    assert any("unhandled exception" in line for line in logged)
    assert_logs_clean(logged, capsys.readouterr().err)
