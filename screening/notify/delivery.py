"""The worker's delivery job: outbox events become deliveries, and deliveries are sent.

Each tick (``DeliveryPool.tick``) is one write transaction, whatever the number of events:

1. **Dispatch**: the undispatched events (oldest first, one query, PostgreSQL's ``FOR
   UPDATE SKIP LOCKED``) become one delivery per live endpoint of their clinic that
   subscribes to the type at the event's priority (a ``webhook.test`` event: its own
   endpoint), inserted already *taken* for their first attempt. On SQLite, where one
   worker dispatches at a time, this is planned before the transaction, outside the one
   writer lock (``plan_dispatch``), and written only if no endpoint was deleted or
   rotated and no event dispatched meanwhile (``apply_dispatch``); otherwise nothing of
   the plan is written and the next tick plans again. The endpoints are checked
   share-locked (PostgreSQL's ``FOR SHARE``), so an endpoint's delete waits for the tick
   and then cancels its deliveries. Taking an attempt counts it and pushes
   ``next_attempt_at`` past the attempt's end (``ATTEMPT_LEASE``): another worker skips
   it meanwhile (on SQLite one worker works at a time), and if this worker dies the
   lease runs out and the attempt is made again.
2. **Record** the outcomes of the attempts that ended since the last tick, in one
   ``executemany``, fenced on the attempt number (a late answer never overwrites a newer
   attempt, nor a redelivery asked while it was in flight). Any 2xx delivers; otherwise
   the next attempt waits ``backoff(attempts)``; after ``RETRY_WINDOW`` of failures the
   delivery is ``failed``. A forbidden destination fails at once (``forbidden_address``).
   After the dispatch: the endpoints are locked before any delivery row, as a delete
   locks them.
3. **Claim** due retries the same way (one query, ``FOR UPDATE SKIP LOCKED``).

The transaction commits before anything is signed or sent: on SQLite it holds the one
writer lock, so bodies and signatures are built after it (``prepare``). The attempts then
queue per destination URL, where up to ``LANES_PER_DESTINATION`` lanes take them one
after the other over kept-alive connections (``screening.notify.sender``); a lane starts
for every ``LANE_BACKLOG`` attempts waiting, so a fast receiver is served by few
connections and a slow one by several. The lanes are greenlets on the ticking thread
(``screening.notify.hub``), run between ticks (``DeliveryPool.pump``): while one waits
for its receiver the others go on. Each lane checks the destination again
(``addresses.check_url``: DNS can change; a host name is looked up on a thread of the
hub, so a slow resolver holds up only its own lane) before every attempt, and connects
only to the address it checked (a kept-alive connection is reused only while the check
still names its address). An attempt whose lease would run out before its timeout is not
started but released (made due again, uncounted).

Every attempt carries the same ``webhook-id`` (the event id) and the same body.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    Row,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from screening.notify import addresses, signing
from screening.notify.hub import Hub, in_thread
from screening.notify.sender import TOTAL_TIMEOUT_S, Outcome, Sender
from screening.services import outbox, webhooks
from screening.storage import driver
from screening.storage.db import AppState, utcnow
from screening.storage.models import (
    PRIORITIES,
    Clinic,
    Submission,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
)
from screening.storage.unit_of_work import unit_of_work

log = logging.getLogger("screening.notify")

FAN_OUT_BATCH = 500
MAX_IN_FLIGHT = 1024  # attempts taken and not yet recorded, per worker process
LANES_PER_DESTINATION = 8
LANE_BACKLOG = 8
ATTEMPT_LEASE = dt.timedelta(seconds=TOTAL_TIMEOUT_S + 10)
RETRY_WINDOW = dt.timedelta(hours=24)
# Upper bound of the wait after the n-th failed attempt; the wait is drawn between half
# and all of it (jitter, so receivers coming back are not hit by every retry at once).
BACKOFF_S = (10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)
# An outcome meaning "not attempted": the attempt is given back, due at once.
RELEASED = Outcome(None, "released")
STOP_CHECK_S = 0.1  # while lanes wait on receivers, ``pump`` looks at its stop this often


def backoff(attempts: int, rand: random.Random | None = None) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones (1-based)."""
    bound = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
    factor = (rand or random).uniform(0.5, 1.0)
    return dt.timedelta(seconds=bound * factor)


