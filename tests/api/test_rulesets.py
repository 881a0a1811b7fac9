"""Clinic rulesets over HTTP (shared spec §10): the active ruleset, drafts and their
bounds, shadow reports, activation with ``If-Match``, and ingest under the active
ruleset."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from screening.storage.models import AuditEvent, RulesetVersion, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, routed
from tests.api.conftest import TenantCredentials

RULESET = "/api/v1/ruleset"
DRAFTS = "/api/v1/ruleset/drafts"


def with_phq9_total(total: int) -> dict[str, Any]:
    """A routine body whose PHQ-9 items 1-8 add up to ``total`` (item 9 stays 0)."""
    body = routed("routine")
    items = {}
    left = total
    for n in range(1, 9):
        items[f"q{n}"] = min(3, left)
        left -= items[f"q{n}"]
    body["answers"]["phq9"] = {**items, "q9": 0}
    return body


def submit(client: FlaskClient, clinic: TenantCredentials, body: dict[str, Any]) -> str:
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def draft(client: FlaskClient, clinic: TenantCredentials, settings: dict[str, Any]) -> str:
    response = client.post(DRAFTS, json={"settings": settings}, headers=clinic.headers("admin"))
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def activate(client: FlaskClient, clinic: TenantCredentials, draft_id: str,
             etag: str | None) -> Any:
    headers = clinic.headers("admin")
    if etag is not None:
        headers["If-Match"] = etag
    return client.post(f"{DRAFTS}/{draft_id}/activate", headers=headers)


def stored(app: Flask) -> dict[str, Any]:
    with session_scope(app, write=False) as session:
        return {s.id: s.evaluation for s in session.scalars(select(Submission))}


def depression(evaluation: dict[str, Any]) -> str:
    (criterion,) = [c for c in evaluation["criteria"]
                    if c["id"] == "depression_moderate_to_severe"]
    return str(criterion["status"])


def test_the_active_ruleset_is_version_one_with_the_defaults(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    response = client.get(RULESET, headers=clinic.headers("clinician"))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"ruleset-1"'
    body = response.json
    assert body["version"] == 1 and body["code_version"] == "2026.11.0"
    assert body["settings"]["phq9_threshold"] == 10
    assert body["settings"]["escalation_minutes"] == {"critical": 10, "urgent": 60}
    assert client.get(RULESET, headers=clinic.headers("intake")).status_code == 403


@pytest.mark.parametrize(("settings", "field"), [
    ({"phq9_threshold": 4}, "settings.phq9_threshold"),
    ({"min_age_years": 17}, "settings.min_age_years"),
    ({"bp_severe": {"systolic": 150}}, "settings.bp_severe"),
    ({"escalation_minutes": {"urgent": 0}}, "settings.escalation_minutes"),
    ({"required_sections": ["phq9"]}, "settings.required_sections"),
    ({"suicide_flags": False}, "settings.suicide_flags"),
    ({}, "settings"),
])
def test_a_draft_out_of_bounds_is_refused_naming_the_setting(
        client: FlaskClient, clinic: TenantCredentials, settings: dict[str, Any],
        field: str) -> None:
    response = client.post(DRAFTS, json={"settings": settings}, headers=clinic.headers("admin"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.json["errors"]) == [field]


def test_only_admins_draft_shadow_and_activate(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    headers = clinic.headers("clinician")
    assert client.post(DRAFTS, json={"settings": {"phq9_threshold": 15}},
                       headers=headers).status_code == 403
    assert client.get(f"{RULESET}/versions", headers=headers).status_code == 403
    draft_id = draft(client, clinic, {"phq9_threshold": 15})
    assert client.post(f"{DRAFTS}/{draft_id}/shadow", headers=headers).status_code == 403
    assert client.post(f"{DRAFTS}/{draft_id}/activate", headers=headers).status_code == 403


def test_another_clinics_draft_is_not_found(
        client: FlaskClient, clinic: TenantCredentials,
        other_clinic: TenantCredentials) -> None:
    draft_id = draft(client, clinic, {"phq9_threshold": 15})
    headers = other_clinic.headers("admin")
    assert client.post(f"{DRAFTS}/{draft_id}/shadow", headers=headers).status_code == 404
    headers["If-Match"] = '"ruleset-1"'
    assert client.post(f"{DRAFTS}/{draft_id}/activate", headers=headers).status_code == 404


def test_shadow_of_phq9_threshold_15_over_totals_10_to_20_reports_the_implied_transitions(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    ids = {total: submit(client, clinic, with_phq9_total(total)) for total in range(10, 21)}
    before = stored(app)
    draft_id = draft(client, clinic, {"phq9_threshold": 15})

    response = client.post(f"{DRAFTS}/{draft_id}/shadow", headers=clinic.headers("admin"))

    assert response.status_code == 200
    report = response.json
    assert (report["draft"], report["active"]) == (draft_id, 1)
    assert (report["evaluated"], report["changed"]) == (11, 5)
    assert report["criteria"] == {"depression_moderate_to_severe": {"met->not_met": 5}}
    assert report["priority"] == {"raised": 0, "lowered": 0}
    assert report["flags"] == {"added": {}, "removed": {}}
    assert [e["submission_id"] for e in report["examples"]] == [ids[t] for t in range(10, 15)]
    example = report["examples"][0]
    assert example["priority"] == ["routine", "routine"]
    assert "criterion:depression_moderate_to_severe:not_met" in example["reasons"][1]
    assert "criterion:depression_moderate_to_severe:not_met" not in example["reasons"][0]
    assert stored(app) == before
    with session_scope(app, write=False) as session:
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_id == draft_id)))
        assert actions == ["ruleset.draft", "ruleset.shadow"]


def test_shadow_window_since_and_until(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submit(client, clinic, with_phq9_total(12))
    draft_id = draft(client, clinic, {"phq9_threshold": 15})
    headers = clinic.headers("admin")
    report = client.post(f"{DRAFTS}/{draft_id}/shadow?since=2999-01-01",
                         headers=headers).json
    assert report["evaluated"] == 0
    report = client.post(f"{DRAFTS}/{draft_id}/shadow?until=2999-01-01T00:00:00Z",
                         headers=headers).json
    assert report["evaluated"] == 1
    response = client.post(f"{DRAFTS}/{draft_id}/shadow?since=yesterday", headers=headers)
    assert response.status_code == 422 and list(response.json["errors"]) == ["since"]


def test_activation_applies_to_new_submissions_only(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    old = submit(client, clinic, with_phq9_total(12))
    draft_id = draft(client, clinic, {"phq9_threshold": 15, "crisis_message": "Llame al 988."})

    response = activate(client, clinic, draft_id, '"ruleset-1"')

    assert response.status_code == 200
    assert response.headers["ETag"] == '"ruleset-2"'
    assert response.json["version"] == 2
    assert response.json["settings"]["phq9_threshold"] == 15
    assert response.json["activated_by"] == clinic.admin_id
    new = submit(client, clinic, with_phq9_total(12))
    evaluations = stored(app)
    assert depression(evaluations[old]) == "met"
    assert evaluations[old]["settings_version"] == 1
    assert depression(evaluations[new]) == "not_met"
    assert evaluations[new]["settings_version"] == 2
    assert evaluations[new]["ruleset_version"] == "2026.11.0"
    risky = with_phq9_total(12)
    risky["answers"]["phq9"]["q9"] = 1
    answer = client.post(SUBMISSIONS, json=risky, headers=clinic.headers("intake")).json
    assert answer["safety"]["message"] == "Llame al 988."
    versions = client.get(f"{RULESET}/versions", headers=clinic.headers("admin")).json
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["next_cursor"] is None


def test_activation_needs_if_match_and_a_stale_one_loses_nothing(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    first = draft(client, clinic, {"phq9_threshold": 15})
    second = draft(client, clinic, {"min_failed_trials": 3})
    assert activate(client, clinic, first, None).status_code == 428
    assert activate(client, clinic, first, '"ruleset-1"').status_code == 200

    stale = activate(client, clinic, second, '"ruleset-1"')

    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    active = client.get(RULESET, headers=clinic.headers("clinician"))
    assert active.json["version"] == 2
    retried = activate(client, clinic, second, active.headers["ETag"])
    assert retried.status_code == 200
    settings = retried.json["settings"]
    assert (settings["phq9_threshold"], settings["min_failed_trials"]) == (15, 3)
    assert activate(client, clinic, second, '"ruleset-3"').status_code == 409
    with session_scope(app, write=False) as session:
        assert session.scalar(select(func.count()).select_from(RulesetVersion)) == 3
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "ruleset.activate")))
        assert actions == ["ruleset.activate", "ruleset.activate"]


def test_a_required_section_missing_is_refused_naming_it(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    draft_id = draft(client, clinic, {"required_sections": ["vitals", "gad7"]})
    assert activate(client, clinic, draft_id, '"ruleset-1"').status_code == 200
    body = routed("routine")
    body["answers"].pop("vitals", None)
    body["answers"].pop("gad7", None)
    response = client.post(SUBMISSIONS, json=body, headers=clinic.headers("intake"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"answers.vitals", "answers.gad7"}
    assert submit(client, clinic, routed("routine"))


_SERVE = (
    "import sys\n"
    "from werkzeug.serving import run_simple\n"
    "from screening import create_app\n"
    "run_simple('127.0.0.1', int(sys.argv[1]), create_app({'RATE_LIMIT': 'off'}),"
    " threaded=True)\n"
)


@contextmanager
def app_server(database_url: str) -> Iterator[str]:
    """A separate app server process (its own ruleset cache) on the test database."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "k" * 40}
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def http(url: str, method: str, path: str, token: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_two_app_servers_see_an_activation_on_their_next_request(
        app: Flask, database_url: str, clinic: TenantCredentials) -> None:
    with app_server(database_url) as first, app_server(database_url) as second:
        for server in (first, second):  # each caches settings version 1
            status, _ = http(server, "POST", SUBMISSIONS, clinic.intake_key,
                             with_phq9_total(12))
            assert status == 201
        status, created = http(first, "POST", DRAFTS, clinic.admin_token,
                               {"settings": {"phq9_threshold": 15}})
        assert status == 201
        status, _ = http(first, "POST", f"{DRAFTS}/{created['id']}/activate",
                         clinic.admin_token, headers={"If-Match": '"ruleset-1"'})
        assert status == 200
        for server in (second, first):
            status, answer = http(server, "POST", SUBMISSIONS, clinic.intake_key,
                                  with_phq9_total(12))
            assert status == 201
            evaluation = stored(app)[answer["id"]]
            assert evaluation["settings_version"] == 2
            assert depression(evaluation) == "not_met"


def test_shadow_compares_with_the_active_ruleset_not_with_older_stored_evaluations(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    """Submissions stored under version 1 are evaluated again under the active version 2:
    a draft back to the defaults reports what it changes from version 2."""
    for total in (12, 16):
        submit(client, clinic, with_phq9_total(total))
    assert activate(client, clinic, draft(client, clinic, {"phq9_threshold": 15}),
                    '"ruleset-1"').status_code == 200
    back = draft(client, clinic, {"phq9_threshold": 10})
    report = client.post(f"{DRAFTS}/{back}/shadow", headers=clinic.headers("admin")).json
    assert (report["active"], report["evaluated"], report["changed"]) == (2, 2, 1)
    assert report["criteria"] == {"depression_moderate_to_severe": {"not_met->met": 1}}
