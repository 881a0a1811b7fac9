"""Queue and submission pages, and the review actions behind their buttons.

Every action goes through ``screening.services.review`` (which audits it); every view of a
submission's page goes through ``services.submissions.read_submission`` and so records a
``submission.read`` event exactly as the API's full read does, actor = the signed-in
user. Actions answer with a redirect (post/redirect/get); a decision or note that cannot
be recorded shows the page again with the reasons next to the form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, flash, g, request
from marshmallow import ValidationError

from screening.errors import PreconditionFailed, PreconditionRequired, Unprocessable
from screening.intake.schemas import flatten_errors
from screening.services import queue, review, submissions
from screening.services.paging import parse_choice
from screening.services.review_inputs import DecisionSchema, NoteSchema
from screening.storage.db import app_state, utcnow
from screening.storage.models import PRIORITIES
from screening.storage.unit_of_work import commit, current, get_session, rollback
from screening.web.console import pages
from screening.web.console.web import bp, current_user

QUEUE_PAGE_SIZE = 25


def _reviewer() -> review.Reviewer:
    user = current_user()
    return review.Reviewer(user.user_id, user.clinic_id, g.get("request_id"))


def _lease() -> dt.timedelta:
    return dt.timedelta(minutes=app_state().settings.claim_lease_minutes)


@bp.get("/queue")
def queue_page() -> Response:
    """The clinic's open submissions in review order (critical first), with filters."""
    user = current_user()
    args = request.args
    filters = {
        "priority": parse_choice("priority", args.get("priority") or None, PRIORITIES),
        "claimed": parse_choice("claimed", args.get("claimed") or None, queue.CLAIMED_FILTERS),
    }
    now = utcnow()
    session = get_session()
    page = queue.list_queue(
        session, user.clinic_id, priority=filters["priority"], limit=QUEUE_PAGE_SIZE,
        cursor=args.get("cursor") or None, now=now, claimed=filters["claimed"],
        user_id=user.user_id,
    )
    rows = pages.queue_rows(session, page.items, user, now)
    return pages.page("console/queue.html", rows=rows, filters=filters,
                      next_cursor=page.next_cursor, priorities=PRIORITIES)


@bp.post("/queue/next")
def claim_next() -> Response:
    """Claims the next submission in review order and opens it."""
    session = get_session(write=True)
    submission = review.claim_next(session, _reviewer(), now=utcnow(), lease=_lease())
    commit()
    if submission is None:
        flash("Nothing is waiting to be claimed.", "info")
        return pages.see_other("console.queue_page")
    flash("You claimed the next submission.", "success")
    return pages.see_other("console.submission_page", id=submission.id)


def render_submission(submission_id: str, status: int = 200,
                      errors: dict[str, list[str]] | None = None,
                      form: dict[str, Any] | None = None) -> Response:
    """The submission page; each rendering is an audited read."""
    user = current_user()
    submission = submissions.audited_read(current(), user.clinic_id, user, submission_id,
                                          g.get("request_id"))
    context = pages.submission_context(get_session(write=True), submission, user, utcnow())
    return pages.page("console/submission.html", status, errors=errors or {},
                      form=form or {}, **context)


@bp.get("/submissions/<id>")
def submission_page(id: str) -> Response:
    """Scores, criteria, flags, answers, notes and the review actions of one submission."""
    return render_submission(id)


@bp.post("/submissions/<id>/claim")
def claim(id: str) -> Response:
    """Claims (or renews the caller's claim on) this submission."""
    session = get_session(write=True)
    try:
        review.claim(session, _reviewer(), id, now=utcnow(), lease=_lease())
    except review.Denied as refusal:
        commit()  # keeps the refusal's audit event
        flash(refusal.detail, "error")
        return pages.see_other("console.submission_page", id=id)
    commit()
    flash("You hold this submission now.", "success")
    return pages.see_other("console.submission_page", id=id)


@bp.post("/submissions/<id>/release")
def release(id: str) -> Response:
    """Gives the caller's claim back; the submission returns to the queue."""
    session = get_session(write=True)
    try:
        review.release(session, _reviewer(), id, now=utcnow())
    except review.Denied as refusal:
        commit()
        flash(refusal.detail, "error")
        return pages.see_other("console.submission_page", id=id)
    commit()
    flash("You released the submission; it is back in the queue.", "success")
    return pages.see_other("console.queue_page")


def _decision_form() -> dict[str, Any]:
    form = request.form
    return {
        "outcome": form.get("outcome", ""),
        "rationale": form.get("rationale", "").strip() or None,
        "acknowledged_flags": form.getlist("acknowledged_flags"),
    }


@bp.post("/submissions/<id>/decision")
def decide(id: str) -> Response:
    """Records the holder's final decision on the version shown (``etag`` field)."""
    raw = _decision_form()
    if not raw["outcome"]:
        return render_submission(id, 422, {"outcome": ["Choose an outcome."]}, raw)
    try:
        loaded = DecisionSchema().load(raw)
    except ValidationError as error:
        return render_submission(id, 422, flatten_errors(error.messages), raw)
    decision = review.DecisionRequest(loaded["outcome"], loaded["rationale"],
                                      tuple(loaded["acknowledged_flags"]))
    shown = request.form.get("etag") or None
    session = get_session(write=True)
    try:
        review.decide(session, _reviewer(), id, decision,
                      if_match=frozenset({shown}) if shown else None, now=utcnow())
    except review.Denied as refusal:
        commit()
        flash(refusal.detail, "error")
        return pages.see_other("console.submission_page", id=id)
    except Unprocessable as error:
        rollback()
        return render_submission(id, 422, error.errors, raw)
    except (PreconditionFailed, PreconditionRequired) as error:
        rollback()
        return render_submission(id, error.status, {"decision": [error.detail]}, raw)
    commit()
    flash("Decision recorded; the submission has left the queue.", "success")
    return pages.see_other("console.queue_page")


@bp.post("/submissions/<id>/notes")
def add_note(id: str) -> Response:
    """Adds the caller's note (no claim needed; after a decision, notes are corrections)."""
    raw = {"text": request.form.get("text", "")}
    try:
        loaded = NoteSchema().load(raw)
    except ValidationError as error:
        return render_submission(id, 422, flatten_errors(error.messages), raw)
    session = get_session(write=True)
    review.add_note(session, _reviewer(), id, loaded["text"], now=utcnow())
    commit()
    flash("Note added.", "success")
    return pages.see_other("console.submission_page", id=id)