def subscribes(endpoint: WebhookEndpoint | Row[Any], event: WebhookEvent | Row[Any]) -> bool:
    """True when ``endpoint`` is to receive ``event``."""
    if event.endpoint_id is not None:
        return bool(event.endpoint_id == endpoint.id)
    if event.type not in endpoint.events:
        return False
    if event.priority is None:
        return True
    return PRIORITIES.index(event.priority) <= PRIORITIES.index(endpoint.min_priority)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Everything one attempt needs, read in the transaction that took it."""

    delivery_id: str
    attempt: int
    first_attempt_at: dt.datetime
    url: str
    headers: dict[str, str]
    body: bytes
    lease_ends: float  # time.monotonic() at which another worker may take it


@dataclass(frozen=True, slots=True)
class Taken:
    """An attempt taken in a tick's transaction, before its body is built and signed:
    the event's columns (``_EVENT_COLUMNS`` and its id) and the endpoint's
    (``_ENDPOINT_COLUMNS``)."""

    delivery_id: str
    attempt: int
    first_attempt_at: dt.datetime
    event_id: str
    event: Row[Any]
    endpoint: Row[Any]


_events = WebhookEvent.__table__
_endpoints = WebhookEndpoint.__table__
_deliveries = WebhookDelivery.__table__
_clinics = Clinic.__table__
_submissions = Submission.__table__


# What a payload and its signatures need: the event, the clinic's slug and the
# submission's receipt (``outbox.payload``), the endpoint's URL and live secrets.
_EVENT_COLUMNS = (_events.c.type, _events.c.submission_id, _events.c.priority,
                  _events.c.occurred_at, _events.c.data, _clinics.c.slug,
                  _submissions.c.received_at)
_ENDPOINT_COLUMNS = (_endpoints.c.url, _endpoints.c.secret, _endpoints.c.previous_secret,
                     _endpoints.c.previous_secret_expires_at)

_UNDISPATCHED_READ = (
    select(_events.c.seq, _events.c.id, _events.c.clinic_id, _events.c.endpoint_id,
           *_EVENT_COLUMNS)
    .join_from(_events, _clinics, _clinics.c.id == _events.c.clinic_id)
    .outerjoin(_submissions, _submissions.c.id == _events.c.submission_id)
    .where(_events.c.dispatched_at.is_(None))
    .order_by(_events.c.seq)
    .limit(FAN_OUT_BATCH)
)
_UNDISPATCHED = _UNDISPATCHED_READ.with_for_update(skip_locked=True, of=_events)
_LIVE_ENDPOINTS = (
    select(_endpoints.c.id, _endpoints.c.clinic_id, _endpoints.c.events,
           _endpoints.c.min_priority, *_ENDPOINT_COLUMNS)
    .where(_endpoints.c.clinic_id.in_(bindparam("clinic_ids", expanding=True)),
           _endpoints.c.deleted_at.is_(None))
)
# The live endpoints among some, with their secrets: a planned delivery is stale when its
# endpoint is missing here (deleted) or its secrets differ (rotated). Share-locked until
# the tick commits (PostgreSQL; SQLite's write transaction holds the database): a delete
# of one waits, and then cancels the deliveries the tick wrote, which it could not see
# before they were committed.
_LIVE_SECRETS = select(_endpoints.c.id, _endpoints.c.secret, _endpoints.c.previous_secret,
                       _endpoints.c.previous_secret_expires_at).where(
    _endpoints.c.id.in_(bindparam("ids", expanding=True)), _endpoints.c.deleted_at.is_(None)
).with_for_update(read=True)
_STILL_UNDISPATCHED = select(func.count()).where(
    _events.c.seq.in_(bindparam("seqs", expanding=True)), _events.c.dispatched_at.is_(None))
_MARK_DISPATCHED = (
    update(_events).where(_events.c.seq.in_(bindparam("seqs", expanding=True)),
                          _events.c.dispatched_at.is_(None))
    .values(dispatched_at=bindparam("now")))


_INSERT_DELIVERIES = insert(_deliveries)
_DELIVERY_COLUMNS = (
    "id", "endpoint_id", "event_id", "clinic_id", "state", "attempts", "next_attempt_at",
    "first_attempt_at", "created_at")


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    """Undispatched events made into deliveries: the events' ``seq``, the delivery rows
    (bound for the driver, ``driver.bound_many``) and the attempts taken among them."""

    seqs: list[int]
    inserts: tuple[str, list[Any]]
    taken: list[Taken]
    secrets: dict[str, tuple[Any, ...]]  # each endpoint delivered to: its secrets as read
    locked: bool  # the events were read locked, in the transaction that writes the plan


def plan_dispatch(connection: Connection, now: dt.datetime, take: int, *, lock: bool
                  ) -> DispatchPlan | None:
    """The deliveries of the undispatched events (oldest first, up to ``FAN_OUT_BATCH``),
    the first ``take`` of them taken for their first attempt; None when no event waits.
    With ``lock`` the events are locked (``FOR UPDATE SKIP LOCKED``, PostgreSQL), so
    workers sharing the outbox take different ones. Only reads."""
    events = connection.execute(_UNDISPATCHED if lock else _UNDISPATCHED_READ).all()
    if not events:
        return None
    endpoints: dict[str, list[Row[Any]]] = {}
    for endpoint in connection.execute(
            _LIVE_ENDPOINTS, {"clinic_ids": list({event.clinic_id for event in events})}):
        endpoints.setdefault(endpoint.clinic_id, []).append(endpoint)
    rows: list[dict[str, Any]] = []
    taken: list[Taken] = []
    lease_until = now + ATTEMPT_LEASE
    for event in events:
        for endpoint in endpoints.get(event.clinic_id, ()):
            if not subscribes(endpoint, event):
                continue
            delivery_id = new_id()
            first = len(taken) < take
            rows.append({
                "id": delivery_id, "endpoint_id": endpoint.id, "event_id": event.id,
                "clinic_id": event.clinic_id, "state": "pending", "attempts": int(first),
                "next_attempt_at": lease_until if first else event.occurred_at,
                "first_attempt_at": now if first else None, "created_at": now})
            if first:
                taken.append(Taken(delivery_id, 1, now, event.id, event, endpoint))
    inserts = driver.bound_many(connection.dialect, _INSERT_DELIVERIES, rows,
                                _DELIVERY_COLUMNS)
    used = {row["endpoint_id"] for row in rows}
    secrets = {endpoint.id: _secrets(endpoint)
               for listed in endpoints.values() for endpoint in listed if endpoint.id in used}
    return DispatchPlan([event.seq for event in events], inserts, taken, secrets, lock)


def _secrets(endpoint: Row[Any]) -> tuple[Any, ...]:
    return (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at)


def apply_dispatch(connection: Connection, plan: DispatchPlan, now: dt.datetime) -> bool:
    """Writes ``plan`` in ``connection``'s write transaction: its events marked
    dispatched, and their deliveries; True once written. False, with nothing written,
    when the plan is stale: one of its endpoints was deleted or its secret rotated since
    it was read (its deliveries would go where they may no longer, or lack the new
    signature), and the events stay undispatched for the next plan; or, for a plan read
    without locks (SQLite), one of its events was dispatched since by another worker (a
    lease that lapsed while its holder still worked), which sent it already."""
    if not plan.locked:
        undispatched = connection.execute(_STILL_UNDISPATCHED, {"seqs": plan.seqs}).scalar()
        if undispatched != len(plan.seqs):
            return False
    if plan.secrets:
        current = {row.id: _secrets(row)
                   for row in connection.execute(_LIVE_SECRETS, {"ids": list(plan.secrets)})}
        if current != plan.secrets:
            return False
    marked = connection.execute(_MARK_DISPATCHED, {"seqs": plan.seqs, "now": now}).rowcount
    if marked != len(plan.seqs):
        raise RuntimeError(f"{len(plan.seqs) - marked} planned events were dispatched "
                           "meanwhile")
    sql, parameters = plan.inserts
    if parameters:
        connection.exec_driver_sql(sql, parameters)
    return True


_DUE = (
    select(_deliveries.c.id.label("delivery_id"), _deliveries.c.attempts,
           _deliveries.c.first_attempt_at, _events.c.id.label("event_id"), *_EVENT_COLUMNS,
           *_ENDPOINT_COLUMNS)
    .join_from(_deliveries, _events, _events.c.id == _deliveries.c.event_id)
    .join(_endpoints, _endpoints.c.id == _deliveries.c.endpoint_id)
    .join(_clinics, _clinics.c.id == _deliveries.c.clinic_id)
    .outerjoin(_submissions, _submissions.c.id == _events.c.submission_id)
    .where(_deliveries.c.state == "pending", _deliveries.c.next_attempt_at <= bindparam("now"))
    .order_by(_deliveries.c.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=_deliveries)
)
_TAKE = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"))
    .values(attempts=bindparam("attempt"), next_attempt_at=bindparam("lease_until"),
            first_attempt_at=bindparam("first")))


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[Taken]:
    """Takes up to ``limit`` due deliveries for one attempt each (see the module doc)."""
    if limit <= 0:
        return []
    connection = session.connection()
    rows = connection.execute(_DUE, {"now": now, "limit": limit}).all()
    taken = [Taken(row.delivery_id, row.attempts + 1, row.first_attempt_at or now,
                   row.event_id, row, row) for row in rows]
    if taken:
        lease_until = now + ATTEMPT_LEASE
        connection.execute(_TAKE, [
            {"delivery_id": t.delivery_id, "attempt": t.attempt, "lease_until": lease_until,
             "first": t.first_attempt_at} for t in taken])
    return taken


def prepare(taken: list[Taken], now: dt.datetime, lease_ends: float) -> list[Attempt]:
    """The bodies and signatures of the attempts ``taken`` at ``now``. Built after the
    transaction that took them has committed: this is most of a tick's CPU, and on SQLite
    the transaction holds the one writer lock that ingest waits for."""
    timestamp = int(now.timestamp())
    bodies: dict[str, bytes] = {}
    attempts = []
    for t in taken:
        body = bodies.get(t.event_id)
        if body is None:
            body = bodies[t.event_id] = orjson.dumps(
                outbox.payload(t.event, t.event.slug, t.event.received_at))
        headers = signing.headers(webhooks.live_secrets(t.endpoint, now), t.event_id,
                                  timestamp, body)
        attempts.append(Attempt(t.delivery_id, t.attempt, t.first_attempt_at, t.endpoint.url,
                                headers, body, lease_ends))
    return attempts


_RECORD = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"),
           _deliveries.c.attempts == bindparam("attempt"),
           _deliveries.c.state == "pending",
           # a redelivery asked since the attempt was taken (it clears this) is not undone
           _deliveries.c.first_attempt_at.is_not(None))
    .values(state=bindparam("new_state"), last_status=bindparam("status"),
            last_error=bindparam("error"), next_attempt_at=bindparam("next_at"),
            delivered_at=bindparam("delivered")))
_RELEASE = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"),
           _deliveries.c.attempts == bindparam("attempt"),
           _deliveries.c.state == "pending")
    .values(attempts=bindparam("attempt", type_=Integer) - 1,
            next_attempt_at=bindparam("next_at")))


Writes = list[tuple[str, list[Any]]]  # driver SQL and the parameters of its executemany


def outcome_writes(dialect: Dialect, finished: list[tuple[Attempt, Outcome, dt.datetime]],
                   rand: random.Random | None = None) -> Writes:
    """What stores the outcomes of finished attempts, bound before the transaction that
    runs it (on SQLite that transaction holds the one writer lock): an outcome is ignored
    if a newer attempt of its delivery has begun; released attempts are made due again
    without counting."""
    rows, released = [], []
    for attempt, outcome, now in finished:
        if outcome is RELEASED:
            released.append({"delivery_id": attempt.delivery_id, "attempt": attempt.attempt,
                             "next_at": now})
        elif outcome.delivered:
            rows.append({"delivery_id": attempt.delivery_id, "attempt": attempt.attempt,
                         "status": outcome.status, "error": None, "new_state": "delivered",
                         "next_at": None, "delivered": now})
        else:
            failed = (outcome.error == "forbidden_address"
                      or now - attempt.first_attempt_at >= RETRY_WINDOW)
            rows.append({"delivery_id": attempt.delivery_id, "attempt": attempt.attempt,
                         "status": outcome.status, "error": outcome.error,
                         "new_state": "failed" if failed else "pending",
                         "next_at": None if failed else now + backoff(attempt.attempt, rand),
                         "delivered": None})
    return [driver.bound_many(dialect, statement, params)
            for statement, params in ((_RECORD, rows), (_RELEASE, released)) if params]


def record(session: Session, writes: Writes) -> None:
    """Runs ``outcome_writes`` in the session's transaction (one ``executemany`` each)."""
    if writes:
        connection = session.connection()
        for sql, parameters in writes:
            connection.exec_driver_sql(sql, parameters)


