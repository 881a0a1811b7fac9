"""Clinician review (shared spec §3, §7): claims as leases, the next claim, decisions, notes.

A submission moves through::

    pending_review --claim / queue next--> in_review --decision--> decided (final)
          ^                                    |
          +--------------- release ------------+   (an expired lease counts as released)

Every transition bumps ``version``, so the ETag changes. A claim is a lease
(``claimed_by`` + ``claim_expires_at``): once it expires the submission is claimable again
and the former holder is fenced out (its decision answers 409). A decision is final; later
corrections are notes. Notes do not change the review state and leave ``version`` alone.

Refusals that matter for accountability (claiming a held or decided submission, releasing
or deciding without the live lease) append a ``denied`` audit event and raise ``Denied``;
the caller commits that event before answering 409.

Writers lock the submission row only (``UnitOfWork.audit`` queues its event unsealed and
takes no lock), so two writers never wait on each other crosswise. The caller passes
the current time and the lease length (``CLAIM_LEASE_MINUTES``) and commits once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from screening.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from screening.services import outbox
from screening.services.decision_rules import (
    RATIONALE_MAX_CHARS,
    DecisionRequest,
    decision_errors,
)
from screening.services.shapes import FULL_RECORD_OPTIONS, etag
from screening.storage import unit_of_work
from screening.storage.models import OPEN_STATUSES, Decision, Note, Submission

__all__ = [
    "NOTE_MAX_CHARS",
    "RATIONALE_MAX_CHARS",
    "DecisionRequest",
    "Denied",
    "Reviewer",
    "add_note",
    "claim",
    "claim_next",
    "decide",
    "decision_errors",
    "holds_live_lease",
    "release",
]

OBJECT_TYPE = "submission"
NOTE_MAX_CHARS = 4000
# Literal values, not bound parameters: only then can the SQLite and PostgreSQL planners
# prove the predicate of the partial index ``ix_submissions_open_queue`` and walk it.
_IS_OPEN = text(
    "submissions.status IN (" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
)


@dataclass(frozen=True, slots=True)
class Reviewer:
    """The clinician acting, their clinic, and the request id for the audit trail."""

    user_id: str
    clinic_id: str
    request_id: str | None = None


class Denied(Conflict):
    """409 after which the caller commits: the session then holds nothing but the
    refusal's ``denied`` audit event."""


def holds_live_lease(submission: Submission, user_id: str, now: dt.datetime) -> bool:
    """True when ``user_id`` holds an unexpired claim on ``submission``."""
    expires = submission.claim_expires_at
    return (
        submission.status == "in_review"
        and submission.claimed_by == user_id
        and expires is not None
        and expires > now
    )


def _leased_to_another(submission: Submission, user_id: str, now: dt.datetime) -> bool:
    expires = submission.claim_expires_at
    return (
        submission.status == "in_review"
        and submission.claimed_by not in (None, user_id)
        and expires is not None
        and expires > now
    )


def claim(
    session: Session, reviewer: Reviewer, submission_id: str, *, now: dt.datetime,
    lease: dt.timedelta,
) -> Submission:
    """Takes (or, for the holder, renews) the lease on one submission.

    404 outside the clinic; 409 when decided or when another clinician's lease is live.
    """
    submission = _locked(session, reviewer, submission_id)
    if submission.status == "decided":
        _deny(session, reviewer, submission, "submission.claim",
              "This submission is already decided.")
    if _leased_to_another(submission, reviewer.user_id, now):
        _deny(session, reviewer, submission, "submission.claim",
              "Another clinician holds a live claim on this submission.")
    submission.status = "in_review"
    submission.claimed_by = reviewer.user_id
    submission.claim_expires_at = now + lease
    submission.version += 1
    _record(session, reviewer, "submission.claim", submission.id)
    return submission


def release(
    session: Session, reviewer: Reviewer, submission_id: str, *, now: dt.datetime
) -> Submission:
    """Gives the caller's live lease back: the submission returns to ``pending_review``.

    404 outside the clinic; 409 unless the caller holds the live lease.
    """
    submission = _locked(session, reviewer, submission_id)
    if not holds_live_lease(submission, reviewer.user_id, now):
        _deny(session, reviewer, submission, "submission.release",
              "Only the clinician holding the live claim may release it.")
    submission.status = "pending_review"
    submission.claimed_by = None
    submission.claim_expires_at = None
    submission.version += 1
    _record(session, reviewer, "submission.release", submission.id)
    return submission


