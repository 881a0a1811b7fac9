"""Notes (shared spec §3, §7): any clinician of the clinic adds one, in any status (a
decision is corrected by notes); the full read lists them oldest first; each is audited."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import TenantCredentials
from tests.api.reviewing import (
    PROBLEM,
    TIMESTAMP,
    add_clinician,
    clinician_of,
    events,
    path,
    stored,
    submit,
)


def test_note_is_201_with_id_author_time_and_text(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me = clinician_of(clinic)
    response = client.post(path(submission_id, "notes"), json={"text": "Called, no answer."},
                           headers=me.headers)
    assert response.status_code == 201
    note = response.get_json()
    assert set(note) == {"id", "author", "created_at", "text"}
    assert (note["author"], note["text"]) == (me.user_id, "Called, no answer.")
    assert TIMESTAMP.fullmatch(note["created_at"])
    [event] = events(app, "note.create")
    assert (event.actor_id, event.object_type, event.object_id, event.outcome) == (
        me.user_id, "submission", submission_id, "success")


def test_full_read_lists_notes_oldest_first_and_notes_leave_the_etag_alone(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    etag = client.get(path(submission_id), headers=me.headers).headers["ETag"]
    first = client.post(path(submission_id, "notes"), json={"text": "one"}, headers=me.headers)
    second = client.post(path(submission_id, "notes"), json={"text": "two"},
                         headers=other.headers)
    read = client.get(path(submission_id), headers=me.headers)
    assert read.get_json()["notes"] == [first.get_json(), second.get_json()]
    assert read.headers["ETag"] == etag
    assert stored(app, submission_id).status == "pending_review"


def test_notes_need_no_claim_and_correct_a_decided_submission(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    me, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    claim = client.post(path(submission_id, "claim"), headers=me.headers)
    flags = [flag["id"] for flag in claim.get_json()["evaluation"]["flags"]]
    assert client.post(path(submission_id, "notes"), json={"text": "seen"},
                       headers=other.headers).status_code == 201
    client.post(path(submission_id, "decision"), headers={**me.headers,
                "If-Match": claim.headers["ETag"]},
                json={"outcome": "needs_more_information", "acknowledged_flags": flags})
    correction = client.post(path(submission_id, "notes"),
                             json={"text": "Correction: GP letter arrived."}, headers=me.headers)
    assert correction.status_code == 201
    read = client.get(path(submission_id), headers=me.headers).get_json()
    assert read["status"] == "decided"
    assert [n["text"] for n in read["notes"]] == ["seen", "Correction: GP letter arrived."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   \n"}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": 12}, "text"),
        ({"text": "ok", "author": "someone"}, "author"),
    ],
    ids=["missing", "empty", "blank", "over 4000", "not a string", "unknown field"],
)
def test_note_of_the_wrong_shape_is_422_naming_the_field(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, body: dict[str, Any],
        field: str) -> None:
    submission_id = submit(client, clinic)
    response = client.post(path(submission_id, "notes"), json=body,
                           headers=clinic.headers("clinician"))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]
    assert events(app, "note.create") == []


def test_note_of_4000_characters_is_accepted(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    submission_id = submit(client, clinic)
    response = client.post(path(submission_id, "notes"), json={"text": "x" * 4000},
                           headers=clinic.headers("clinician"))
    assert response.status_code == 201


def test_note_on_another_clinics_submission_is_404_and_stores_nothing(
        app: Flask, client: FlaskClient, clinic: TenantCredentials,
        other_clinic: TenantCredentials) -> None:
    theirs = submit(client, other_clinic)
    response = client.post(path(theirs, "notes"), json={"text": "x"},
                           headers=clinic.headers("clinician"))
    assert response.status_code == 404
    read = client.get(path(theirs), headers=other_clinic.headers("clinician")).get_json()
    assert read["notes"] == []
