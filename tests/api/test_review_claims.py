"""Claims as leases (shared spec §3, §7): claim, renew, release, ``queue/next``, expiry.

Lease expiry is made by moving ``claim_expires_at`` into the past in the database; no test
sleeps.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient

from screening.storage.db import utcnow
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import (
    NEXT,
    PROBLEM,
    add_clinician,
    clinician_of,
    events,
    expire_claim,
    path,
    stored,
    submit,
)

LEASE_SLACK = dt.timedelta(seconds=30)


def expires_at(body: dict[str, object]) -> dt.datetime:
    claim = body["claim"]
    assert isinstance(claim, dict)
    return dt.datetime.fromisoformat(str(claim["expires_at"]))


# -- claim -----------------------------------------------------------------------------

def test_claim_answers_the_full_read_with_a_new_etag_and_a_15_minute_lease(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    read = client.get(path(submission_id), headers=me.headers)
    before = utcnow()
    response = client.post(path(submission_id, "claim"), headers=me.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == submission_id
    assert body["status"] == "in_review"
    assert body["claim"]["holder"] == me.user_id
    assert "answers" in body and "respondent" in body and "evaluation" in body
    lease = expires_at(body) - before
    assert dt.timedelta(minutes=15) - LEASE_SLACK <= lease <= dt.timedelta(minutes=15) + LEASE_SLACK
    assert response.headers["ETag"] != read.headers["ETag"]
    assert client.get(path(submission_id), headers=me.headers).headers["ETag"] == (
        response.headers["ETag"])


def test_lease_length_comes_from_claim_lease_minutes(
        make_app: object, clinic: TenantCredentials) -> None:
    app = make_app(CLAIM_LEASE_MINUTES="5")  # type: ignore[operator]
    client = app.test_client()
    submission_id = submit(client, clinic)
    before = utcnow()
    body = client.post(path(submission_id, "claim"), headers=clinic.headers("clinician")).get_json()
    lease = expires_at(body) - before
    assert dt.timedelta(minutes=5) - LEASE_SLACK <= lease <= dt.timedelta(minutes=5) + LEASE_SLACK


def test_claim_is_audited_with_actor_and_object(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    response = client.post(path(submission_id, "claim"), headers=me.headers)
    [event] = events(app, "submission.claim")
    assert (event.actor_type, event.actor_id, event.clinic_id) == ("user", me.user_id,
                                                                   clinic.clinic_id)
    assert (event.object_type, event.object_id, event.outcome) == ("submission", submission_id,
                                                                   "success")
    assert event.request_id == response.headers["X-Request-ID"]


def test_claim_held_by_another_clinician_is_409_and_audited_as_denied(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    holder, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    assert client.post(path(submission_id, "claim"), headers=holder.headers).status_code == 200
    response = client.post(path(submission_id, "claim"), headers=other.headers)
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert stored(app, submission_id).claimed_by == holder.user_id
    denied = [e for e in events(app, "submission.claim") if e.outcome == "denied"]
    assert [(e.actor_id, e.object_id) for e in denied] == [(other.user_id, submission_id)]


def test_claim_by_the_holder_renews_the_lease_and_bumps_the_version(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    first = client.post(path(submission_id, "claim"), headers=me.headers)
    expire_claim(app, submission_id)
    renewed = client.post(path(submission_id, "claim"), headers=me.headers)
    assert renewed.status_code == 200
    assert renewed.get_json()["claim"]["holder"] == me.user_id
    assert expires_at(renewed.get_json()) > utcnow()
    assert renewed.headers["ETag"] != first.headers["ETag"]
    assert stored(app, submission_id).version == 3


def test_claim_of_an_unknown_or_other_clinics_submission_is_404(
        client: FlaskClient, clinic: TenantCredentials,
        other_clinic: TenantCredentials) -> None:
    theirs = submit(client, other_clinic)
    for submission_id in (theirs, "00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = client.post(path(submission_id, "claim"), headers=clinic.headers("clinician"))
        assert response.status_code == 404
        assert response.mimetype == PROBLEM


# -- release ---------------------------------------------------------------------------

def test_release_by_the_holder_returns_it_to_pending_review(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    claimed = client.post(path(submission_id, "claim"), headers=me.headers)
    response = client.post(path(submission_id, "release"), headers=me.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["claim"]) == ("pending_review", None)
    assert response.headers["ETag"] not in (claimed.headers["ETag"], None)
    row = stored(app, submission_id)
    assert (row.claimed_by, row.claim_expires_at, row.version) == (None, None, 3)
    [event] = events(app, "submission.release")
    assert (event.actor_id, event.outcome) == (me.user_id, "success")


def test_release_by_anyone_but_the_live_holder_is_409_and_audited_as_denied(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    holder, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    unclaimed = client.post(path(submission_id, "release"), headers=holder.headers)
    assert unclaimed.status_code == 409
    client.post(path(submission_id, "claim"), headers=holder.headers)
    assert client.post(path(submission_id, "release"), headers=other.headers).status_code == 409
    assert stored(app, submission_id).claimed_by == holder.user_id
    expire_claim(app, submission_id)
    assert client.post(path(submission_id, "release"), headers=holder.headers).status_code == 409
    outcomes = [e.outcome for e in events(app, "submission.release")]
    assert outcomes == ["denied", "denied", "denied"]


# -- queue/next ------------------------------------------------------------------------

def test_next_hands_out_in_review_order_then_204(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    routine_old = submit(client, clinic, routed("routine"))
    critical = submit(client, clinic, routed("critical"))
    high = submit(client, clinic, routed("high"))
    routine_new = submit(client, clinic, routed("routine"))
    urgent = submit(client, clinic, routed("urgent"))
    me = clinician_of(clinic)
    handed = []
    for _ in range(5):
        response = client.post(NEXT, headers=me.headers)
        assert response.status_code == 200
        assert response.headers["ETag"] == f'"{response.get_json()["id"]}-v2"'
        assert response.get_json()["claim"]["holder"] == me.user_id
        handed.append(response.get_json()["id"])
    assert handed == [critical, urgent, high, routine_old, routine_new]
    empty = client.post(NEXT, headers=me.headers)
    assert (empty.status_code, empty.data) == (204, b"")
    assert len(events(app, "submission.claim")) == 5


def test_next_skips_live_claims_and_other_clinics(
        app: Flask, client: FlaskClient, clinic: TenantCredentials,
        other_clinic: TenantCredentials) -> None:
    submit(client, other_clinic, routed("critical"))
    held = submit(client, clinic, routed("critical"))
    free = submit(client, clinic, routed("routine"))
    holder, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    client.post(path(held, "claim"), headers=holder.headers)
    assert client.post(NEXT, headers=other.headers).get_json()["id"] == free
    assert client.post(NEXT, headers=other.headers).status_code == 204


# -- lease expiry ----------------------------------------------------------------------

def test_expired_lease_is_claimable_by_another_clinician_and_fences_out_the_holder(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, routed("routine"))
    first, second = clinician_of(clinic), add_clinician(app, clinic, "second")
    first_claim = client.post(path(submission_id, "claim"), headers=first.headers)
    flags = [f["id"] for f in first_claim.get_json()["evaluation"]["flags"]]
    expire_claim(app, submission_id)
    taken = client.post(path(submission_id, "claim"), headers=second.headers)
    assert taken.status_code == 200
    assert taken.get_json()["claim"]["holder"] == second.user_id
    late = client.post(
        path(submission_id, "decision"),
        json={"outcome": "needs_more_information", "acknowledged_flags": flags},
        headers={**first.headers, "If-Match": taken.headers["ETag"]},
    )
    assert late.status_code == 409
    assert late.mimetype == PROBLEM
    assert stored(app, submission_id).status == "in_review"
    [denied] = [e for e in events(app, "submission.decide")]
    assert (denied.actor_id, denied.outcome) == (first.user_id, "denied")


def test_expired_lease_goes_back_to_next_and_the_former_holder_cannot_decide(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, routed("routine"))
    first, second = clinician_of(clinic), add_clinician(app, clinic, "second")
    claimed = client.post(NEXT, headers=first.headers)
    assert claimed.get_json()["id"] == submission_id
    expire_claim(app, submission_id)
    retaken = client.post(NEXT, headers=second.headers)
    assert retaken.get_json()["id"] == submission_id
    assert retaken.get_json()["claim"]["holder"] == second.user_id
    late = client.post(
        path(submission_id, "decision"),
        json={"outcome": "needs_more_information", "acknowledged_flags": []},
        headers={**first.headers, "If-Match": claimed.headers["ETag"]},
    )
    assert late.status_code == 409


def test_former_holder_is_fenced_out_even_when_nobody_took_over(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic, routed("routine"))
    me = clinician_of(clinic)
    claimed = client.post(path(submission_id, "claim"), headers=me.headers)
    expire_claim(app, submission_id)
    late = client.post(
        path(submission_id, "decision"),
        json={"outcome": "needs_more_information", "acknowledged_flags": []},
        headers={**me.headers, "If-Match": claimed.headers["ETag"]},
    )
    assert late.status_code == 409
    assert client.get(path(submission_id), headers=me.headers).get_json()["claim"] is None