def claim_next(
    session: Session, reviewer: Reviewer, *, now: dt.datetime, lease: dt.timedelta
) -> Submission | None:
    """Atomically claims the first claimable submission in review order, or None.

    Claimable: ``pending_review``, or ``in_review`` with an expired lease. One statement:
    ``UPDATE … WHERE id = (SELECT id … ORDER BY priority_rank, received_at, id LIMIT 1
    FOR UPDATE SKIP LOCKED) RETURNING …``. On PostgreSQL concurrent callers skip each
    other's locked candidate; on SQLite the caller's ``BEGIN IMMEDIATE`` transaction
    already serialises writers (SQLite renders no ``FOR UPDATE``).
    """
    candidate = (
        select(Submission.id)
        .where(
            Submission.clinic_id == reviewer.clinic_id,
            _IS_OPEN,
            or_(Submission.status == "pending_review", Submission.claim_expires_at <= now),
        )
        .order_by(Submission.priority_rank, Submission.received_at, Submission.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(Submission)
        .where(Submission.id == candidate)
        .values(
            status="in_review",
            claimed_by=reviewer.user_id,
            claim_expires_at=now + lease,
            version=Submission.version + 1,
        )
        .returning(Submission.id)
        .execution_options(synchronize_session=False)
    )
    claimed_id = session.scalars(statement).one_or_none()
    if claimed_id is None:
        return None
    # The claimed row with its decision and notes, in one query (an UPDATE's RETURNING
    # cannot join them; loading each lazily cost two).
    submission = session.scalars(
        select(Submission).options(*FULL_RECORD_OPTIONS).where(Submission.id == claimed_id)
        .execution_options(populate_existing=True)).unique().one()
    _record(session, reviewer, "submission.claim", submission.id)
    return submission


def decide(
    session: Session, reviewer: Reviewer, submission_id: str, request: DecisionRequest, *,
    if_match: Collection[str] | None, now: dt.datetime,
) -> Submission:
    """Records the final decision of the live lease holder.

    ``if_match`` holds the strong entity tags of the request's ``If-Match`` (quoted, as
    ``ETag`` sends them), None when the header is missing. Checked in this order: 404
    outside the clinic; 428 without ``If-Match``; 409 when decided or when the caller does
    not hold the live lease (a fenced-out former holder included); 412 when no tag is the
    current ETag; 422 (``decision_errors``) when a flag is not acknowledged or a required
    rationale is missing.
    """
    submission = _locked(session, reviewer, submission_id)
    if if_match is None:
        raise PreconditionRequired(
            "A decision needs If-Match with the ETag of the submission's full read."
        )
    if submission.status == "decided":
        _deny(session, reviewer, submission, "submission.decide",
              "This submission is already decided.")
    if not holds_live_lease(submission, reviewer.user_id, now):
        _deny(session, reviewer, submission, "submission.decide",
              "Only the clinician holding the live claim may decide; claim it first.")
    if etag(submission) not in if_match:
        raise PreconditionFailed(
            "The submission has changed since it was read (If-Match is stale); read it again."
        )
    errors = decision_errors(submission.evaluation, request)
    if errors:
        raise Unprocessable(errors, "The decision is incomplete.")
    _store_decision(session, reviewer, submission, request, now)
    _record(session, reviewer, "submission.decide", submission.id)
    outbox.add_event(session, type="submission.decided", clinic_id=submission.clinic_id,
                     occurred_at=now, submission_id=submission.id,
                     priority=submission.priority, data={"outcome": request.outcome})
    return submission


def _store_decision(
    session: Session, reviewer: Reviewer, submission: Submission, request: DecisionRequest,
    now: dt.datetime,
) -> None:
    session.add(Decision(
        submission=submission,
        clinic_id=submission.clinic_id,
        outcome=request.outcome,
        rationale=request.rationale,
        acknowledged_flags=list(dict.fromkeys(request.acknowledged_flags)),
        decided_by=reviewer.user_id,
        decided_at=now,
        ruleset_version=submission.ruleset_version,
    ))
    submission.status = "decided"
    submission.decided_at = now
    submission.claimed_by = None
    submission.claim_expires_at = None
    submission.version += 1


def add_note(
    session: Session, reviewer: Reviewer, submission_id: str, note_text: str, *,
    now: dt.datetime,
) -> Note:
    """Appends a note by the caller to a submission of the clinic, in any status (a
    decided submission is corrected by notes). No claim is needed."""
    submission = _get(session, reviewer, submission_id)
    note = Note(
        submission=submission,
        clinic_id=submission.clinic_id,
        author_id=reviewer.user_id,
        text=note_text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    _record(session, reviewer, "note.create", submission.id)
    return note


def _get(session: Session, reviewer: Reviewer, submission_id: str) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None or submission.clinic_id != reviewer.clinic_id:
        raise NotFound("No submission with this id.")
    return submission


def _locked(session: Session, reviewer: Reviewer, submission_id: str) -> Submission:
    """The clinic's submission, row-locked (on SQLite the write transaction holds the
    database lock) and then freshly loaded with its decision and notes
    (``FULL_RECORD_OPTIONS``).

    On PostgreSQL the lock is a statement of its own (``FOR UPDATE``) before the joined
    load: a joined query that waits for the row lock re-reads only the locked row once it
    is free, so its notes would be those from before the wait."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Submission.id).where(
            Submission.id == submission_id, Submission.clinic_id == reviewer.clinic_id)
            .with_for_update())
    submission = session.get(
        Submission, submission_id, options=FULL_RECORD_OPTIONS, populate_existing=True)
    if submission is None or submission.clinic_id != reviewer.clinic_id:
        raise NotFound("No submission with this id.")
    return submission


def _deny(
    session: Session, reviewer: Reviewer, submission: Submission, action: str, detail: str
) -> NoReturn:
    _record(session, reviewer, action, submission.id, outcome="denied")
    raise Denied(detail)


def _record(
    session: Session, reviewer: Reviewer, action: str, submission_id: str,
    outcome: str = "success",
) -> None:
    unit_of_work.of(session).audit(clinic_id=reviewer.clinic_id,
        actor_type="user",
        actor_id=reviewer.user_id,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=submission_id,
        outcome=outcome,
        request_id=reviewer.request_id,
    )
