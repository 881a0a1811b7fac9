"""The audit log page (admins): the clinic's events in chain order, optionally only those
about one submission, read through ``services.audit_events`` as the API reads them."""

from __future__ import annotations

import uuid

from flask import Response, request

from screening.services import audit_events
from screening.storage.unit_of_work import get_session
from screening.web.console import pages
from screening.web.console.web import admin_only, bp, current_user

AUDIT_PAGE_SIZE = 50


def _submission_id(raw: str) -> str | None:
    """A submission id (UUID) from the filter field; None when it is not one."""
    try:
        return str(uuid.UUID(raw)) if len(raw) == 36 else None
    except ValueError:
        return None


@bp.get("/audit")
@admin_only
def audit_page() -> Response:
    """One page of audit events, oldest first."""
    raw = request.args.get("submission_id", "").strip()
    submission_id = _submission_id(raw) if raw else None
    if raw and submission_id is None:
        return pages.page("console/audit.html", 422, events=[], next_cursor=None,
                          submission_id=raw, error="Enter a submission id (a UUID).")
    session = get_session()
    page = audit_events.list_events(
        session, current_user().clinic_id, submission_id=submission_id,
        limit=AUDIT_PAGE_SIZE, cursor=request.args.get("cursor") or None,
    )
    actors = pages.emails(session, (e["actor_id"] for e in page.items
                                    if e["actor_type"] == "user"))
    events = [{**e, "actor": actors.get(e["actor_id"] or "", e["actor_id"] or "")}
              for e in page.items]
    return pages.page("console/audit.html", events=events, next_cursor=page.next_cursor,
                      submission_id=submission_id or "", error=None)
