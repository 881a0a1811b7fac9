"""The worker's delivery job: outbox events become deliveries, due deliveries are sent.

Each tick (``DeliveryPool.tick``):

1. **Fan out**: undispatched events (oldest first) get one ``pending`` delivery per live
   endpoint of their clinic that subscribes to the type at the event's priority (a
   ``webhook.test`` event only its own endpoint).
2. **Claim**: due ``pending`` deliveries are taken, as many as there are free sending
   threads. Taking one counts the attempt and pushes ``next_attempt_at`` past the
   attempt's end (``ATTEMPT_LEASE``), committed before anything is sent: another worker
   skips it meanwhile (PostgreSQL ``FOR UPDATE SKIP LOCKED``; on SQLite one worker works at
   a time), and if this worker dies the lease runs out and the attempt is made again.
3. **Send** on a thread: check the destination again (DNS can change), POST the signed
   body; the next tick records the outcome, fenced on the attempt number so a late answer
   never overwrites a newer attempt. Any 2xx delivers; otherwise the next attempt waits
   ``backoff(attempts)``; after ``RETRY_WINDOW`` of failures the delivery is ``failed``.
   A forbidden destination fails at once (``forbidden_address``).

Every attempt carries the same ``webhook-id`` (the event id) and the same body.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from screening.db import AppState, utcnow
from screening.models import (
    PRIORITIES,
    Clinic,
    Submission,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
)
from screening.notify import addresses, signing
from screening.notify.sender import TOTAL_TIMEOUT_S, Outcome, Sender
from screening.services import outbox, webhooks
from screening.unit_of_work import unit_of_work

log = logging.getLogger("screening.notify")

FAN_OUT_BATCH = 200
SEND_THREADS = 64
ATTEMPT_LEASE = dt.timedelta(seconds=TOTAL_TIMEOUT_S + 10)
RETRY_WINDOW = dt.timedelta(hours=24)
# Upper bound of the wait after the n-th failed attempt; the wait is drawn between half
# and all of it (jitter, so receivers coming back are not hit by every retry at once).
BACKOFF_S = (10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)


def backoff(attempts: int, rand: random.Random | None = None) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones (1-based)."""
    bound = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
    factor = (rand or random).uniform(0.5, 1.0)
    return dt.timedelta(seconds=bound * factor)


def subscribes(endpoint: WebhookEndpoint, event: WebhookEvent | Row[Any]) -> bool:
    """True when ``endpoint`` is to receive ``event``."""
    if event.endpoint_id is not None:
        return event.endpoint_id == endpoint.id
    if event.type not in endpoint.events:
        return False
    if event.priority is None:
        return True
    return PRIORITIES.index(event.priority) <= PRIORITIES.index(endpoint.min_priority)


