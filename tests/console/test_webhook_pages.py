"""The console's webhooks page (admins) and the escalation shown on queue and submission
pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from screening.notify.delivery import DeliveryPool
from screening.notify.escalation import escalate_due
from screening.notify.sender import Sender
from screening.storage.db import app_state
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import stored, submit
from tests.console.signing_in import add_console_user, sign_in


def test_webhooks_page_shows_each_endpoint_with_its_recent_deliveries_and_failures(
        make_app: Callable[..., Flask], clinic: TenantCredentials, reviewer: FlaskClient) -> None:
    console_app: Flask = make_app(WEBHOOK_ALLOW_PRIVATE="1",
                                  SECRET_KEY=reviewer.application.secret_key)
    api = console_app.test_client()
    created = api.post("/api/v1/webhooks", headers=clinic.headers("admin"),
                       json={"url": "http://127.0.0.1:9/down", "events": ["submission.created"],
                             "description": "pager"})
    assert created.status_code == 201
    submit(api, clinic, routed("critical"))
    pool = DeliveryPool(app_state(console_app), Sender(timeout=0.5))
    try:
        pool.tick()
        pool.wait(timeout=10)
    finally:
        pool.close()

    assert reviewer.get("/console/webhooks").status_code == 403
    admin = add_console_user(console_app, "alpha", "boss@alpha.example", "admin")
    client = console_app.test_client()
    sign_in(client, admin)
    page = client.get("/console/webhooks").get_data(as_text=True)
    assert "http://127.0.0.1:9/down" in page and "pager" in page
    assert "submission.created" in page and "connection_refused" in page
    assert created.get_json()["secret"] not in page


def test_queue_and_submission_pages_show_the_escalation(
        reviewer: FlaskClient, clinic: TenantCredentials) -> None:
    app = reviewer.application
    submission_id = submit(app.test_client(), clinic, routed("critical"))
    with session_scope(app) as session:
        escalate_due(session, stored(app, submission_id).received_at + dt.timedelta(minutes=20))
    assert "escalated ×2" in reviewer.get("/console/queue").get_data(as_text=True)
    page = reviewer.get(f"/console/submissions/{submission_id}").get_data(as_text=True)
    assert "2 times (waited unclaimed)" in page
