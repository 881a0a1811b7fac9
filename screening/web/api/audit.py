"""``GET /api/v1/audit``: the clinic's audit events, oldest first; the chain's latest
signed checkpoint and the key that verifies it (admin only)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, g, jsonify, request

from screening.services import audit_events
from screening.services.paging import invalid, parse_limit
from screening.storage import checkpoints as audit_checkpoints
from screening.storage.db import app_state
from screening.storage.unit_of_work import get_session
from screening.web.auth import require

bp = Blueprint("audit", __name__)


def _submission_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        if len(raw) == 36 and str(uuid.UUID(raw)) == raw.lower():
            return raw.lower()
    except ValueError:
        pass
    raise invalid("submission_id", "Must be a submission id (a UUID).")


@bp.get("/audit")
@require("admin")
def list_audit_events() -> Response:
    """One page of audit events, optionally only those about one submission."""
    args = request.args
    page = audit_events.list_events(
        get_session(),
        g.principal.clinic_id,
        submission_id=_submission_id(args.get("submission_id")),
        limit=parse_limit(args.get("limit")),
        cursor=args.get("cursor"),
    )
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


@bp.get("/audit/checkpoint")
@require("admin")
def latest_checkpoint() -> Response:
    """The latest signed checkpoint of the audit chain (404 before the first)."""
    return jsonify(audit_events.latest_checkpoint(get_session()))


@bp.get("/audit/public-key")
@require("admin")
def public_key() -> Response:
    """The Ed25519 public key that verifies the checkpoints."""
    seed = app_state().settings.audit_signing_key
    return jsonify(audit_checkpoints.SigningKey.from_seed(seed).public_json())
