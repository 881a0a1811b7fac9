"""Submissions: create (evaluated, audited, idempotent), read one in full, list.

``ingest`` creates: everything is validated and evaluated before any lock is taken, and
the rows (submission, its ``submission.created`` webhook event, audit event, the
Idempotency-Key's stored answer) are queued in the unit of work and committed together
(by the group committer with those of concurrent requests, ``screening.storage.unit_of_work``).
``store_submission`` is where the native and the FHIR create views both end;
``audited_read`` is the one full read every surface (JSON, FHIR, console) shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, defer

import rules
from screening.errors import NotFound
from screening.services import idempotency, outbox, rulesets, shapes
from screening.services.paging import Page, as_str, as_time, decode_cursor, paginate
from screening.storage import unit_of_work
from screening.storage.models import (
    PRIORITIES,
    SUBMISSION_STATUSES,
    IdempotencyRecord,
    Submission,
    WebhookEvent,
    new_id,
)
from screening.storage.unit_of_work import UnitOfWork

OBJECT_TYPE = "submission"
_COMPLETE_RECORD = (
    IdempotencyRecord.__table__.update()
    .where(IdempotencyRecord.__table__.c.id == bindparam("record_id"))
    .values(status="completed", response_status=bindparam("response_status"),
            response_body=bindparam("response_body"), submission_id=bindparam("submission_id"))
)


class Actor(Protocol):
    """Who acts (``screening.web.auth.Principal`` satisfies it)."""

    @property
    def kind(self) -> str: ...

    @property
    def actor_id(self) -> str: ...


class Intake(Actor, Protocol):
    """An intake key's principal: its clinic and the clinic's active settings version."""

    @property
    def clinic_id(self) -> str: ...

    @property
    def ruleset_version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Created:
    """The answer to a create: status code, body, the submission's id and whether it is
    the stored answer to an earlier request with the same Idempotency-Key."""

    status: int
    body: dict[str, Any]
    submission_id: str | None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    """One validated submission to store: for which clinic under which ruleset, by whom,
    when, and the Idempotency-Key (with the fingerprint of what was posted) if any."""

    clinic_id: str
    ruleset: rulesets.ActiveRuleset
    actor: Actor
    body: dict[str, Any]
    received_at: dt.datetime
    request_id: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None


def store_submission(uow: UnitOfWork, principal: Intake, loaded: dict[str, Any],
                     key: str | None, posted: Any, *, received_at: dt.datetime,
                     request_id: str | None) -> Created:
    """Evaluates, stores and audits a validated body for the calling intake key, with the
    Idempotency-Key protocol (``posted`` is what the client sent, fingerprinted for it)."""
    ruleset = rulesets.cached_ruleset(uow.database, principal.clinic_id,
                                      principal.ruleset_version)
    return ingest(uow, IntakeRequest(
        clinic_id=principal.clinic_id, ruleset=ruleset, actor=principal, body=loaded,
        received_at=received_at, request_id=request_id, idempotency_key=key,
        fingerprint=idempotency.fingerprint(posted) if key is not None else None,
    ))


def ingest(uow: UnitOfWork, request: IntakeRequest) -> Created:
    """Evaluates under the clinic's active ruleset (422 when a section it requires is
    missing) and stores a validated submission, audits ``submission.create`` and, with an
    Idempotency-Key, stores the answer for replays (or replays an earlier one).

    Commits ``uow``: the Idempotency-Key protocol needs the key's in-flight record
    committed before the work starts (``idempotency.claim``), and the answer may be sent
    only once the submission is durable."""
    rulesets.check_required_sections(request.ruleset.ruleset, request.body["answers"])
    key = request.idempotency_key
    record_id: str | None = None
    if key is not None:
        fingerprint = request.fingerprint or ""
        record_id = idempotency.claim(uow, request.clinic_id, key, fingerprint,
                                      request.received_at)
        if record_id is None:
            owned = idempotency.answer_from_owner(uow.session(write=True), request.clinic_id,
                                                  key, fingerprint, request.received_at)
            if isinstance(owned, idempotency.Replay):
                return Created(owned.status, owned.body, owned.submission_id, replayed=True)
            record_id = owned.id
    try:
        created = _queue_new(uow, request, record_id)
        uow.commit()
    except Exception:
        uow.rollback()
        if record_id is not None:
            idempotency.release_id(uow.session(write=True), record_id)
        raise
    return created


def _queue_new(uow: UnitOfWork, request: IntakeRequest, record_id: str | None) -> Created:
    row, safety = _evaluated_row(request.clinic_id, request.ruleset, request.body,
                                 request.idempotency_key, request.received_at)
    body = {"id": row["id"], "status": row["status"],
            "received_at": shapes.json_time(request.received_at), "safety": safety}
    uow.insert(Submission.__table__, row)  # type: ignore[arg-type]
    uow.insert(WebhookEvent.__table__, outbox.created_event(row))  # type: ignore[arg-type]
    if record_id is not None:
        uow.execute(_COMPLETE_RECORD, {"record_id": record_id, "response_status": 201,
                                       "response_body": body, "submission_id": row["id"]})
    uow.audit(clinic_id=request.clinic_id, actor_type=request.actor.kind,
              actor_id=request.actor.actor_id, action="submission.create",
              object_type=OBJECT_TYPE, object_id=row["id"], request_id=request.request_id)
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


def get_submission(session: Session, clinic_id: str, submission_id: str, *,
                   with_review: bool = False) -> Submission:
    """The clinic's submission; ``NotFound`` when there is none *in this clinic*. With
    ``with_review`` its decision and notes are loaded in the same query."""
    submission = session.get(Submission, submission_id,
                             options=shapes.FULL_RECORD_OPTIONS if with_review else ())
    if submission is None or submission.clinic_id != clinic_id:
        raise NotFound("No submission with this id.")
    return submission


def read_submission(session: Session, clinic_id: str, principal: Actor, submission_id: str,
                    request_id: str | None, *, with_review: bool = False) -> Submission:
    """``get_submission`` plus the ``submission.read`` audit event of a full read."""
    submission = get_submission(session, clinic_id, submission_id, with_review=with_review)
    unit_of_work.of(session).audit(
        clinic_id=clinic_id, actor_type=principal.kind, actor_id=principal.actor_id,
        action="submission.read", object_type=OBJECT_TYPE, object_id=submission.id,
        request_id=request_id)
    return submission


def audited_read(uow: UnitOfWork, clinic_id: str, reader: Actor, submission_id: str,
                 request_id: str | None, *, with_review: bool = True) -> Submission:
    """The clinic's submission, after its ``submission.read`` audit event is committed
    (commits ``uow``): every surface that shows a submission in full (JSON, FHIR,
    console) reads it here, so none can show patient data that was not audited. With
    ``with_review`` its decision and notes are loaded with it, before the commit, for a
    surface that shows them (``shapes.FULL_RECORD_OPTIONS``)."""
    submission = read_submission(uow.session(), clinic_id, reader, submission_id, request_id,
                                 with_review=with_review)
    uow.commit()
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
    "IntakeRequest",
    "audited_read",
    "get_submission",
    "ingest",
    "list_submissions",
    "read_submission",
    "store_submission",
]
