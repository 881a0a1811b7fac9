"""The review trail in the audit log (shared spec §7): every claim, release, decision and
note of a submission, refusals included, is one event an admin reads through
``GET /api/v1/audit?submission_id=…``, and the chain stays intact."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from screening.storage import audit
from screening.storage.unit_of_work import session_scope
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import NEXT, add_clinician, clinician_of, path, submit

AUDIT = "/api/v1/audit"


def test_admin_reads_the_whole_review_trail_of_a_submission(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    client.post(path(submission_id, "claim"), headers=me.headers)
    client.post(path(submission_id, "release"), headers=me.headers)
    claimed = client.post(NEXT, headers=me.headers)
    client.post(path(submission_id, "claim"), headers=other.headers)  # refused: held
    client.post(path(submission_id, "notes"), json={"text": "BP log requested."},
                headers=other.headers)
    flags = [flag["id"] for flag in claimed.get_json()["evaluation"]["flags"]]
    client.post(path(submission_id, "decision"),
                json={"outcome": "needs_more_information", "acknowledged_flags": flags},
                headers={**me.headers, "If-Match": claimed.headers["ETag"]})

    response = client.get(AUDIT, query_string={"submission_id": submission_id},
                          headers=clinic.headers("admin"))
    assert response.status_code == 200
    trail = [(e["action"], e["actor_id"], e["outcome"]) for e in response.get_json()["items"]]
    assert trail == [
        ("submission.create", trail[0][1], "success"),
        ("submission.claim", me.user_id, "success"),
        ("submission.release", me.user_id, "success"),
        ("submission.claim", me.user_id, "success"),
        ("submission.claim", other.user_id, "denied"),
        ("note.create", other.user_id, "success"),
        ("submission.decide", me.user_id, "success"),
    ]
    with session_scope(app, write=False) as session:
        assert audit.verify(session) == []


def test_refusals_are_kept_although_the_request_fails(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    etag = client.get(path(submission_id), headers=me.headers).headers["ETag"]
    refused = client.post(path(submission_id, "decision"),
                          json={"outcome": "needs_more_information", "acknowledged_flags": []},
                          headers={**me.headers, "If-Match": etag})
    assert refused.status_code == 409
    items = client.get(AUDIT, query_string={"submission_id": submission_id},
                       headers=clinic.headers("admin")).get_json()["items"]
    [decide] = [item for item in items if item["action"] == "submission.decide"]
    assert (decide["actor_id"], decide["outcome"]) == (me.user_id, "denied")
    assert decide["request_id"] == refused.headers["X-Request-ID"]
