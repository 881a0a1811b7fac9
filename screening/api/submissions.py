"""``/api/v1/submissions``: create (intake key), list and read in full (clinician).

Views stay thin: parse, call one service, commit once, shape the response.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from screening.api import require
from screening.api._json import json_body
from screening.db import app_state, get_session, utcnow
from screening.errors import Unprocessable
from screening.models import PRIORITIES, SUBMISSION_STATUSES, Submission
from screening.schemas import default_catalogue
from screening.services import idempotency, rulesets, shapes, submissions
from screening.services.paging import parse_choice, parse_limit

bp = Blueprint("submissions", __name__)

LOCATION = "/api/v1/submissions/{id}"
REPLAYED_HEADER = "Idempotent-Replayed"


@bp.post("/submissions")
@require("intake")
def create_submission() -> Response:
    """201 with the new submission's id, status, time and ``safety``; replays the first
    response to a repeated ``Idempotency-Key``."""
    body = json_body()
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    try:
        loaded = default_catalogue().load(body)
    except ValidationError as error:
        raise Unprocessable(error.messages) from None  # type: ignore[arg-type]
    created = store_submission(loaded, key, body)
    response = jsonify(created.body)
    response.status_code = created.status
    if created.submission_id is not None:
        response.headers["Location"] = LOCATION.format(id=created.submission_id)
    if created.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def store_submission(loaded: dict[str, Any], key: str | None, posted: Any) -> submissions.Created:
    """Evaluates, stores and audits a validated body for the calling intake key, with the
    Idempotency-Key protocol (``posted`` is what the client sent, fingerprinted for it).
    The native and the FHIR create views both end here."""
    principal = g.principal
    database = app_state().db
    ruleset = rulesets.cached_ruleset(database, principal.clinic_id, principal.ruleset_version)
    return submissions.ingest(
        database.committer, get_session(write=True) if key is not None else None,
        principal.clinic_id, ruleset,
        principal, loaded, key, idempotency.fingerprint(posted) if key is not None else None,
        utcnow(), g.get("request_id"),
    )


def audited_read(reader: Any, submission_id: str) -> Submission:
    """The reader's clinic's submission, after its ``submission.read`` audit event is
    committed: every view that shows a submission in full (JSON, FHIR, console) reads it
    here, so none can show patient data that was not audited."""
    session = get_session(write=True)
    submission = submissions.read_submission(
        session, reader.clinic_id, reader, submission_id, g.get("request_id"))
    session.commit()
    return submission


@bp.get("/submissions")
@require("clinician")
def list_submissions() -> Response:
    """One page of the clinic's submissions, newest first (no answers, no respondent)."""
    args = request.args
    page = submissions.list_submissions(
        get_session(),
        g.principal.clinic_id,
        status=parse_choice("status", args.get("status"), SUBMISSION_STATUSES),
        priority=parse_choice("priority", args.get("priority"), PRIORITIES),
        limit=parse_limit(args.get("limit")),
        cursor=args.get("cursor"),
        now=utcnow(),
    )
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


@bp.get("/submissions/<id>")
@require("clinician")
def read_submission(id: str) -> Response:
    """The full, audited read of one submission of the clinic, with its ``ETag``."""
    submission = audited_read(g.principal, id)
    response = jsonify(shapes.full_record(submission, utcnow()))
    response.headers["ETag"] = shapes.etag(submission)
    return response
