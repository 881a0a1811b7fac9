"""``GET /api/v1/queue`` for reviewers (shared spec §3): review order across claims, the
``priority`` and ``claimed`` filters (``me``, ``unclaimed`` with expired leases), cursor
paging with filters."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import (
    QUEUE,
    add_clinician,
    clinician_of,
    expire_claim,
    path,
    seed,
    submit,
)


def queue_ids(client: FlaskClient, headers: dict[str, str], **params: str) -> list[str]:
    response = client.get(QUEUE, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_queue_keeps_review_order_across_pending_and_claimed(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    routine = submit(client, clinic, routed("routine"))
    critical = submit(client, clinic, routed("critical"))
    high = submit(client, clinic, routed("high"))
    me = clinician_of(clinic)
    client.post(path(high, "claim"), headers=me.headers)
    items = client.get(QUEUE, headers=me.headers).get_json()["items"]
    assert [item["id"] for item in items] == [critical, high, routine]
    assert [item["status"] for item in items] == ["pending_review", "in_review",
                                                  "pending_review"]
    assert items[1]["claim"]["holder"] == me.user_id
    assert not {"answers", "respondent"} & set(items[1])


def test_claimed_me_lists_only_the_callers_live_claims(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    mine, theirs, expired, free = (submit(client, clinic) for _ in range(4))
    me, other = clinician_of(clinic), add_clinician(app, clinic, "other")
    client.post(path(mine, "claim"), headers=me.headers)
    client.post(path(expired, "claim"), headers=me.headers)
    client.post(path(theirs, "claim"), headers=other.headers)
    expire_claim(app, expired)
    assert queue_ids(client, me.headers, claimed="me") == [mine]
    assert queue_ids(client, other.headers, claimed="me") == [theirs]
    assert free not in queue_ids(client, me.headers, claimed="me")


def test_claimed_unclaimed_includes_expired_leases(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    held, expired, free = (submit(client, clinic) for _ in range(3))
    me = clinician_of(clinic)
    client.post(path(held, "claim"), headers=me.headers)
    client.post(path(expired, "claim"), headers=me.headers)
    expire_claim(app, expired)
    assert queue_ids(client, me.headers, claimed="unclaimed") == [expired, free]
    assert queue_ids(client, me.headers) == [held, expired, free]


def test_priority_and_claimed_filters_combine(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    urgent_held = submit(client, clinic, routed("urgent"))
    urgent_free = submit(client, clinic, routed("urgent"))
    submit(client, clinic, routed("routine"))
    me = clinician_of(clinic)
    client.post(path(urgent_held, "claim"), headers=me.headers)
    assert queue_ids(client, me.headers, priority="urgent", claimed="unclaimed") == [urgent_free]
    assert queue_ids(client, me.headers, priority="urgent", claimed="me") == [urgent_held]
    assert queue_ids(client, me.headers, priority="routine", claimed="me") == []


def test_unknown_claimed_value_is_422_naming_it(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    response = client.get(QUEUE, query_string={"claimed": "someone"},
                          headers=clinic.headers("clinician"))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["claimed"]
    assert "someone" not in response.get_data(as_text=True)


def test_filtered_queue_pages_with_cursor_in_review_order(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    ids = seed(app, clinic.clinic_id, [routed("routine"), routed("urgent")], 25)
    me = clinician_of(clinic)
    held = ids[:5]
    for submission_id in held:
        client.post(path(submission_id, "claim"), headers=me.headers)
    expected = [i for i in ids[1::2] if i not in held] + [i for i in ids[0::2] if i not in held]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"claimed": "unclaimed", "limit": "7", **({"cursor": cursor} if cursor else {})}
        body = client.get(QUEUE, query_string=params, headers=me.headers).get_json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
