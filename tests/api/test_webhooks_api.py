"""The webhook endpoints' admin API (shared spec §9): registration with the address
check, listing without secrets, deletion, rotation, audit, roles and tenancy."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import TenantCredentials
from tests.api.reviewing import PROBLEM, events

WEBHOOKS = "/api/v1/webhooks"
EVENTS = ["submission.created"]


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook",            # loopback
    "https://10.0.0.1/hook",             # private
    "https://169.254.169.254/latest",    # link-local: the cloud metadata address
    "https://[::1]/hook",                # IPv6 loopback
    "https://[fe80::1]/hook",            # IPv6 link-local
    "https://224.0.0.1/hook",            # multicast
    "https://0.0.0.0/hook",              # unspecified
    "https://100.64.0.1/hook",           # shared address space (carrier-grade NAT)
    "https://localhost/hook",            # a name resolving to loopback
    "http://93.184.215.14/hook",         # http:// even to a public address
    "ftp://93.184.215.14/hook",
    "https://user:pw@93.184.215.14/hook",
    "/relative",
])
def test_forbidden_destinations_are_refused_with_422_naming_url(
        client: FlaskClient, clinic: TenantCredentials, app: Flask, url: str) -> None:
    response = client.post(WEBHOOKS, json={"url": url, "events": EVENTS},
                           headers=clinic.headers("admin"))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert list(problem["errors"]) == ["url"]
    assert url not in response.get_data(as_text=True)
    assert client.get(WEBHOOKS, headers=clinic.headers("admin")).get_json()["items"] == []
    assert events(app, "webhook.create") == []


def test_a_public_https_url_is_registered_with_a_secret_shown_once(
        client: FlaskClient, clinic: TenantCredentials, app: Flask) -> None:
    response = client.post(
        WEBHOOKS, headers=clinic.headers("admin"),
        json={"url": "https://93.184.215.14/hooks", "events": EVENTS + EVENTS,
              "min_priority": "urgent", "description": "pager"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24
    assert (body["events"], body["min_priority"], body["description"]) == (
        EVENTS, "urgent", "pager")
    listed = client.get(WEBHOOKS, headers=clinic.headers("admin")).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    assert body["secret"] not in str(listed)
    [event] = events(app, "webhook.create")
    assert (event.object_id, event.actor_type) == (body["id"], "user")


@pytest.mark.parametrize("body, field", [
    ({"events": EVENTS}, "url"),
    ({"url": "https://93.184.215.14/"}, "events"),
    ({"url": "https://93.184.215.14/", "events": []}, "events"),
    ({"url": "https://93.184.215.14/", "events": ["submission.read"]}, "events.0"),
    ({"url": "https://93.184.215.14/", "events": EVENTS, "min_priority": "low"},
     "min_priority"),
    ({"url": "https://93.184.215.14/", "events": EVENTS, "secret": "mine"}, "secret"),
])
def test_invalid_bodies_are_422_naming_the_field(
        client: FlaskClient, clinic: TenantCredentials, body: dict, field: str) -> None:
    response = client.post(WEBHOOKS, json=body, headers=clinic.headers("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_private_receivers_and_http_are_allowed_with_the_setting(
        make_app: Callable[..., Flask], make_clinic: Callable[..., TenantCredentials]) -> None:
    app = make_app(WEBHOOK_ALLOW_PRIVATE="1")
    clinic = make_clinic("gamma")
    response = app.test_client().post(
        WEBHOOKS, json={"url": "http://10.0.0.1:8080/hook", "events": EVENTS},
        headers=clinic.headers("admin"))
    assert response.status_code == 201


@pytest.mark.parametrize("role", ["intake", "clinician"])
def test_only_admins_manage_webhooks(
        client: FlaskClient, clinic: TenantCredentials, role: str) -> None:
    assert client.get(WEBHOOKS, headers=clinic.headers(role)).status_code == 403
    response = client.post(WEBHOOKS, json={"url": "https://93.184.215.14/", "events": EVENTS},
                           headers=clinic.headers(role))
    assert response.status_code == 403


def test_another_clinics_endpoint_is_404_everywhere(
        client: FlaskClient, clinic: TenantCredentials, other_clinic: TenantCredentials
) -> None:
    created = client.post(WEBHOOKS, json={"url": "https://93.184.215.14/", "events": EVENTS},
                          headers=other_clinic.headers("admin")).get_json()
    admin = clinic.headers("admin")
    path = f"{WEBHOOKS}/{created['id']}"
    assert client.delete(path, headers=admin).status_code == 404
    assert client.post(f"{path}/rotate-secret", headers=admin).status_code == 404
    assert client.get(f"{path}/deliveries", headers=admin).status_code == 404
    assert client.post(f"{path}/deliveries/x/redeliver", headers=admin).status_code == 404
    assert client.get(WEBHOOKS, headers=admin).get_json()["items"] == []


def test_delete_and_rotation_are_audited_and_a_deleted_endpoint_is_gone(
        client: FlaskClient, clinic: TenantCredentials, app: Flask) -> None:
    admin = clinic.headers("admin")
    created = client.post(WEBHOOKS, json={"url": "https://93.184.215.14/", "events": EVENTS},
                          headers=admin).get_json()
    path = f"{WEBHOOKS}/{created['id']}"
    assert client.post(f"{path}/rotate-secret", headers=admin).status_code == 200
    assert client.delete(path, headers=admin).status_code == 204
    assert client.delete(path, headers=admin).status_code == 404
    assert client.get(WEBHOOKS, headers=admin).get_json()["items"] == []
    assert [e.action for e in events(app) if e.action.startswith("webhook.")] == [
        "webhook.create", "webhook.rotate", "webhook.delete"]
