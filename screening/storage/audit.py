"""Append-only, hash-chained audit events: accepted by requests, sealed by the sealer.

Each sealed event's ``hash`` is ``sha256(prev_hash + canonical_json(fields))`` where the
fields are the event's own columns (``seq`` and ``occurred_at`` as an ISO-8601 UTC string
included) and ``prev_hash`` is the previous event's hash (64 zeros for the first).

Accept, then sequence (as Certificate Transparency logs do): a request's transaction only
inserts its events, unsealed (``seq``, ``prev_hash`` and ``hash`` NULL), and takes no
lock shared with other requests. The sealer (``screening.server.sealer``) gives the
waiting events their place in the chain every second, in insertion order (``id``), in two
steps: ``plan_seal`` reads the chain head and the waiting events and hashes them, outside
any write transaction; ``apply_seal`` then writes the plan while holding the single
``audit_chain_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
SQLite), only if the head is still the one planned after. So only sealers wait for each
other, the chain never forks, and on SQLite the one writer lock that requests need is
held for the writes alone, not for the hashing. ``verify`` recomputes the chain and
reports every edited, inserted or deleted sealed event; a signed checkpoint
(``screening.storage.checkpoints``) also catches a truncated tail.

Events are appended by ``UnitOfWork.audit`` (``screening.storage.unit_of_work``), the one
appender: the unit's transaction holds the event together with the change it describes.
Hashing happens only here, in ``plan_seal`` and ``verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from screening.storage import driver
from screening.storage.models import GENESIS_HASH, AuditChainHead, AuditEvent

SEAL_BATCH = 1000  # events per sealing transaction: bounds how long the head stays locked

_HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "clinic_id",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "request_id",
)

_head = AuditChainHead.__table__.c
_events = AuditEvent.__table__.c
_READ_HEAD = select(_head.last_seq, _head.last_hash).where(_head.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_UNSEALED = (
    select(*(_events[name] for name in ("id", *_HASHED_FIELDS)))
    .where(_events.seq.is_(None))
    .order_by(_events.id)
    .limit(bindparam("batch"))
)
_SEAL = (
    update(AuditEvent.__table__)
    .where(_events.id == bindparam("event_id"), _events.seq.is_(None))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev_hash"),
            hash=bindparam("new_hash"))
)
_MOVE_HEAD = (
    AuditChainHead.__table__.update()
    .where(_head.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One break in the chain: the first ``seq`` concerned and what is wrong."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class SealPlan:
    """The places in the chain of some waiting events, worked out from the chain head
    ``after`` (its ``last_seq`` and ``last_hash``) as it was read."""

    after: tuple[int, str]
    seals: list[dict[str, Any]]  # ``_SEAL``'s parameters, one per event, in chain order

    @property
    def head(self) -> tuple[int, str]:
        """The chain head once these events are sealed."""
        last = self.seals[-1]
        return last["new_seq"], last["new_hash"]


def plan_seal(session: Session, *, batch: int = SEAL_BATCH, lock: bool = False
              ) -> SealPlan | None:
    """The chain places of up to ``batch`` waiting events, oldest insertion first, after
    the head as ``session`` reads it (locked with ``lock``); None when none waits. Only
    reads: the hashing need not hold the write lock (see ``apply_seal``)."""
    last_seq, last_hash = session.execute(_LOCK_HEAD if lock else _READ_HEAD).one()
    waiting = session.execute(_UNSEALED, {"batch": batch}).all()
    if not waiting:
        return None
    seals: list[dict[str, Any]] = []
    seq, prev_hash = last_seq, last_hash
    for row in waiting:
        seq += 1
        fields = {name: getattr(row, name) for name in _HASHED_FIELDS}
        fields["seq"], fields["occurred_at"] = seq, iso_utc(row.occurred_at)
        new_hash = chain_hash(prev_hash, fields)
        seals.append({"event_id": row.id, "new_seq": seq, "new_prev_hash": prev_hash,
                      "new_hash": new_hash})
        prev_hash = new_hash
    return SealPlan((last_seq, last_hash), seals)


def apply_seal(session: Session, plan: SealPlan) -> int:
    """Writes ``plan`` in ``session``'s write transaction, locking the chain head, if the
    head is still the one it was planned after; returns how many events it sealed (0 when
    another sealer moved the head meanwhile: plan again). The caller commits.

    The head moves with every seal, so an unmoved head means none of the planned events
    was sealed since; the ``seq IS NULL`` fence and the count of changed rows check it
    again, and a mismatch raises (the caller's transaction rolls back)."""
    if tuple(session.execute(_LOCK_HEAD).one()) != plan.after:
        return 0
    connection = session.connection()
    changed = driver.run_many(connection, _SEAL, plan.seals)
    if changed != len(plan.seals):
        raise RuntimeError(f"sealing changed {changed} of {len(plan.seals)} planned events")
    new_seq, new_hash = plan.head
    connection.execute(_MOVE_HEAD, {"new_seq": new_seq, "new_hash": new_hash})
    return len(plan.seals)


def seal_pending(session: Session, *, batch: int = SEAL_BATCH) -> int:
    """Plans and seals up to ``batch`` waiting events in ``session``'s one transaction,
    holding the chain head throughout; returns how many. The caller commits, and calls
    again while it returns ``batch``. (The sealer plans outside its write transaction.)"""
    plan = plan_seal(session, batch=batch, lock=True)
    return apply_seal(session, plan) if plan is not None else 0


@dataclass(frozen=True, slots=True)
class Backlog:
    """The events waiting to be sealed: how many, and when the oldest occurred."""

    count: int
    oldest: dt.datetime | None

    def oldest_age_seconds(self, now: dt.datetime) -> float:
        """How long the oldest waiting event has waited at ``now`` (0 when none)."""
        return (now - self.oldest).total_seconds() if self.oldest is not None else 0.0


def backlog(session: Session) -> Backlog:
    """The events not sealed yet."""
    count, oldest = session.execute(
        select(func.count(), func.min(AuditEvent.occurred_at)).where(AuditEvent.seq.is_(None))
    ).one()
    return Backlog(count, oldest)


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The hashed fields of ``event`` as JSON-ready values."""
    fields = {name: getattr(event, name) for name in _HASHED_FIELDS}
    fields["occurred_at"] = iso_utc(event.occurred_at)
    return fields


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, UTC)."""
    # The text every chain hash covers: isoformat writes it as strftime's
    # "%Y-%m-%dT%H:%M:%S.%fZ" did, for a third less, once per sealed event.
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")[:26] + "Z"


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical JSON of fields)`` as hex."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def verify(session: Session) -> list[ChainProblem]:
    """Recomputes the chain of sealed events; an empty list means it is intact. Events
    waiting to be sealed are not part of it yet (see ``backlog``)."""
    problems: list[ChainProblem] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    for event in _sealed_in_order(session):
        assert event.seq is not None  # only sealed events are read
        if event.seq != expected_seq:
            problems.append(ChainProblem(expected_seq, "event missing"))
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.seq, "prev_hash does not match"))
        if chain_hash(event.prev_hash or "", event_fields(event)) != event.hash:
            problems.append(ChainProblem(event.seq, "content does not match its hash"))
        expected_seq, prev_hash = event.seq + 1, event.hash or ""
    head = session.get(AuditChainHead, 1)
    if head is None:
        problems.append(ChainProblem(expected_seq, "chain head missing"))
    elif head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
        problems.append(ChainProblem(expected_seq, "events missing at the end of the chain"))
    return sorted(problems, key=lambda problem: problem.seq)


def count(session: Session) -> int:
    """The number of events recorded, sealed or waiting to be."""
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _sealed_in_order(session: Session) -> Iterator[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(statement)
