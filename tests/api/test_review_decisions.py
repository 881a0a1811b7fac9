"""The decision state machine (shared spec §7), edge by edge: 428 without ``If-Match``, 412
when stale, 409 without the live lease or once decided, 422 per rule, 200 with the stored
decision; a decided submission leaves the queue and takes no claim or second decision."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening.storage.models import Decision
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import example, routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import (
    NEXT,
    PROBLEM,
    QUEUE,
    Clinician,
    add_clinician,
    clinician_of,
    events,
    path,
    stored,
    submit,
)


def absolute_contraindication() -> dict[str, Any]:
    """Spec §4 example with an aneurysm answered yes (flag kind absolute_contraindication)."""
    body = example()
    body["answers"]["medical_history"]["aneurysm_or_avm"] = "yes"
    return body


def claimed(client: FlaskClient, creds: TenantCredentials, body: dict[str, Any] | None = None,
            ) -> tuple[str, str, list[str], Clinician]:
    """A submission claimed by the clinic's clinician: (id, ETag, flag ids, clinician)."""
    submission_id = submit(client, creds, body)
    me = clinician_of(creds)
    response = client.post(path(submission_id, "claim"), headers=me.headers)
    flags = [flag["id"] for flag in response.get_json()["evaluation"]["flags"]]
    return submission_id, response.headers["ETag"], flags, me


