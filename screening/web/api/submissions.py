"""``/api/v1/submissions``: create (intake key), list and read in full (clinician).

Views stay thin: parse, call one service, commit once, shape the response.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from screening.errors import Unprocessable
from screening.intake.schemas import default_catalogue
from screening.services import idempotency, shapes, submissions
from screening.services.paging import parse_choice, parse_limit
from screening.storage import unit_of_work
from screening.storage.db import utcnow
from screening.storage.models import PRIORITIES, SUBMISSION_STATUSES
from screening.storage.unit_of_work import get_session
from screening.web.api._json import json_body
from screening.web.auth import require

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
    created = submissions.store_submission(
        unit_of_work.current(), g.principal, loaded, key, body, received_at=utcnow(),
        request_id=g.get("request_id"))
    response = jsonify(created.body)
    response.status_code = created.status
    if created.submission_id is not None:
        response.headers["Location"] = LOCATION.format(id=created.submission_id)
    if created.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


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
    submission = submissions.audited_read(unit_of_work.current(), g.principal.clinic_id,
                                          g.principal, id, g.get("request_id"))
    response = jsonify(shapes.full_record(submission, utcnow()))
    response.headers["ETag"] = shapes.etag(submission)
    return response