def fan_out(session: Session, now: dt.datetime) -> int:
    """Turns undispatched events into deliveries; returns how many events it handled.
    Plain statements (``executemany``), not ORM objects: this runs for every event."""
    events = session.execute(
        select(WebhookEvent.seq, WebhookEvent.id, WebhookEvent.type, WebhookEvent.clinic_id,
               WebhookEvent.priority, WebhookEvent.endpoint_id, WebhookEvent.occurred_at)
        .where(WebhookEvent.dispatched_at.is_(None))
        .order_by(WebhookEvent.seq)
        .limit(FAN_OUT_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    clinic_ids = {event.clinic_id for event in events}
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    for endpoint in session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.clinic_id.in_(clinic_ids),
                                      WebhookEndpoint.deleted_at.is_(None))
    ):
        endpoints.setdefault(endpoint.clinic_id, []).append(endpoint)
    rows = [
        {"id": new_id(), "endpoint_id": endpoint.id, "event_id": event.id,
         "clinic_id": event.clinic_id, "state": "pending", "attempts": 0,
         "last_status": None, "last_error": None, "next_attempt_at": event.occurred_at,
         "first_attempt_at": None, "delivered_at": None, "created_at": now}
        for event in events
        for endpoint in endpoints.get(event.clinic_id, ())
        if subscribes(endpoint, event)
    ]
    connection = session.connection()
    if rows:
        connection.execute(insert(WebhookDelivery.__table__), rows)
    connection.execute(
        update(WebhookEvent.__table__)
        .where(WebhookEvent.__table__.c.seq.in_([event.seq for event in events]))
        .values(dispatched_at=now))
    return len(events)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Everything one attempt needs, read in the claiming transaction."""

    delivery_id: str
    attempt: int
    first_attempt_at: dt.datetime
    url: str
    headers: dict[str, str]
    body: bytes


_TAKE = (
    update(WebhookDelivery.__table__)
    .where(WebhookDelivery.__table__.c.id == bindparam("delivery_id"))
    .values(attempts=bindparam("attempt"), next_attempt_at=bindparam("lease_until"),
            first_attempt_at=bindparam("first")))


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[Attempt]:
    """Takes up to ``limit`` due deliveries for one attempt each (see the module doc)."""
    if limit <= 0:
        return []
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.first_attempt_at,
               WebhookEvent, WebhookEndpoint, Clinic.slug, Submission.received_at)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Clinic, Clinic.id == WebhookDelivery.clinic_id)
        .outerjoin(Submission, Submission.id == WebhookEvent.submission_id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    attempts, taken = [], []
    timestamp = int(now.timestamp())
    for delivery_id, attempts_so_far, first, event, endpoint, slug, received_at in rows:
        attempt = Attempt(delivery_id, attempts_so_far + 1, first or now, endpoint.url, {},
                          orjson.dumps(outbox.payload(event, slug, received_at)))
        attempt.headers.update(signing.headers(webhooks.live_secrets(endpoint, now), event.id,
                                               timestamp, attempt.body))
        attempts.append(attempt)
        taken.append({"delivery_id": delivery_id, "attempt": attempt.attempt,
                      "lease_until": now + ATTEMPT_LEASE, "first": attempt.first_attempt_at})
    if taken:
        session.connection().execute(_TAKE, taken)
    return attempts


_deliveries = WebhookDelivery.__table__.c
_RECORD = (
    update(WebhookDelivery.__table__)
    .where(_deliveries.id == bindparam("delivery_id"),
           _deliveries.attempts == bindparam("attempt"),
           _deliveries.state == "pending")
    .values(state=bindparam("new_state"), last_status=bindparam("status"),
            last_error=bindparam("error"), next_attempt_at=bindparam("next_at"),
            delivered_at=bindparam("delivered")))


def record(session: Session, finished: list[tuple[Attempt, Outcome, dt.datetime]],
           rand: random.Random | None = None) -> None:
    """Stores the outcomes of finished attempts in one ``executemany`` (an outcome is
    ignored if a newer attempt of its delivery has begun)."""
    rows = []
    for attempt, outcome, now in finished:
        row = {"delivery_id": attempt.delivery_id, "attempt": attempt.attempt,
               "status": outcome.status, "error": outcome.error, "new_state": "pending",
               "next_at": None, "delivered": None}
        if outcome.delivered:
            row.update(new_state="delivered", delivered=now)
        elif outcome.error == "forbidden_address" or now - attempt.first_attempt_at >= RETRY_WINDOW:
            row.update(new_state="failed")
        else:
            row.update(next_at=now + backoff(attempt.attempt, rand))
        rows.append(row)
    if rows:
        session.connection().execute(_RECORD, rows)


def _work_waiting(session: Session, now: dt.datetime) -> tuple[bool, bool]:
    """Whether any event awaits fan-out, and whether any delivery is due."""
    new_events = session.scalar(
        select(WebhookEvent.seq).where(WebhookEvent.dispatched_at.is_(None)).limit(1))
    due = session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .limit(1))
    return new_events is not None, due is not None


class DeliveryPool:
    """Sends deliveries on a pool of threads with one pooled HTTP client (one per worker
    process). ``tick`` never waits for a receiver; ``wait`` does.

    Outcomes are not written by the sending threads one by one: the next tick records them
    all in its one write transaction, together with the fan-out and the next claims (a
    write per delivery would contend with ingest for SQLite's single writer, and cost a
    durable commit each). An outcome lost with a killed worker only means the attempt is
    made again when its lease runs out."""

    def __init__(self, state: AppState, sender: Sender | None = None,
                 threads: int = SEND_THREADS) -> None:
        self.state = state
        self.sender = sender or Sender()
        self._threads = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self._in_flight = 0
        self._outcomes: list[tuple[Attempt, Outcome, dt.datetime]] = []
        self._idle = threading.Condition()

    def tick(self, now: dt.datetime | None = None) -> int:
        """Records finished attempts, fans out new events and starts the due attempts, in
        one transaction; returns the work done."""
        now = now or utcnow()
        with self._idle:
            outcomes, self._outcomes = self._outcomes, []
            free = self._threads - self._in_flight
        with self.state.db.read_sessions() as session:  # an idle tick takes no write lock
            new_events, due = _work_waiting(session, now)
        if not (outcomes or new_events or (due and free > 0)):
            return 0
        db = self.state.db
        with db.committer.writer_lock(), unit_of_work(db) as uow:
            session = uow.session(write=True)
            record(session, outcomes)
            done = fan_out(session, now) if new_events else 0
            attempts = claim_due(session, now, free) if due or done else []
        for attempt in attempts:
            with self._idle:
                self._in_flight += 1
            self._executor.submit(self._attempt, attempt)
        return len(outcomes) + done + len(attempts)

    def _attempt(self, attempt: Attempt) -> None:
        try:
            outcome = self._send(attempt)
        except Exception:  # a bug, not the receiver: the lease runs out, it is tried again
            log.exception("webhook delivery attempt failed unexpectedly")
            outcome = None
        with self._idle:
            if outcome is not None:
                self._outcomes.append((attempt, outcome, utcnow()))
            self._in_flight -= 1
            self._idle.notify_all()

    def _send(self, attempt: Attempt) -> Outcome:
        try:
            destination = addresses.check_url(
                attempt.url, allow_private=self.state.settings.webhook_allow_private)
        except addresses.ForbiddenDestination:
            return Outcome(None, "forbidden_address")
        return self.sender.send(destination, attempt.headers, attempt.body)

    def wait(self, timeout: float | None = None) -> None:
        """Waits until no attempt is in flight, then records the outcomes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._idle.wait(remaining)
            outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            db = self.state.db
            with db.committer.writer_lock(), unit_of_work(db) as uow:
                record(uow.session(write=True), outcomes)

    def close(self) -> None:
        """Finishes the attempts in flight, records them, closes threads and client."""
        self.wait()
        self._executor.shutdown()
        self.sender.close()


_pools: dict[tuple[int, int], DeliveryPool] = {}


def delivery_job(state: AppState) -> int:
    """The worker job: one ``DeliveryPool.tick`` with this process's pool."""
    key = (id(state), os.getpid())
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = DeliveryPool(state)
    return pool.tick()


def stop_delivery(state: AppState) -> None:
    """Lets this process's attempts in flight finish and closes its pool."""
    pool = _pools.pop((id(state), os.getpid()), None)
    if pool is not None:
        pool.close()