def decide(client: FlaskClient, me: Clinician, submission_id: str, body: Any,
           if_match: str | None) -> Any:
    headers = dict(me.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.post(path(submission_id, "decision"), json=body, headers=headers)


def proceed(flags: list[str], rationale: str | None = None) -> dict[str, Any]:
    return {"outcome": "proceed_to_consultation", "rationale": rationale,
            "acknowledged_flags": flags}


# -- 428 / 412 -------------------------------------------------------------------------

@pytest.mark.parametrize("if_match", [None, "", "*"], ids=["missing", "empty", "star"])
def test_decision_without_an_etag_in_if_match_is_428(
        client: FlaskClient, clinic: TenantCredentials, if_match: str | None) -> None:
    submission_id, _, flags, me = claimed(client, clinic)
    response = decide(client, me, submission_id, proceed(flags), if_match)
    assert response.status_code == 428
    assert response.mimetype == PROBLEM


def test_decision_with_a_stale_etag_is_412(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    before_claim = client.get(path(submission_id), headers=me.headers).headers["ETag"]
    flags = [f["id"] for f in
             client.post(path(submission_id, "claim"), headers=me.headers)
             .get_json()["evaluation"]["flags"]]
    for stale in (before_claim, 'W/"' + before_claim.strip('"') + '"', '"nonsense"'):
        response = decide(client, me, submission_id, proceed(flags), stale)
        assert response.status_code == 412
        assert response.mimetype == PROBLEM
    assert stored(app, submission_id).status == "in_review"


def test_if_match_may_list_several_tags(client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    response = decide(client, me, submission_id, proceed(flags), f'"old-v1", {etag}')
    assert response.status_code == 200


# -- 409 -------------------------------------------------------------------------------

def test_decision_without_a_claim_is_409_and_audited_as_denied(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    etag = client.get(path(submission_id), headers=me.headers).headers["ETag"]
    response = decide(client, me, submission_id, proceed(["uncontrolled_hypertension"]), etag)
    assert response.status_code == 409
    [event] = events(app, "submission.decide")
    assert (event.actor_id, event.object_id, event.outcome) == (me.user_id, submission_id,
                                                                "denied")


def test_decision_by_a_clinician_who_is_not_the_holder_is_409(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, _ = claimed(client, clinic)
    other = add_clinician(app, clinic, "other")
    assert decide(client, other, submission_id, proceed(flags), etag).status_code == 409
    assert stored(app, submission_id).status == "in_review"


# -- 422 -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "approve", "acknowledged_flags": []}, "outcome"),
        ({"acknowledged_flags": []}, "outcome"),
        ({"outcome": "needs_more_information"}, "acknowledged_flags"),
        ({"outcome": "needs_more_information", "acknowledged_flags": "all"},
         "acknowledged_flags"),
        ({"outcome": "needs_more_information", "acknowledged_flags": [7]},
         "acknowledged_flags.0"),
        ({"outcome": "needs_more_information", "acknowledged_flags": [], "rationale": 5},
         "rationale"),
        ({"outcome": "needs_more_information", "acknowledged_flags": [],
          "rationale": "x" * 4001}, "rationale"),
        ({"outcome": "needs_more_information", "acknowledged_flags": [], "eligible": True},
         "eligible"),
    ],
    ids=["unknown outcome", "no outcome", "no acknowledged_flags", "flags not a list",
         "flag not a string", "rationale not a string", "rationale over 4000",
         "unknown field"],
)
def test_decision_body_of_the_wrong_shape_is_422_naming_the_field(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, body: dict[str, Any],
        field: str) -> None:
    submission_id, etag, _, me = claimed(client, clinic)
    response = decide(client, me, submission_id, body, etag)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert stored(app, submission_id).status == "in_review"


def test_every_flag_must_be_acknowledged_and_the_missing_ones_are_named(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    body = absolute_contraindication()
    submission_id, etag, flags, me = claimed(client, clinic, body)
    assert flags == ["aneurysm_or_avm", "uncontrolled_hypertension"]
    response = decide(client, me, submission_id,
                      proceed(["uncontrolled_hypertension"], "Reviewed with the GP."), etag)
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["acknowledged_flags"]
    assert "aneurysm_or_avm" in message and "uncontrolled_hypertension" not in message
    assert stored(app, submission_id).status == "in_review"


def test_an_acknowledged_id_that_is_not_a_flag_is_422_by_position_without_echo(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    response = decide(client, me, submission_id,
                      proceed([*flags, "ada@example.org"]), etag)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == [f"acknowledged_flags.{len(flags)}"]
    assert "ada@example.org" not in response.get_data(as_text=True)


@pytest.mark.parametrize("rationale", [None, "", "   "], ids=["null", "empty", "blank"])
def test_not_suitable_needs_a_rationale(
        client: FlaskClient, clinic: TenantCredentials, rationale: str | None) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    body = {"outcome": "not_suitable", "rationale": rationale, "acknowledged_flags": flags}
    response = decide(client, me, submission_id, body, etag)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["rationale"]


def test_proceed_needs_a_rationale_when_an_absolute_contraindication_was_flagged(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic, absolute_contraindication())
    refused = decide(client, me, submission_id, proceed(flags), etag)
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["rationale"]
    accepted = decide(client, me, submission_id, proceed(flags, "Imaging clear."), etag)
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    "outcome", ["proceed_to_consultation", "needs_more_information", "refer_to_crisis_services"])
def test_rationale_is_optional_otherwise(
        client: FlaskClient, clinic: TenantCredentials, outcome: str) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    body = {"outcome": outcome, "acknowledged_flags": flags}
    assert decide(client, me, submission_id, body, etag).status_code == 200


def test_submission_without_flags_is_decided_with_an_empty_acknowledgement(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic, routed("routine"))
    assert flags == []
    assert decide(client, me, submission_id, proceed([]), etag).status_code == 200


# -- 200 and after ---------------------------------------------------------------------

def test_decision_is_stored_final_and_answered_as_the_full_read(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    body = {"outcome": "not_suitable", "rationale": "BP not controlled.",
            "acknowledged_flags": flags}
    response = decide(client, me, submission_id, body, etag)
    assert response.status_code == 200
    read = response.get_json()
    assert (read["status"], read["claim"]) == ("decided", None)
    decision = read["decision"]
    assert {k: decision[k] for k in ("outcome", "rationale", "acknowledged_flags",
                                     "decided_by")} == {**body, "decided_by": me.user_id}
    assert decision["ruleset_version"] == read["evaluation"]["ruleset_version"]
    assert response.headers["ETag"] not in (etag, None)
    assert client.get(path(submission_id), headers=me.headers).get_json()["decision"] == decision
    with session_scope(app, write=False) as session:
        [row] = session.scalars(select(Decision))
        assert (row.submission_id, row.clinic_id, row.decided_by) == (
            submission_id, clinic.clinic_id, me.user_id)
        assert row.acknowledged_flags == flags
    submission = stored(app, submission_id)
    assert (submission.claimed_by, submission.claim_expires_at) == (None, None)
    assert submission.decided_at is not None
    [event] = events(app, "submission.decide")
    assert (event.actor_id, event.object_id, event.outcome) == (me.user_id, submission_id,
                                                                "success")


def test_decided_submission_takes_no_claim_release_or_second_decision(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    decided = decide(client, me, submission_id, proceed(flags), etag)
    new_etag = decided.headers["ETag"]
    assert client.post(path(submission_id, "claim"), headers=me.headers).status_code == 409
    assert client.post(path(submission_id, "release"), headers=me.headers).status_code == 409
    again = decide(client, me, submission_id, proceed(flags), new_etag)
    assert again.status_code == 409
    with session_scope(app, write=False) as session:
        assert len(list(session.scalars(select(Decision)))) == 1
    assert stored(app, submission_id).status == "decided"


def test_decided_submission_leaves_the_queue(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id, etag, flags, me = claimed(client, clinic)
    open_one = submit(client, clinic)
    decide(client, me, submission_id, proceed(flags), etag)
    queue = client.get(QUEUE, headers=me.headers).get_json()["items"]
    assert [item["id"] for item in queue] == [open_one]
    assert client.post(NEXT, headers=me.headers).get_json()["id"] == open_one
    assert client.post(NEXT, headers=me.headers).status_code == 204
