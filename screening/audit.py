"""Append-only, hash-chained audit events.

Each event's ``hash`` is ``sha256(prev_hash + canonical_json(fields))`` where the fields
are the event's own columns (``seq`` and ``occurred_at`` as an ISO-8601 UTC string
included) and ``prev_hash`` is the previous event's hash (64 zeros for the first). The
single ``audit_chain_head`` row is locked while appending (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite writers are serialised by ``BEGIN IMMEDIATE``), so the chain never
forks. ``verify`` recomputes the chain and reports every edited, inserted or deleted event.

Like every service, ``record`` flushes but never commits: the caller's transaction holds
the event together with the change it describes. ``append_events`` is its driver-level
twin for ``screening.group_commit``: several events, one head lock, one ``executemany``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from screening.db import utcnow
from screening.driver import DriverTransaction
from screening.models import GENESIS_HASH, AuditChainHead, AuditEvent

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
_LOCK_HEAD = select(_head.last_seq, _head.last_hash).where(_head.id == 1).with_for_update()
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


def record(
    session: Session,
    *,
    clinic_id: str | None,
    actor_type: str,
    actor_id: str | None,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = "success",
    request_id: str | None = None,
) -> AuditEvent:
    """Appends one event to the chain in ``session``'s transaction and returns it."""
    head = _locked_head(session)
    event = AuditEvent(
        seq=head.last_seq + 1,
        occurred_at=utcnow(),
        clinic_id=clinic_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        request_id=request_id,
        prev_hash=head.last_hash,
    )
    event.hash = chain_hash(head.last_hash, event_fields(event))
    session.add(event)
    head.last_seq, head.last_hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The chain's last ``seq`` and ``hash``, read under the head lock."""

    last_seq: int
    last_hash: str


def lock_head(transaction: DriverTransaction) -> ChainHead:
    """Locks the chain head for the rest of ``transaction`` (``FOR UPDATE`` on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already excludes other writers)."""
    row = transaction.execute(_LOCK_HEAD).fetchone()
    if row is None:
        raise RuntimeError("the audit chain head row is missing")
    return ChainHead(row[0], row[1])


def append_events(transaction: DriverTransaction, head: ChainHead,
                  events: list[dict[str, Any]]) -> list[int]:
    """Appends events (each the keyword arguments of ``record``) to the chain in
    ``transaction``, in order, after ``head`` (locked by ``lock_head`` in the same
    transaction); returns their ``seq``."""
    seq, prev_hash = head.last_seq, head.last_hash
    rows: list[dict[str, Any]] = []
    for fields in events:
        seq += 1
        row = {"seq": seq, "occurred_at": utcnow(), "object_type": None, "object_id": None,
               "outcome": "success", "request_id": None, **fields, "prev_hash": prev_hash}
        fields_to_hash = {name: row[name] for name in _HASHED_FIELDS}
        fields_to_hash["occurred_at"] = iso_utc(row["occurred_at"])
        row["hash"] = prev_hash = chain_hash(prev_hash, fields_to_hash)
        rows.append(row)
    transaction.insert_many(AuditEvent.__table__, rows)  # type: ignore[arg-type]
    transaction.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return [row["seq"] for row in rows]


def _locked_head(session: Session) -> AuditChainHead:
    statement = (
        select(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalar_one()


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The hashed fields of ``event`` as JSON-ready values."""
    fields = {name: getattr(event, name) for name in _HASHED_FIELDS}
    fields["occurred_at"] = iso_utc(event.occurred_at)
    return fields


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """``sha256(prev_hash + canonical JSON of fields)`` as hex."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def verify(session: Session) -> list[ChainProblem]:
    """Recomputes the whole chain; an empty list means it is intact."""
    problems: list[ChainProblem] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    for event in _events_in_order(session):
        if event.seq != expected_seq:
            problems.append(ChainProblem(expected_seq, "event missing"))
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.seq, "prev_hash does not match"))
        if chain_hash(event.prev_hash, event_fields(event)) != event.hash:
            problems.append(ChainProblem(event.seq, "content does not match its hash"))
        expected_seq, prev_hash = event.seq + 1, event.hash
    head = session.get(AuditChainHead, 1)
    if head is None:
        problems.append(ChainProblem(expected_seq, "chain head missing"))
    elif head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
        problems.append(ChainProblem(expected_seq, "events missing at the end of the chain"))
    return sorted(problems, key=lambda problem: problem.seq)


def count(session: Session) -> int:
    """The number of events in the chain (the head's ``last_seq``)."""
    head = session.get(AuditChainHead, 1)
    return head.last_seq if head is not None else 0


def _events_in_order(session: Session) -> Iterator[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    yield from session.scalars(statement)
