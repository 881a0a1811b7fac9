"""``/api/v1/ruleset``: the clinic's active ruleset (clinician), its versions, drafts,
shadow reports and activation (admin) — shared spec §10.

Views stay thin: parse, call one service, commit once, shape the response. A shadow run
reads on a read session and commits only its audit event afterwards, so it never holds
the write lock while it evaluates.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, g, jsonify, request

from screening.services import rulesets, shadow
from screening.services.paging import invalid
from screening.storage.db import utcnow
from screening.storage.unit_of_work import commit, get_session
from screening.web.api._json import json_body
from screening.web.api.review import _if_match
from screening.web.auth import require
from screening.web.offload import off_the_loop

bp = Blueprint("rulesets", __name__)


def _actor() -> dict[str, str | None]:
    principal = g.principal
    return {"actor_type": principal.kind, "actor_id": principal.actor_id,
            "user_id": principal.user_id, "request_id": g.get("request_id")}


def _active_response(active: rulesets.ActiveRuleset) -> Response:
    response = jsonify(active.to_dict())
    response.headers["ETag"] = active.etag
    return response


def parse_moment(name: str, raw: str | None) -> dt.datetime | None:
    """A ``YYYY-MM-DD`` date (its midnight UTC) or an RFC 3339 time with its offset."""
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or (moment.tzinfo is None and len(raw) != 10):
        raise invalid(name, "Must be a date (YYYY-MM-DD) or a time with a UTC offset.")
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


@bp.get("/ruleset")
@require("clinician")
def read_active_ruleset() -> Response:
    """The clinic's active ruleset with its ``ETag`` (the ``If-Match`` of an activation)."""
    return _active_response(rulesets.active_ruleset(get_session(), g.principal.clinic_id))


@bp.get("/ruleset/versions")
@require("admin")
def list_ruleset_versions() -> Response:
    """Every settings version of the clinic, newest first (one page: versions are few)."""
    versions = rulesets.list_versions(get_session(), g.principal.clinic_id)
    return jsonify({"items": [v.to_dict() for v in versions], "next_cursor": None})


@bp.post("/ruleset/drafts")
@require("admin")
def create_ruleset_draft() -> Response:
    """201 with a draft of changes over the active settings, checked against every bound."""
    session = get_session(write=True)
    draft = rulesets.create_draft(session, g.principal.clinic_id, json_body(), **_actor())
    commit()
    response = jsonify(rulesets.draft_to_dict(draft))
    response.status_code = 201
    return response


@bp.post("/ruleset/drafts/<id>/shadow")
@require("admin")
@off_the_loop  # evaluates up to every submission of the clinic
def shadow_ruleset_draft(id: str) -> Response:
    """The shadow report of the draft over the clinic's submissions received in
    [``since``, ``until``); nothing stored changes but the run's audit event."""
    since = parse_moment("since", request.args.get("since"))
    until = parse_moment("until", request.args.get("until"))
    clinic_id = g.principal.clinic_id
    reading = get_session()
    draft = rulesets.get_draft(reading, clinic_id, id)
    active = rulesets.active_ruleset(reading, clinic_id)
    proposed = rulesets.proposed_ruleset(active, draft)
    rows = shadow.past_submissions(reading, clinic_id, since, until)
    report = shadow.shadow(rows, active, draft.id, proposed).to_dict()
    reading.rollback()
    writing = get_session(write=True)
    rulesets.record_shadow_run(writing, clinic_id, draft.id, **_actor())
    commit()
    return jsonify(report)


@bp.post("/ruleset/drafts/<id>/activate")
@require("admin")
def activate_ruleset_draft(id: str) -> Response:
    """Makes the draft the active ruleset (needs ``If-Match`` of the active one); later
    submissions are evaluated under it, stored evaluations are never rewritten."""
    session = get_session(write=True)
    active = rulesets.activate(session, g.principal.clinic_id, id, if_match=_if_match(),
                               now=utcnow(), **_actor())
    commit()
    return _active_response(active)
