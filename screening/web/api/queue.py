"""``GET /api/v1/queue``: the clinic's open submissions in review order (clinician)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from screening.services import queue
from screening.services.paging import parse_choice, parse_limit
from screening.storage.db import utcnow
from screening.storage.models import PRIORITIES
from screening.storage.unit_of_work import get_session
from screening.web.auth import require

bp = Blueprint("queue", __name__)


@bp.get("/queue")
@require("clinician")
def list_queue() -> Response:
    """One page of open submissions: priority first, then oldest first; ``claimed=me``
    or ``claimed=unclaimed`` narrows it to the caller's live claims or to the claimable."""
    args = request.args
    page = queue.list_queue(
        get_session(),
        g.principal.clinic_id,
        priority=parse_choice("priority", args.get("priority"), PRIORITIES),
        limit=parse_limit(args.get("limit")),
        cursor=args.get("cursor"),
        now=utcnow(),
        claimed=parse_choice("claimed", args.get("claimed"), queue.CLAIMED_FILTERS),
        user_id=g.principal.user_id,
    )
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})
