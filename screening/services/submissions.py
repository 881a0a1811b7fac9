"""Submissions: create (evaluated, audited, idempotent), read one in full, list.

``ingest`` creates: everything is validated and evaluated before any lock is taken, and
the rows (submission, its ``submission.created`` webhook event, audit event, the
Idempotency-Key's stored answer) are written and committed by the group committer
(``screening.group_commit``) together with those of concurrent requests. The native and
the FHIR create views both call it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, defer

import rules
from screening import audit
from screening.errors import NotFound
from screening.group_commit import GroupCommitter, WriteBatch
from screening.models import (
    PRIORITIES,
    SUBMISSION_STATUSES,
    IdempotencyRecord,
    Submission,
    WebhookEvent,
    new_id,
)
from screening.services import idempotency, outbox, rulesets, shapes
from screening.services.paging import Page, as_str, as_time, decode_cursor, paginate

OBJECT_TYPE = "submission"
_COMPLETE_RECORD = (
    IdempotencyRecord.__table__.update()
    .where(IdempotencyRecord.__table__.c.id == bindparam("record_id"))
    .values(status="completed", response_status=bindparam("response_status"),
            response_body=bindparam("response_body"), submission_id=bindparam("submission_id"))
)


class Actor(Protocol):
    """Who acts (``screening.auth.Principal`` satisfies it)."""

    @property
    def kind(self) -> str: ...

    @property
    def actor_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Created:
    """The answer to a create: status code, body, the submission's id and whether it is
    the stored answer to an earlier request with the same Idempotency-Key."""

    status: int
    body: dict[str, Any]
    submission_id: str | None
    replayed: bool = False


def ingest(
    committer: GroupCommitter,
    session: Session | None,
    clinic_id: str,
    ruleset: rulesets.ActiveRuleset,
    principal: Actor,
    body_loaded: dict[str, Any],
    idempotency_key: str | None,
    fingerprint: str | None,
    received_at: dt.datetime,
    request_id: str | None,
) -> Created:
    """Evaluates under the clinic's active ``ruleset`` (422 when a section it requires is
    missing) and stores a validated submission, audits ``submission.create`` and,
    with an Idempotency-Key, stores the answer for replays (or replays an earlier one).
    The key's in-flight record is claimed through the committer too; ``session`` (a write
    session) answers when another request owns the key, and is left without a transaction
    before the committer writes, so it never holds a lock the committer waits for."""
    rulesets.check_required_sections(ruleset.ruleset, body_loaded["answers"])
    record_id: str | None = None
    if idempotency_key is not None:
        assert session is not None, "an Idempotency-Key needs a session"
        record_id = idempotency.claim(committer, clinic_id, idempotency_key, fingerprint or "",
                                      received_at)
        if record_id is None:
            owned = idempotency.answer_from_owner(session, clinic_id, idempotency_key,
                                                  fingerprint or "", received_at)
            if isinstance(owned, idempotency.Replay):
                return Created(owned.status, owned.body, owned.submission_id, replayed=True)
            record_id = owned.id
            session.commit()
    try:
        return _ingest_new(committer, clinic_id, ruleset, principal,
                           body_loaded, idempotency_key, received_at, request_id, record_id)
    except Exception:
        if record_id is not None and session is not None:
            session.rollback()
            idempotency.release_id(session, record_id)
        raise


def _ingest_new(committer: GroupCommitter, clinic_id: str,
                ruleset: rulesets.ActiveRuleset, principal: Actor, body_loaded: dict[str, Any],
                key: str | None, received_at: dt.datetime, request_id: str | None,
                record_id: str | None) -> Created:
    row, safety = _evaluated_row(clinic_id, ruleset, body_loaded, key, received_at)
    body = {"id": row["id"], "status": row["status"],
            "received_at": shapes.json_time(received_at), "safety": safety}

    def build(batch: WriteBatch) -> None:
        batch.insert(Submission.__table__, row)  # type: ignore[arg-type]
        batch.insert(WebhookEvent.__table__, outbox.created_event(row))  # type: ignore[arg-type]
        if record_id is not None:
            batch.execute(_COMPLETE_RECORD, {"record_id": record_id, "response_status": 201,
                                             "response_body": body, "submission_id": row["id"]})
        batch.audit(clinic_id=clinic_id, actor_type=principal.kind,
                    actor_id=principal.actor_id, action="submission.create",
                    object_type=OBJECT_TYPE, object_id=row["id"], request_id=request_id)

    committer.submit(build)
    return Created(201, body, row["id"])


def _evaluated_row(clinic_id: str, ruleset: rulesets.ActiveRuleset, body: dict[str, Any],
                   key: str | None, received_at: dt.datetime
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``submissions`` row of a validated body, and its ``safety`` answer. The stored
    evaluation keeps the code's ``ruleset_version`` and the clinic's ``settings_version``."""
    evaluation = rules.evaluate(body["respondent"], body["answers"], received_at.date(),
                                ruleset.ruleset)
    stored = evaluation.to_dict()
    stored["settings_version"] = ruleset.version
    priority = evaluation.routing.priority
    row = {
        "id": new_id(),
        "clinic_id": clinic_id,
        "questionnaire_id": body["questionnaire"],
        "questionnaire_version": body["questionnaire_version"],
        "respondent": body["respondent"],
        "answers": body["answers"],
        "evaluation": stored,
        "ruleset_version": evaluation.ruleset_version,
        "status": "pending_review",
        "priority": priority.value,
        "priority_rank": priority.rank,
        "received_at": received_at,
        "version": 1,
        "claimed_by": None,
        "claim_expires_at": None,
        "decided_at": None,
        "idempotency_key": key,
    }
    return row, evaluation.safety.to_dict()


def get_submission(session: Session, clinic_id: str, submission_id: str) -> Submission:
    """The clinic's submission; ``NotFound`` when there is none *in this clinic*."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.clinic_id != clinic_id:
        raise NotFound("No submission with this id.")
    return submission


def read_submission(session: Session, clinic_id: str, principal: Actor, submission_id: str,
                    request_id: str | None) -> Submission:
    """``get_submission`` plus the ``submission.read`` audit event of a full read."""
    submission = get_submission(session, clinic_id, submission_id)
    audit.record(session, clinic_id=clinic_id, actor_type=principal.kind,
                 actor_id=principal.actor_id, action="submission.read",
                 object_type=OBJECT_TYPE, object_id=submission.id, request_id=request_id)
    return submission


def list_submissions(session: Session, clinic_id: str, *, status: str | None,
                     priority: str | None, limit: int, cursor: str | None,
                     now: dt.datetime) -> Page[dict[str, Any]]:
    """The clinic's submissions, newest first, as summaries (no answers, no respondent).

    ``status``/``priority`` must already be checked against ``STATUSES``/``PRIORITIES``.
    """
    after = decode_cursor(cursor, (as_time, as_str))
    query = (
        select(Submission)
        .options(defer(Submission.respondent), defer(Submission.answers))
        .where(Submission.clinic_id == clinic_id)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(Submission.status == status)
    if priority is not None:
        query = query.where(Submission.priority == priority)
    if after is not None:
        query = query.where(tuple_(Submission.received_at, Submission.id) < after)
    page = paginate(list(session.scalars(query)), limit, lambda s: (s.received_at, s.id))
    return Page([shapes.summary(s, now) for s in page.items], page.next_cursor)


STATUSES = SUBMISSION_STATUSES
__all__ = [
    "PRIORITIES",
    "STATUSES",
    "Actor",
    "Created",
    "get_submission",
    "ingest",
    "list_submissions",
    "read_submission",
]
