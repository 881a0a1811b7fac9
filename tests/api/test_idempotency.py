"""``Idempotency-Key`` on ``POST /api/v1/submissions`` (shared spec §5): replay, different
body, in flight, abandoned and expired keys, and twenty parallel requests with one key."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import rules
from screening.services.idempotency import ABANDONED_AFTER, KEEP_FOR, fingerprint
from screening.storage.db import utcnow
from screening.storage.models import AuditEvent, IdempotencyRecord, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, example, routed
from tests.api.conftest import TenantCredentials

KEY = "3f0a6c1e-retry-key"


def post(client: FlaskClient, creds: TenantCredentials, body: Any, key: str = KEY) -> Any:
    return client.post(SUBMISSIONS, json=body,
                       headers={**creds.headers("intake"), "Idempotency-Key": key})


def count(app: Flask, model: Any, *where: Any) -> int:
    with session_scope(app, write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def records(app: Flask) -> list[IdempotencyRecord]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(IdempotencyRecord)))


def put_record(app: Flask, creds: TenantCredentials, body: Any, **fields: Any) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": "in_flight", "created_at": now,
                              "expires_at": now + KEEP_FOR, **fields}
    with session_scope(app) as session:
        session.add(IdempotencyRecord(clinic_id=creds.clinic_id, key=KEY,
                                      fingerprint=fingerprint(body), **values))


def test_same_key_and_body_replays_the_first_response(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    first = post(client, clinic, example())
    again = post(client, clinic, example())
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, Submission) == 1
    assert count(app, AuditEvent, AuditEvent.action == "submission.create") == 1


def test_replay_ignores_member_order(app: Flask, client: FlaskClient,
                                     clinic: TenantCredentials) -> None:
    body = example()
    reordered = dict(reversed(list(body.items())))
    assert post(client, clinic, body).status_code == 201
    assert post(client, clinic, reordered).headers.get("Idempotent-Replayed") == "true"


def test_record_is_kept_at_least_24_hours(app: Flask, client: FlaskClient,
                                          clinic: TenantCredentials) -> None:
    submission_id = post(client, clinic, example()).get_json()["id"]
    [record] = records(app)
    assert record.status == "completed"
    assert record.submission_id == submission_id
    assert record.response_status == 201
    assert record.expires_at - record.created_at >= dt.timedelta(hours=24)


def test_same_key_with_a_different_body_is_422(app: Flask, client: FlaskClient,
                                               clinic: TenantCredentials) -> None:
    assert post(client, clinic, example()).status_code == 201
    response = post(client, clinic, routed("urgent"))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["Idempotency-Key"]
    assert count(app, Submission) == 1


def test_key_belongs_to_one_clinic(app: Flask, client: FlaskClient, clinic: TenantCredentials,
                                   other_clinic: TenantCredentials) -> None:
    mine = post(client, clinic, example()).get_json()["id"]
    theirs = post(client, other_clinic, example())
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine


def test_while_the_first_is_in_flight_the_answer_is_409(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    put_record(app, clinic, example())
    response = post(client, clinic, example())
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert count(app, Submission) == 0


def test_in_flight_409_keeps_its_retry_after_with_rate_limits_on(
        make_app: Any, clinic: TenantCredentials) -> None:
    # The limiter's header hook must not strip an error's own Retry-After.
    limited = make_app(RATE_LIMIT="100/minute")
    put_record(limited, clinic, example())
    response = post(limited.test_client(), clinic, example())
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"


def test_in_flight_with_a_different_body_is_422(app: Flask, client: FlaskClient,
                                                clinic: TenantCredentials) -> None:
    put_record(app, clinic, routed("urgent"))
    assert post(client, clinic, example()).status_code == 422


def test_abandoned_in_flight_key_is_taken_over(app: Flask, client: FlaskClient,
                                               clinic: TenantCredentials) -> None:
    put_record(app, clinic, example(),
               created_at=utcnow() - ABANDONED_AFTER - dt.timedelta(seconds=1))
    response = post(client, clinic, example())
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    [record] = records(app)
    assert (record.status, record.submission_id) == ("completed", response.get_json()["id"])
    assert post(client, clinic, example()).headers["Idempotent-Replayed"] == "true"


def test_expired_key_may_be_used_again(app: Flask, client: FlaskClient,
                                       clinic: TenantCredentials) -> None:
    long_ago = utcnow() - KEEP_FOR - dt.timedelta(hours=1)
    put_record(app, clinic, routed("urgent"), status="completed", created_at=long_ago,
               expires_at=long_ago + KEEP_FOR, response_status=201,
               response_body={"id": "old"})
    response = post(client, clinic, example())
    assert response.status_code == 201
    assert response.get_json()["id"] != "old"
    assert "Idempotent-Replayed" not in response.headers


def test_failed_request_releases_its_key(app: Flask, client: FlaskClient,
                                         clinic: TenantCredentials,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("evaluation crashed")

    with monkeypatch.context() as patch:
        patch.setattr(rules, "evaluate", crash)
        assert post(client, clinic, example()).status_code == 500
    assert records(app) == []
    assert post(client, clinic, example()).status_code == 201
    assert count(app, Submission) == 1


def test_without_a_key_every_post_creates(app: Flask, client: FlaskClient,
                                          clinic: TenantCredentials) -> None:
    for _ in range(2):
        response = client.post(SUBMISSIONS, json=example(), headers=clinic.headers("intake"))
        assert response.status_code == 201
    assert count(app, Submission) == 2
    assert records(app) == []


def test_twenty_parallel_requests_with_one_key_create_one_submission(
        app: Flask, clinic: TenantCredentials) -> None:
    start = threading.Barrier(20)
    answers: list[tuple[int, str | None, bool]] = []
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()
        start.wait()
        response = post(client, clinic, example())
        body = response.get_json()
        with lock:
            answers.append((response.status_code, body.get("id"),
                            response.headers.get("Idempotent-Replayed") == "true"))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 20
    assert {status for status, _, _ in answers} <= {201, 409}
    created = [(i, replayed) for status, i, replayed in answers if status == 201]
    assert len([1 for _, replayed in created if not replayed]) == 1
    assert len({i for i, _ in created}) == 1
    assert count(app, Submission) == 1
    assert count(app, AuditEvent, AuditEvent.action == "submission.create") == 1
