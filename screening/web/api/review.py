"""Clinician review endpoints (shared spec §3, §7): claim, release, next, decision, notes.

Views stay thin: check the body's shape, call one service of ``screening.services.review``
on the request's write session, commit once, shape the response. A ``Denied`` refusal
commits its ``denied`` audit event before the 409 is answered. Claim, next and decision
answer the full read with its ``ETag``; the ``submission.claim`` / ``submission.decide``
event of the request stands for that read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from screening.errors import Forbidden, Unprocessable
from screening.intake.schemas import flatten_errors
from screening.services import review, shapes
from screening.services.review_inputs import DecisionSchema, NoteSchema
from screening.storage.db import app_state, utcnow
from screening.storage.models import Submission
from screening.storage.unit_of_work import commit, get_session
from screening.web.api._json import json_body
from screening.web.auth import require

bp = Blueprint("review", __name__)

def _load(schema: Schema) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(json_body())
    except ValidationError as error:
        raise Unprocessable(flatten_errors(error.messages)) from None
    return loaded


def _reviewer() -> review.Reviewer:
    principal = g.principal
    if principal.user_id is None:  # unreachable behind @require("clinician"): users only
        raise Forbidden("Only clinicians review submissions.")
    return review.Reviewer(
        user_id=principal.user_id, clinic_id=principal.clinic_id, request_id=g.get("request_id")
    )


def _lease() -> dt.timedelta:
    return dt.timedelta(minutes=app_state().settings.claim_lease_minutes)


def _if_match() -> frozenset[str] | None:
    """The strong entity tags of ``If-Match`` as sent (quoted); None when it is missing.

    ``*`` is not enough: a decision must name the version it was made on."""
    if not request.headers.get("If-Match", "").strip() or request.if_match.star_tag:
        return None
    return frozenset(f'"{tag}"' for tag in request.if_match.as_set())


@contextmanager
def _committing_denials(session: Session) -> Iterator[None]:
    """Commits the ``denied`` audit event of a refused action before the 409 goes out."""
    try:
        yield
    except review.Denied:
        commit()
        raise


def _full_read(submission: Submission) -> Response:
    response = jsonify(shapes.full_record(submission, utcnow()))
    response.headers["ETag"] = shapes.etag(submission)
    return response


@bp.post("/submissions/<id>/claim")
@require("clinician")
def claim_submission(id: str) -> Response:
    """Claims (or renews the caller's claim on) one submission: 200 with the full read."""
    session = get_session(write=True)
    with _committing_denials(session):
        submission = review.claim(session, _reviewer(), id, now=utcnow(), lease=_lease())
    commit()
    return _full_read(submission)


@bp.post("/submissions/<id>/release")
@require("clinician")
def release_submission(id: str) -> Response:
    """Gives the caller's live claim back: 200 with the full read."""
    session = get_session(write=True)
    with _committing_denials(session):
        submission = review.release(session, _reviewer(), id, now=utcnow())
    commit()
    return _full_read(submission)


@bp.post("/queue/next")
@require("clinician")
def claim_next_submission() -> Response:
    """Claims the next claimable submission in review order: 200 with it, 204 when none."""
    session = get_session(write=True)
    submission = review.claim_next(session, _reviewer(), now=utcnow(), lease=_lease())
    commit()
    if submission is None:
        return Response(status=204)
    return _full_read(submission)


@bp.post("/submissions/<id>/decision")
@require("clinician")
def decide_submission(id: str) -> Response:
    """Records the live lease holder's decision (needs ``If-Match``): 200 with the full
    read and its new ``ETag``."""
    loaded = _load(DecisionSchema())
    decision = review.DecisionRequest(
        outcome=loaded["outcome"],
        rationale=loaded["rationale"],
        acknowledged_flags=tuple(loaded["acknowledged_flags"]),
    )
    session = get_session(write=True)
    with _committing_denials(session):
        submission = review.decide(
            session, _reviewer(), id, decision, if_match=_if_match(), now=utcnow()
        )
    commit()
    return _full_read(submission)


@bp.post("/submissions/<id>/notes")
@require("clinician")
def add_note(id: str) -> Response:
    """Adds the caller's note to a submission of the clinic: 201 with the note."""
    loaded = _load(NoteSchema())
    session = get_session(write=True)
    note = review.add_note(session, _reviewer(), id, loaded["text"], now=utcnow())
    commit()
    response = jsonify(shapes.note(note))
    response.status_code = 201
    return response
