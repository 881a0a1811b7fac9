"""The webhook outbox: events written in the transaction of the change they report.

An event row is the promise that every subscribed endpoint will hear of the change: it is
committed with the submission (``created_event`` rides in the group commit's batch) or with
the decision or escalation (``add_event`` in the ORM session), so an acknowledged change
always has its event, even if the process dies right after. The worker later fans events
out into deliveries (``screening.notify.delivery``).

Events carry ids, the clinic, the priority, times and the record's API path; never
answers, scores, names, contact details or free text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from screening.services.shapes import json_time
from screening.storage.ids import uuid7_hex
from screening.storage.models import WebhookEvent

SUBMISSION_PATH = "/api/v1/submissions/{id}"


def new_event_id() -> str:
    """A new event id (``msg_`` + 32 hex digits): the ``webhook-id`` of its deliveries."""
    return "msg_" + uuid7_hex()


def created_event(submission_row: dict[str, Any]) -> dict[str, Any]:
    """The ``webhook_events`` row of ``submission.created`` for a new submission's row
    (``screening.services.submissions`` inserts it in the same batch)."""
    return {
        "id": new_event_id(),
        "type": "submission.created",
        "clinic_id": submission_row["clinic_id"],
        "submission_id": submission_row["id"],
        "priority": submission_row["priority"],
        "endpoint_id": None,
        "occurred_at": submission_row["received_at"],
        "data": {},
        "dispatched_at": None,
    }


def add_event(session: Session, *, type: str, clinic_id: str, occurred_at: dt.datetime,
              submission_id: str | None = None, priority: str | None = None,
              endpoint_id: str | None = None, data: dict[str, Any] | None = None
              ) -> WebhookEvent:
    """Adds one event to ``session`` (committed, or not, with the caller's change).
    ``data`` holds the type's own members (``escalation_level``, ``outcome`` ...)."""
    event = WebhookEvent(id=new_event_id(), type=type, clinic_id=clinic_id,
                         submission_id=submission_id, priority=priority,
                         endpoint_id=endpoint_id, occurred_at=occurred_at, data=data or {})
    session.add(event)
    return event


def payload(event: WebhookEvent, clinic_slug: str, received_at: dt.datetime | None
            ) -> dict[str, Any]:
    """The JSON body of a delivery: ``{"type", "timestamp", "data"}`` (shared spec §9).
    Built from the stored event alone, so every attempt sends the same bytes."""
    data: dict[str, Any] = {"clinic": clinic_slug}
    if event.submission_id is not None:
        data.update(
            submission_id=event.submission_id,
            priority=event.priority,
            received_at=json_time(received_at) if received_at is not None else None,
            url=SUBMISSION_PATH.format(id=event.submission_id),
        )
    data.update(event.data)
    return {"type": event.type, "timestamp": json_time(event.occurred_at), "data": data}
