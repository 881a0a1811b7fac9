"""Reading the audit log of one clinic (``GET /api/v1/audit``), oldest first, and the
chain's latest signed checkpoint (``GET /api/v1/audit/checkpoint``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.errors import NotFound
from screening.services import shapes
from screening.services.paging import Page, as_int, decode_cursor, paginate
from screening.services.submissions import OBJECT_TYPE
from screening.storage import checkpoints as audit_checkpoints
from screening.storage.models import AuditEvent


def list_events(session: Session, clinic_id: str, *, submission_id: str | None, limit: int,
                cursor: str | None) -> Page[dict[str, Any]]:
    """One page of the clinic's audit events, oldest first (in the order they were
    recorded, sealed or not), optionally only those about one submission."""
    after = decode_cursor(cursor, (as_int,))
    query = (
        select(AuditEvent)
        .where(AuditEvent.clinic_id == clinic_id)
        .order_by(AuditEvent.id)
        .limit(limit + 1)
    )
    if submission_id is not None:
        query = query.where(AuditEvent.object_type == OBJECT_TYPE,
                            AuditEvent.object_id == submission_id)
    if after is not None:
        query = query.where(AuditEvent.id > after[0])
    page = paginate(list(session.scalars(query)), limit, lambda e: (e.id,))
    return Page([shapes.audit_event(e) for e in page.items], page.next_cursor)


def latest_checkpoint(session: Session) -> dict[str, Any]:
    """The latest signed checkpoint; ``NotFound`` before the first is signed."""
    checkpoint = audit_checkpoints.latest(session)
    if checkpoint is None:
        raise NotFound("No checkpoint has been signed yet.")
    return checkpoint.as_json()
