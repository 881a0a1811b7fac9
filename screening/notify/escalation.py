"""Escalation of waiting crisis cases (shared spec §9): a ``critical`` or ``urgent``
submission nobody holds a live claim on raises ``submission.escalated`` once it has waited
its clinic's ``escalation_minutes`` for its priority, and again after every further
interval (``escalation_level`` 1, 2, ...), until it is claimed or decided.

The level a submission should have is ``floor(waited / interval)``, counted from
``received_at``; when it exceeds the stored one, a conditional ``UPDATE`` raises it (so
two workers never raise the same level twice), and the event and the audit event
(``submission.escalate``, actor ``system``) are written in that same transaction. A
submission claimed meanwhile is not escalated (the condition re-checks the claim).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import ColumnElement, or_, select, text, update
from sqlalchemy.orm import Session

from rules import Priority
from screening.services import outbox
from screening.services.rulesets import escalation_minutes
from screening.storage import unit_of_work
from screening.storage.db import AppState, utcnow
from screening.storage.models import OPEN_STATUSES, Submission

ESCALATED_PRIORITIES = ("critical", "urgent")
# Intervals are minutes long: looking every few seconds is prompt enough, and spares the
# database a scan of the open crisis cases on every tick of the worker (which runs the job
# at most this often).
CHECK_EVERY_S = 5.0


# Literals, so the planners can prove the predicate of the partial index
# ix_submissions_open_crisis and use it.
_IS_CRISIS = text("submissions.priority_rank <= "
                  f"{max(Priority(p).rank for p in ESCALATED_PRIORITIES)}")
_IS_OPEN = text("submissions.status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")")


def _unclaimed(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        _IS_OPEN,
        or_(Submission.status == "pending_review", Submission.claim_expires_at <= now),
    )


def due_escalations(session: Session, now: dt.datetime
                     ) -> list[tuple[str, str, str, int, int]]:
    """``(submission_id, clinic_id, priority, level, waiting_minutes)`` of every
    escalation due at ``now``."""
    waiting = session.execute(
        select(Submission.id, Submission.clinic_id, Submission.priority,
               Submission.received_at, Submission.escalation_level)
        .where(_IS_CRISIS, *_unclaimed(now))
    ).all()
    minutes: dict[str, Mapping[str, int]] = {}
    due = []
    for submission_id, clinic_id, priority, received_at, level in waiting:
        if clinic_id not in minutes:
            minutes[clinic_id] = escalation_minutes(session, clinic_id)
        waited = now - received_at
        reached = int(waited / dt.timedelta(minutes=minutes[clinic_id][priority]))
        if reached > level:
            due.append((submission_id, clinic_id, priority, reached,
                        int(waited.total_seconds() // 60)))
    return due


def escalate_due(session: Session, now: dt.datetime) -> int:
    """Raises every escalation that is due at ``now`` in ``session`` (the caller
    commits); returns how many were raised."""
    return sum(_raise(session, *due, now=now) for due in due_escalations(session, now))


def _raise(session: Session, submission_id: str, clinic_id: str, priority: str, level: int,
           waiting_minutes: int, *, now: dt.datetime) -> int:
    changed = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.escalation_level < level,
               *_unclaimed(now))
        .values(escalation_level=level)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return 0
    outbox.add_event(session, type="submission.escalated", clinic_id=clinic_id,
                     occurred_at=now, submission_id=submission_id, priority=priority,
                     data={"escalation_level": level, "waiting_minutes": waiting_minutes})
    unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type="system", actor_id=None,
                 action="submission.escalate", object_type="submission",
                 object_id=submission_id)
    return 1


def escalation_job(state: AppState) -> int:
    """The worker job: raises the escalations due now, in one transaction. Looks first
    with a read session, so an idle tick takes no write lock (SQLite has one)."""
    now = utcnow()
    with state.db.read_sessions() as session:
        if not due_escalations(session, now):
            return 0
    with unit_of_work.unit_of_work(state.db) as uow:
        return escalate_due(uow.session(write=True), now)
