"""Page helpers shared by the console views: HTML responses, redirects, and the view
models of the queue and submission pages (built from the service layer's shapes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Response, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.services import review, shapes
from screening.storage.models import Submission, User
from screening.web.console import presenters
from screening.web.console.guard import ConsoleUser


def page(template: str, status: int = 200, **context: Any) -> Response:
    """``template`` rendered as an HTML response."""
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def see_other(endpoint: str, **values: Any) -> Response:
    """A 303 redirect to a console page (after a form, the browser GETs it)."""
    response: Response = redirect(url_for(endpoint, **values), 303)  # type: ignore[assignment]
    return response


def emails(session: Session, user_ids: Iterable[str | None]) -> dict[str, str]:
    """The e-mail of each given user (staff, not patients), in one query."""
    wanted = {uid for uid in user_ids if uid}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
    return {uid: email for uid, email in rows}


def _who(user_id: str | None, me: ConsoleUser, known: dict[str, str]) -> str:
    if user_id is None:
        return ""
    if user_id == me.user_id:
        return "you"
    return known.get(user_id, user_id)


def _parsed(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment)


def queue_rows(session: Session, items: list[dict[str, Any]], me: ConsoleUser,
               now: dt.datetime) -> list[dict[str, Any]]:
    """Queue summaries (``shapes.summary``) with words for priority, reasons, age and
    claim holder."""
    holders = emails(session, (item["claim"]["holder"] for item in items if item["claim"]))
    rows = []
    for item in items:
        received = _parsed(item["received_at"])
        claim = item["claim"]
        rows.append({
            "id": item["id"],
            "priority": item["priority"],
            "crisis": item["priority"] in presenters.CRISIS_PRIORITIES,
            "reasons": [presenters.reason_label(r) for r in item["reasons"]],
            "received": presenters.utc_time(received),
            "age": presenters.age(received, now),
            "status": presenters.STATUS_LABELS.get(item["status"], item["status"]),
            "holder": _who(claim["holder"], me, holders) if claim else "",
            "claim_until": presenters.utc_time(_parsed(claim["expires_at"])) if claim else "",
            "escalation_level": item["escalation_level"],
        })
    return rows


# The members of a score shape (shared spec §6) shown as its headline and as its band.
_HEADLINES = ("total", "result", "risk", "yes_count")
_BANDS = ("severity", "band", "positive")


def _score_rows(scores: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for instrument, score in scores.items():
        headline = next((presenters.plain(score[k]) for k in _HEADLINES if k in score), "")
        band = next((presenters.plain(score[k]) for k in _BANDS if k in score), "")
        rest = {k: v for k, v in score.items() if k not in _HEADLINES + _BANDS}
        rows.append({"instrument": instrument, "headline": presenters.words(headline),
                     "band": presenters.words(band), "more": presenters.plain(rest)})
    return rows


def submission_context(session: Session, submission: Submission, me: ConsoleUser,
                       now: dt.datetime) -> dict[str, Any]:
    """Everything the submission page shows and which actions it offers ``me``."""
    evaluation = submission.evaluation
    flags = list(evaluation.get("flags") or [])
    decision = shapes.decision(submission.decision)
    notes = [shapes.note(n) for n in submission.notes]
    claim = shapes.claim(submission, now)
    people = emails(session, [claim["holder"] if claim else None,
                              decision["decided_by"] if decision else None,
                              *(n["author"] for n in notes)])
    holds = review.holds_live_lease(submission, me.user_id, now)
    return {
        "submission": submission,
        "etag": shapes.etag(submission),
        "crisis": submission.priority in presenters.CRISIS_PRIORITIES,
        "reasons": [presenters.reason_label(r) for r in shapes.reasons(submission)],
        "received": presenters.utc_time(submission.received_at),
        "age": presenters.age(submission.received_at, now),
        "status_label": presenters.STATUS_LABELS.get(submission.status, submission.status),
        "scores": _score_rows(evaluation.get("scores") or {}),
        "criteria": evaluation.get("criteria") or [],
        "flags": flags,
        "safety_flags": [f for f in flags if f.get("kind") == "safety"],
        "sections": presenters.answer_sections(
            submission.questionnaire_id, submission.questionnaire_version,
            submission.respondent, submission.answers),
        "notes": [{**n, "author": _who(n["author"], me, people)} for n in notes],
        "decision": decision and {**decision,
                                  "decided_by": _who(decision["decided_by"], me, people)},
        "claim": claim and {"holder": _who(claim["holder"], me, people),
                            "until": presenters.utc_time(submission.claim_expires_at)},
        "holds_claim": holds,
        "may_claim": submission.status != "decided" and (claim is None or holds),
        "ruleset_version": submission.ruleset_version,
    }
