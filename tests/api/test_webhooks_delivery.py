"""Webhook delivery (shared spec §9) to a real receiver on 127.0.0.1: signed per the
Standard Webhooks specification, verified with its reference library; retries with the
same ``webhook-id``; a receiver that was down gets everything; filters, rotation,
deletion, redelivery and the address check at every attempt."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from screening.notify import delivery
from screening.notify.delivery import DeliveryPool
from screening.notify.sender import Sender
from screening.storage.db import app_state, utcnow
from screening.storage.models import WebhookDelivery
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import SUBMISSIONS, routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import submit
from tests.api.test_canary import CANARIES, canary_body
from tests.api.webhook_receiver import Receiver

WEBHOOKS = "/api/v1/webhooks"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """Receivers in these tests listen on 127.0.0.1 over http://."""
    return make_app(WEBHOOK_ALLOW_PRIVATE="1")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


@pytest.fixture
def pool(app: Flask) -> Iterator[DeliveryPool]:
    """The worker's delivery pool, with a short timeout so a slow receiver is quick to
    test."""
    made = DeliveryPool(app_state(app), Sender(timeout=0.5))
    yield made
    made.close()


def register(client: FlaskClient, clinic: TenantCredentials, url: str, **extra: Any
             ) -> dict[str, Any]:
    body = {"url": url, "events": ["submission.created", "submission.escalated",
                                   "submission.decided"], **extra}
    response = client.post(WEBHOOKS, json=body, headers=clinic.headers("admin"))
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def run(pool: DeliveryPool, after: dt.timedelta = dt.timedelta(0)) -> int:
    """One worker tick at ``after`` from now, then waits for its attempts to end."""
    done = pool.tick(utcnow() + after)
    pool.wait(timeout=10)
    return done


def send_unrecorded(pool: DeliveryPool, attempts: int = 1) -> None:
    """One worker tick, then waits until its ``attempts`` have ended, leaving their
    outcomes for the next tick to record (``run`` records them: ``DeliveryPool.wait``)."""
    pool.tick()
    deadline = time.monotonic() + 10
    while pool.outcomes_waiting() < attempts:
        assert time.monotonic() < deadline, "the attempts did not end"
        pool.pump(0.01)


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with session_scope(app, write=False) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at)))


def test_critical_submission_reaches_the_receiver_signed_per_standard_webhooks(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    endpoint = register(client, clinic, receiver.url)
    submission_id = submit(client, clinic, routed("critical"))
    run(pool)
    [got] = receiver.wait_for(1)
    # A receiver built on the reference library accepts it.
    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "submission.created"
    assert payload["data"] == {
        "clinic": clinic.slug, "submission_id": submission_id, "priority": "critical",
        "received_at": payload["data"]["received_at"],
        "url": f"{SUBMISSIONS}/{submission_id}",
    }
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)


def test_payload_never_carries_patient_data(
        client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    register(client, clinic, receiver.url)
    response = client.post(SUBMISSIONS, json=canary_body(), headers=clinic.headers("intake"))
    assert response.status_code == 201
    run(pool)
    [got] = receiver.wait_for(1)
    text = got.body.decode() + repr(got.headers)
    for canary in CANARIES:
        assert canary not in text
    for member in ("answers", "respondent", "evaluation", "scores", "reasons"):
        assert member not in got.json["data"]


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, pool: DeliveryPool
) -> None:
    receiver = Receiver(script=[500, ("sleep", 1.5)])
    try:
        register(client, clinic, receiver.url)
        submit(client, clinic, routed("critical"))
        run(pool)
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.last_status, delivery.last_error) == (
            "pending", 500, "http_status")
        assert dt.timedelta(seconds=4) < delivery.next_attempt_at - utcnow() <= dt.timedelta(
            seconds=10)  # the first retry comes within 10 s
        run(pool, dt.timedelta(seconds=11))
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.last_status, delivery.last_error) == (
            "pending", None, "timeout")
        assert dt.timedelta(seconds=29) < delivery.next_attempt_at - utcnow() <= dt.timedelta(
            seconds=60)  # the second within 60 s
        run(pool, dt.timedelta(seconds=72))
        received = receiver.wait_for(3)
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
        assert len(set(receiver.ids())) == 1
        assert receiver.ids()[0] == delivery.event_id
        assert len({r.headers["webhook-timestamp"] for r in received}) >= 1
        assert len({r.body for r in received}) == 1  # the same bytes every time
    finally:
        receiver.stop()