_WORK_WAITING = select(
    exists().where(_events.c.dispatched_at.is_(None)),
    exists().where(_deliveries.c.state == "pending",
                   _deliveries.c.next_attempt_at <= bindparam("now")))


def _work_waiting(session: Session, now: dt.datetime) -> tuple[bool, bool]:
    """Whether any event awaits dispatch, and whether any delivery is due (one query)."""
    new_events, due = session.connection().execute(_WORK_WAITING, {"now": now}).one()
    return bool(new_events), bool(due)


class DeliveryPool:
    """Sends deliveries on lanes over one pooled ``Sender`` (one pool per worker process).
    ``tick`` never waits for a receiver; ``pump`` and ``wait`` run the lanes. One thread
    uses a pool: the lanes are greenlets of the thread that ticks it.

    Outcomes are not written by the lanes one by one: the next tick records them all in
    its one write transaction, together with the dispatch and the next claims (a write per
    delivery would contend with ingest for SQLite's single writer, and cost a durable
    commit each). An outcome lost with a killed worker only means the attempt is made
    again when its lease runs out."""

    def __init__(self, state: AppState, sender: Sender | None = None) -> None:
        self.state = state
        self.sender = sender or Sender()
        self._hub = Hub()
        self._lock = threading.Lock()
        self._in_flight = 0  # taken attempts not yet handed to ``record``
        self._queues: dict[str, deque[Attempt]] = {}
        self._lanes: dict[str, int] = {}
        self._outcomes: list[tuple[Attempt, Outcome, dt.datetime]] = []
        self._busy = False  # the last tick dispatched or took something

    def tick(self, now: dt.datetime | None = None) -> int:
        """Dispatches new events, records finished attempts and takes due retries, in one
        transaction, then queues the attempts taken; returns the work done.

        After an idle tick, one read query first asks whether there is anything to do (an
        idle tick takes no write lock: SQLite has one). After a busy tick more work is
        likely, and the write transaction asks by itself (on PostgreSQL every query is a
        round trip, and under load each costs more than the work)."""
        now = now or utcnow()
        # The in-memory end of the attempts' leases, taken before the transaction that
        # writes them: never later than the lease another worker reads.
        lease_ends = time.monotonic() + ATTEMPT_LEASE.total_seconds()
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            room = MAX_IN_FLIGHT - self._in_flight
        try:
            done = self._transact(now, outcomes, room)
        except BaseException:
            # Not recorded: the next tick records them (else each of these attempts, ended
            # already, would be made again when its lease ran out).
            with self._lock:
                self._outcomes[:0] = outcomes
            raise
        if done is None:
            return 0
        plan, taken, stale = done
        handled = len(plan.seqs) if plan is not None else 0
        self._busy = bool(handled or taken or stale)
        self._queue(prepare(taken, now, lease_ends))
        return len(outcomes) + handled + len(taken)

    def _transact(self, now: dt.datetime, outcomes: list[tuple[Attempt, Outcome, dt.datetime]],
                  room: int) -> tuple[DispatchPlan | None, list[Taken], bool] | None:
        """The tick's write transaction (see ``tick``): the plan written (None when none
        or stale), the attempts taken and whether the plan was stale; None when there was
        nothing to do."""
        if self._busy:
            new_events = due = True
        else:
            with self.state.db.read_sessions() as session:
                new_events, due = _work_waiting(session, now)
            if not (outcomes or new_events or (due and room > 0)):
                return None
        db = self.state.db
        writes = outcome_writes(db.write_engine.dialect, outcomes)
        plan = None
        if new_events and self.state.settings.is_sqlite:
            # The lease makes this the only worker dispatching, so the events are read and
            # fanned out before the write transaction, outside the one writer lock ingest
            # waits for (``apply_dispatch`` checks that the plan still holds).
            with db.read_sessions() as session:
                plan = plan_dispatch(session.connection(), now, room, lock=False)
            new_events = False
        with unit_of_work(db) as uow:
            session = uow.session(write=True)
            # Dispatch before recording: it locks the endpoints before any delivery row,
            # in the order an endpoint's delete takes them (else the two can deadlock).
            if new_events:  # PostgreSQL: workers share the outbox, each locking its events
                plan = plan_dispatch(session.connection(), now, room, lock=True)
            stale = plan is not None and not apply_dispatch(session.connection(), plan, now)
            if stale:
                plan = None  # an endpoint or event changed meanwhile: the next tick plans again
            record(session, writes)
            taken = plan.taken if plan is not None else []
            if due and room > len(taken):
                taken += claim_due(session, now, room - len(taken))
            uow.commit()
        return plan, taken, stale

    def _queue(self, attempts: list[Attempt]) -> None:
        """Queues ``attempts`` by destination and starts the lanes their backlog needs."""
        if not attempts:
            return
        starting: list[str] = []
        with self._lock:
            self._in_flight += len(attempts)
            touched = set()
            for attempt in attempts:
                queue = self._queues.get(attempt.url)
                if queue is None:
                    queue = self._queues[attempt.url] = deque()
                queue.append(attempt)
                touched.add(attempt.url)
            for url in touched:
                lanes = self._lanes.get(url, 0)
                wanted = min(LANES_PER_DESTINATION,
                             max(1, math.ceil(len(self._queues[url]) / LANE_BACKLOG)))
                starting += [url] * (wanted - lanes)
                self._lanes[url] = max(lanes, wanted)
        for url in starting:
            self._hub.spawn(self._lane, url)

    def _lane(self, url: str) -> None:
        """Sends the attempts queued for ``url`` one after the other until none is left."""
        destination: addresses.Destination | None = None
        while True:
            with self._lock:
                queue = self._queues[url]
                if not queue:
                    self._lanes[url] -= 1
                    if not self._lanes[url]:
                        del self._lanes[url], self._queues[url]
                    return
                attempt = queue.popleft()
            outcome: Outcome | None
            try:
                if self._outlasts_lease(attempt):
                    outcome = RELEASED  # it could outlast its lease: another worker's turn
                else:
                    destination = self._check(url)
                    if destination is None:
                        outcome = Outcome(None, "forbidden_address")
                    elif self._outlasts_lease(attempt):  # the check (DNS) took that long
                        outcome = RELEASED
                    else:
                        outcome = self.sender.send(destination, attempt.headers, attempt.body)
            except Exception:  # a bug, not the receiver: the lease runs out, it is tried again
                log.exception("webhook delivery attempt failed unexpectedly")
                outcome = None
            with self._lock:
                if outcome is not None:
                    self._outcomes.append((attempt, outcome, utcnow()))
                self._in_flight -= 1

    def _outlasts_lease(self, attempt: Attempt) -> bool:
        return time.monotonic() + self.sender.timeout + 1 > attempt.lease_ends

    def _check(self, url: str) -> addresses.Destination | None:
        allow_private = self.state.settings.webhook_allow_private
        check = addresses.check_url
        try:
            if addresses.needs_lookup(url, allow_private=allow_private):
                # one lookup at a time per URL, whose lanes share it: a stalled resolver
                # holds up one of the hub's threads, not one per lane
                return in_thread(lambda: check(url, allow_private=allow_private), shared=url)
            return check(url, allow_private=allow_private)
        except addresses.ForbiddenDestination:
            return None

    def outcomes_waiting(self) -> int:
        """How many finished attempts the next tick (or ``wait``) is to record."""
        with self._lock:
            return len(self._outcomes)

    def pump(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Runs the lanes for ``seconds`` (sends, reads answers), returning early once
        ``stop`` is set; simply waits when no attempt is in flight."""
        until = time.monotonic() + seconds
        while (remaining := until - time.monotonic()) > 0:
            if stop is not None and stop.is_set():
                return
            if not self._hub.lanes:
                if stop is not None:
                    stop.wait(remaining)
                else:
                    time.sleep(remaining)
                return
            # in slices, so that ``stop`` is seen while lanes wait on slow receivers
            self._hub.run(min(until, time.monotonic() + STOP_CHECK_S))

    def wait(self, timeout: float | None = None) -> None:
        """Runs the lanes until no attempt is in flight (or ``timeout`` passes), then
        records the outcomes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._hub.lanes:
            if deadline is not None and time.monotonic() >= deadline:
                break
            self._hub.run(deadline if deadline is not None else time.monotonic() + 3600)
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            db = self.state.db
            with unit_of_work(db) as uow:
                record(uow.session(write=True),
                       outcome_writes(db.write_engine.dialect, outcomes))

    def close(self) -> None:
        """Finishes the attempts in flight, records them, closes threads and client."""
        self.wait()
        self._hub.close()
        self.sender.close()


_pools: dict[tuple[int, int], DeliveryPool] = {}


def delivery_job(state: AppState) -> int:
    """The worker job: one ``DeliveryPool.tick`` with this process's pool."""
    key = (id(state), os.getpid())
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = DeliveryPool(state)
    return pool.tick()


def pump_delivery(state: AppState, seconds: float, stop: threading.Event) -> None:
    """The pause between two ticks: runs this process's lanes for ``seconds`` (or until
    ``stop`` is set), on the thread that ticks them."""
    pool = _pools.get((id(state), os.getpid()))
    if pool is None:
        stop.wait(seconds)
        return
    pool.pump(seconds, stop)


def stop_delivery(state: AppState) -> None:
    """Lets this process's attempts in flight finish, records them and closes its pool;
    called on the thread that ticked it (its lanes are that thread's)."""
    pool = _pools.pop((id(state), os.getpid()), None)
    if pool is not None:
        pool.close()