def test_a_receiver_that_was_down_gets_everything_once_it_is_back(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    register(client, clinic, receiver.url)
    receiver.stop()
    for priority in ("critical", "urgent", "routine"):
        submit(client, clinic, routed(priority))
    run(pool)
    assert {(d.state, d.last_error) for d in deliveries(app)} == {
        ("pending", "connection_refused")}
    receiver.start()
    run(pool, dt.timedelta(seconds=11))
    receiver.wait_for(3)
    assert sorted(receiver.ids()) == sorted(d.event_id for d in deliveries(app))
    assert {d.state for d in deliveries(app)} == {"delivered"}


def test_after_24_hours_of_failures_the_delivery_is_failed(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, pool: DeliveryPool
) -> None:
    receiver = Receiver(default=503)
    try:
        register(client, clinic, receiver.url)
        submit(client, clinic, routed("critical"))
        run(pool)
        run(pool, dt.timedelta(hours=23))
        assert deliveries(app)[0].state == "pending"
        with session_scope(app) as session:  # the first attempt was a day ago
            delivery = session.scalars(select(WebhookDelivery)).one()
            delivery.first_attempt_at = utcnow() - dt.timedelta(hours=24, seconds=1)
        run(pool, dt.timedelta(hours=24))
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed", 3, 503)
    finally:
        receiver.stop()


def test_min_priority_filters_submissions_below_it(
        client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    register(client, clinic, receiver.url, min_priority="urgent")
    for priority in ("routine", "high", "urgent", "critical"):
        submit(client, clinic, routed(priority))
    run(pool)
    got = receiver.wait_for(2)
    assert sorted(r.json["data"]["priority"] for r in got) == ["critical", "urgent"]
    run(pool)
    assert len(receiver.received) == 2


def test_other_clinics_endpoints_hear_nothing(
        client: FlaskClient, clinic: TenantCredentials, other_clinic: TenantCredentials,
        receiver: Receiver, pool: DeliveryPool) -> None:
    register(client, other_clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    run(pool)
    assert receiver.received == []


def test_after_rotation_deliveries_verify_under_the_old_and_the_new_secret(
        client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    old = register(client, clinic, receiver.url)
    response = client.post(f"{WEBHOOKS}/{old['id']}/rotate-secret",
                           headers=clinic.headers("admin"))
    assert response.status_code == 200
    new_secret = response.get_json()["secret"]
    assert new_secret != old["secret"]
    submit(client, clinic, routed("critical"))
    run(pool)
    [got] = receiver.wait_for(1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old["secret"]).verify(got.body, got.headers)
    Webhook(new_secret).verify(got.body, got.headers)


def test_a_decision_sends_submission_decided_with_its_outcome(
        client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    register(client, clinic, receiver.url, events=["submission.decided"])
    submission_id = submit(client, clinic, routed("critical"))
    claimed = client.post(f"{SUBMISSIONS}/{submission_id}/claim",
                          headers=clinic.headers("clinician"))
    flags = [flag["id"] for flag in claimed.get_json()["evaluation"]["flags"]]
    decided = client.post(
        f"{SUBMISSIONS}/{submission_id}/decision",
        json={"outcome": "refer_to_crisis_services", "acknowledged_flags": flags},
        headers={**clinic.headers("clinician"), "If-Match": claimed.headers["ETag"]})
    assert decided.status_code == 200, decided.get_json()
    run(pool)
    [got] = receiver.wait_for(1)
    assert got.json["type"] == "submission.decided"
    assert got.json["data"]["outcome"] == "refer_to_crisis_services"
    assert got.json["data"]["submission_id"] == submission_id


def test_delete_cancels_pending_deliveries_and_redeliver_sends_the_same_event_again(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    endpoint = register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    run(pool)
    [first] = receiver.wait_for(1)
    log = client.get(f"{WEBHOOKS}/{endpoint['id']}/deliveries", headers=clinic.headers("admin"))
    [entry] = log.get_json()["items"]
    assert (entry["state"], entry["attempts"], entry["last_status"], entry["type"]) == (
        "delivered", 1, 200, "submission.created")
    again = client.post(f"{WEBHOOKS}/{endpoint['id']}/deliveries/{entry['id']}/redeliver",
                        headers=clinic.headers("admin"))
    assert again.status_code == 202
    run(pool)
    [_, second] = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == entry["event_id"]

    receiver.stop()
    submit(client, clinic, routed("critical"))
    run(pool)  # refused: stays pending
    deleted = client.delete(f"{WEBHOOKS}/{endpoint['id']}", headers=clinic.headers("admin"))
    assert deleted.status_code == 204
    assert sorted(d.state for d in deliveries(app)) == ["cancelled", "delivered"]
    assert pool.tick(utcnow() + dt.timedelta(hours=1)) == 0


def test_a_redelivery_asked_while_an_attempt_is_in_flight_is_not_undone_by_its_outcome(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, pool: DeliveryPool
) -> None:
    receiver = Receiver(script=[500])  # then 200
    try:
        endpoint = register(client, clinic, receiver.url)
        submit(client, clinic, routed("critical"))
        send_unrecorded(pool)  # attempt 1 failed; its outcome waits for the next tick
        [entry] = deliveries(app)
        again = client.post(f"{WEBHOOKS}/{endpoint['id']}/deliveries/{entry.id}/redeliver",
                            headers=clinic.headers("admin"))
        assert again.status_code == 202
        run(pool)  # records attempt 1's outcome, and sends the redelivery now
        receiver.wait_for(2)
        [delivery] = deliveries(app)
        assert (delivery.state, delivery.attempts, delivery.last_status) == (
            "delivered", 2, 200)
    finally:
        receiver.stop()


def test_every_attempt_checks_the_address_again(
        make_app: Callable[..., Flask], client: FlaskClient, clinic: TenantCredentials,
        receiver: Receiver) -> None:
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    strict = DeliveryPool(app_state(make_app()), Sender(timeout=0.5))  # no private receivers
    try:
        run(strict)
    finally:
        strict.close()
    assert receiver.received == []
    [delivery] = deliveries(make_app())
    assert (delivery.state, delivery.last_error) == ("failed", "forbidden_address")


def test_an_attempt_that_could_outlast_its_lease_is_released_uncounted_not_sent(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    # A lease shorter than the sender's timeout plus a second: another worker could take
    # the delivery while this one still sends it, so the attempt must not start.
    monkeypatch.setattr(delivery, "ATTEMPT_LEASE", dt.timedelta(seconds=1))
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    run(pool)
    released_then_delivered(app, pool, receiver, monkeypatch)


def test_an_attempt_whose_address_check_ate_into_its_lease_is_released_not_sent(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Long enough a lease when the lane starts, but the check (a slow DNS answer) leaves
    # less than the sender's timeout: sent now, it could still be in flight when another
    # worker takes the delivery again.
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    monkeypatch.setattr(delivery, "ATTEMPT_LEASE", dt.timedelta(seconds=2.5))
    check_url = delivery.addresses.check_url

    def slow_check(url: str, **kwargs: Any) -> delivery.addresses.Destination:
        time.sleep(1.5)
        return check_url(url, **kwargs)

    monkeypatch.setattr(delivery.addresses, "check_url", slow_check)
    run(pool)
    released_then_delivered(app, pool, receiver, monkeypatch)


def released_then_delivered(app: Flask, pool: DeliveryPool, receiver: Receiver,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The only delivery was released uncounted and unsent, due again at once; with the
    patches undone the next run delivers it on its first counted attempt."""
    [released] = deliveries(app)
    assert (released.state, released.attempts, released.last_error) == ("pending", 0, None)
    assert released.next_attempt_at <= utcnow()
    assert receiver.received == []
    monkeypatch.undo()
    run(pool)
    receiver.wait_for(1)
    [delivered] = deliveries(app)
    assert (delivered.state, delivered.attempts) == ("delivered", 1)


# -- a dispatch planned outside the write transaction (SQLite) is written only if still true

def _planned(app: Flask) -> delivery.DispatchPlan:
    with session_scope(app, write=False) as session:
        plan = delivery.plan_dispatch(session.connection(), utcnow(), 10, lock=False)
    assert plan is not None
    return plan


def _applies(app: Flask, plan: delivery.DispatchPlan) -> bool:
    """Whether ``plan`` is written."""
    with session_scope(app) as session:
        return delivery.apply_dispatch(session.connection(), plan, utcnow())


def test_a_dispatch_planned_before_its_endpoint_was_deleted_is_not_written(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    endpoint = register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    plan = _planned(app)
    deleted = client.delete(f"{WEBHOOKS}/{endpoint['id']}", headers=clinic.headers("admin"))
    assert deleted.status_code == 204
    assert not _applies(app, plan)
    run(pool)  # plans again: no live endpoint, nothing to send
    assert deliveries(app) == []
    assert receiver.received == []


def test_a_dispatch_planned_before_a_rotation_is_planned_again_and_signed_by_both(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool) -> None:
    old = register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    plan = _planned(app)
    rotated = client.post(f"{WEBHOOKS}/{old['id']}/rotate-secret", headers=clinic.headers("admin"))
    assert not _applies(app, plan)
    run(pool)
    [got] = receiver.wait_for(1)
    Webhook(old["secret"]).verify(got.body, got.headers)
    Webhook(rotated.get_json()["secret"]).verify(got.body, got.headers)


def test_a_dispatch_planned_twice_is_written_once(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver) -> None:
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    first, second = _planned(app), _planned(app)
    assert _applies(app, first)
    assert not _applies(app, second)
    assert len(deliveries(app)) == 1


def test_a_tick_whose_plan_went_stale_still_records_outcomes_and_plans_again(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    old = register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    send_unrecorded(pool)  # the first delivery's outcome waits for the next tick
    [first] = receiver.wait_for(1)
    submit(client, clinic, routed("critical"))
    planned = delivery.plan_dispatch
    rotated: list[str] = []

    def plan_then_rotate(*args: Any, **kwargs: Any) -> delivery.DispatchPlan | None:
        plan = planned(*args, **kwargs)
        if not rotated:  # the admin rotates between the plan and its transaction
            answer = client.post(f"{WEBHOOKS}/{old['id']}/rotate-secret",
                                 headers=clinic.headers("admin"))
            rotated.append(answer.get_json()["secret"])
        return plan

    monkeypatch.setattr(delivery, "plan_dispatch", plan_then_rotate)
    pool.tick()
    states = sorted((d.state, d.attempts) for d in deliveries(app))
    assert states == [("delivered", 1)]  # recorded, and the stale plan not written
    run(pool)
    [_, second] = receiver.wait_for(2)
    Webhook(old["secret"]).verify(second.body, second.headers)
    Webhook(rotated[0]).verify(second.body, second.headers)
    assert second.headers["webhook-id"] != first.headers["webhook-id"]


def test_a_plan_whose_events_another_worker_dispatched_is_dropped_and_outcomes_still_commit(
        app: Flask, make_app: Callable[..., Flask], client: FlaskClient,
        clinic: TenantCredentials, receiver: Receiver, pool: DeliveryPool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    send_unrecorded(pool)
    submit(client, clinic, routed("critical"))
    other = DeliveryPool(app_state(make_app(WEBHOOK_ALLOW_PRIVATE="1")), Sender(timeout=0.5))
    planned = delivery.plan_dispatch
    interleaved: list[bool] = []

    def plan_then_other_worker(*args: Any, **kwargs: Any) -> delivery.DispatchPlan | None:
        plan = planned(*args, **kwargs)
        if not interleaved:  # a second worker dispatches between this plan and its write
            interleaved.append(True)
            run(other)
        return plan

    monkeypatch.setattr(delivery, "plan_dispatch", plan_then_other_worker)
    try:
        pool.tick()
    finally:
        other.close()
    assert deliveries(app)[0].state == "delivered"  # the first tick's outcome is recorded
    pool.wait(timeout=10)
    assert [(d.state, d.attempts) for d in deliveries(app)] == [("delivered", 1)] * 2
    assert sorted(receiver.ids()) == sorted(d.event_id for d in deliveries(app))  # once each


# -- an admin deleting the endpoint while a tick dispatches to it

@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    """A receiver answering 500 to everything: a delivery left pending would be retried."""
    made = Receiver(default=500)
    yield made
    made.stop()


@contextmanager
def deleting(app: Flask, clinic: TenantCredentials, endpoint_id: str,
             monkeypatch: pytest.MonkeyPatch, after: str) -> Iterator[list[int]]:
    """Inside, the first call of ``delivery.<after>`` (in a tick's transaction) starts the
    admin's delete of the endpoint on another thread once it returns, and gives it a
    second to land or to wait for the tick's locks. On leaving, waits for the delete: the
    list then holds its status."""
    statuses: list[int] = []
    threads: list[threading.Thread] = []
    original = getattr(delivery, after)

    def delete() -> None:  # a client of its own: the test's belongs to the test's thread
        answer = app.test_client().delete(f"{WEBHOOKS}/{endpoint_id}",
                                          headers=clinic.headers("admin"))
        statuses.append(answer.status_code)

    def then_delete(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not threads:
            threads.append(threading.Thread(target=delete))
            threads[0].start()
            threads[0].join(timeout=1)
        return result

    monkeypatch.setattr(delivery, after, then_delete)
    try:
        yield statuses
    finally:
        monkeypatch.setattr(delivery, after, original)
        for thread in threads:
            thread.join(timeout=30)


def test_an_endpoint_deleted_between_the_ticks_check_and_its_commit_keeps_no_pending_delivery(
        app: Flask, client: FlaskClient, clinic: TenantCredentials,
        failing_receiver: Receiver, pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = register(client, clinic, failing_receiver.url)
    submit(client, clinic, routed("critical"))
    with deleting(app, clinic, endpoint["id"], monkeypatch, "apply_dispatch") as deleted:
        pool.tick()
    assert deleted == [204]
    pool.wait(timeout=10)
    assert [d.state for d in deliveries(app)] == ["cancelled"]
    assert pool.tick(utcnow() + dt.timedelta(hours=1)) == 0  # no retry
    assert len(failing_receiver.received) <= 1  # the attempt taken before the delete


def test_an_endpoint_deleted_while_a_tick_records_a_failed_attempt_cancels_all_no_deadlock(
        app: Flask, client: FlaskClient, clinic: TenantCredentials,
        failing_receiver: Receiver, pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = register(client, clinic, failing_receiver.url)
    submit(client, clinic, routed("critical"))
    send_unrecorded(pool)  # the failure waits for the next tick to be recorded
    submit(client, clinic, routed("critical"))
    with deleting(app, clinic, endpoint["id"], monkeypatch, "record") as deleted:
        pool.tick()  # records the failure, dispatches the second event
    assert deleted == [204]  # no deadlock between the two
    pool.wait(timeout=10)
    assert [d.state for d in deliveries(app)] == ["cancelled", "cancelled"]
    assert pool.tick(utcnow() + dt.timedelta(hours=1)) == 0


def test_a_slow_lookup_of_one_endpoints_host_holds_up_only_its_own_deliveries(
        client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lanes share the worker's thread: a host name's lookup (a resolver taking its
    time) runs on a thread of its own, and the other endpoints' attempts go on."""
    slow_receiver = Receiver()
    getaddrinfo = delivery.addresses.socket.getaddrinfo
    slow = threading.Event()
    looked_up = threading.Event()

    def resolver(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.test":
            if slow.is_set():
                time.sleep(1.0)
                looked_up.set()
            host = "127.0.0.1"
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(delivery.addresses.socket, "getaddrinfo", resolver)
    try:
        register(client, clinic, receiver.url)
        register(client, clinic, f"http://slow-dns.test:{slow_receiver.port}/hooks")
        submit(client, clinic, routed("critical"))
        slow.set()
        pool.tick()
        deadline = time.monotonic() + 0.8
        while not receiver.received and time.monotonic() < deadline:
            pool.pump(0.01)
        assert receiver.received and not looked_up.is_set()
        run(pool)
        slow_receiver.wait_for(1)
    finally:
        slow_receiver.stop()


def test_stalled_lookups_of_other_hosts_do_not_hold_up_an_endpoints_deliveries(
        receiver: Receiver, pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clinics whose DNS does not answer (one of them with a backlog, so several lanes):
    their lookups wait on the hub's threads, and another host's attempt is not queued
    behind them."""
    getaddrinfo = delivery.addresses.socket.getaddrinfo
    release = threading.Event()
    lookups: list[str] = []

    def resolver(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.startswith("stalled-"):
            lookups.append(host)
            release.wait(10)
            host = "127.0.0.1"
        elif host == "answering.test":
            host = "127.0.0.1"
        return getaddrinfo(host, *args, **kwargs)

    def attempt(url: str, n: int) -> delivery.Attempt:
        return delivery.Attempt(f"not-a-delivery-{n}", 1, utcnow(), url,
                                {"webhook-id": f"msg_{n}"}, b"{}", time.monotonic() + 60)

    monkeypatch.setattr(delivery.addresses.socket, "getaddrinfo", resolver)
    try:
        backlog = f"http://stalled-0.test:{receiver.port}/hooks"
        pool._queue([attempt(backlog, n) for n in range(5 * delivery.LANE_BACKLOG)])
        pool._queue([attempt(f"http://stalled-{n}.test:{receiver.port}/hooks", 100 + n)
                     for n in range(1, 5)])
        pool._queue([attempt(f"http://answering.test:{receiver.port}/hooks", 200)])
        deadline = time.monotonic() + 1.0
        while not receiver.received and time.monotonic() < deadline:
            pool.pump(0.01)
        assert [r.headers["webhook-id"] for r in receiver.received] == ["msg_200"]
        assert sorted(lookups) == [f"stalled-{n}.test" for n in range(5)]  # one each
    finally:
        release.set()


def test_outcomes_a_failed_tick_could_not_record_are_recorded_by_the_next_not_sent_again(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, receiver: Receiver,
        pool: DeliveryPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick's transaction fails (the database busy, a lost connection) after the
    attempt ended: its outcome stays for the next tick, so the clinic's system does not
    get the same event again when the attempt's lease runs out."""
    register(client, clinic, receiver.url)
    submit(client, clinic, routed("critical"))
    send_unrecorded(pool)
    receiver.wait_for(1)

    def failing(*args: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(delivery, "record", failing)
    with pytest.raises(RuntimeError):
        pool.tick()
    assert pool.outcomes_waiting() == 1
    monkeypatch.undo()
    pool.tick()
    [recorded] = deliveries(app)
    assert (recorded.state, recorded.attempts) == ("delivered", 1)
    assert pool.tick(utcnow() + delivery.ATTEMPT_LEASE * 2) == 0
    assert len(receiver.received) == 1
