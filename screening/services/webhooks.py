"""Webhook endpoints of a clinic (shared spec §9): register, list, delete, rotate the
secret, read the delivery log, redeliver, queue a test event.

Every change is audited (``webhook.create``, ``webhook.delete``, ``webhook.rotate``,
``webhook.redeliver``, ``webhook.test``). A URL is checked by ``notify.addresses`` at
registration (422 naming ``url``) and again at every delivery attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from screening.errors import NotFound, Unprocessable
from screening.notify import addresses, signing
from screening.services import outbox
from screening.services.paging import Page, as_str, as_time, decode_cursor, paginate
from screening.services.shapes import json_time
from screening.storage import unit_of_work
from screening.storage.models import WebhookDelivery, WebhookEndpoint

OBJECT_TYPE = "webhook"
ROTATION_OVERLAP = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Admin:
    """Who manages endpoints, for the audit trail (an admin's token, or the CLI)."""

    clinic_id: str
    actor_type: str = "system"
    actor_id: str | None = None
    request_id: str | None = None


def register(session: Session, admin: Admin, *, url: str, events: list[str],
             min_priority: str, description: str | None, allow_private: bool,
             now: dt.datetime, resolver: addresses.Resolver = addresses.resolve
             ) -> WebhookEndpoint:
    """A new endpoint of the admin's clinic with a new secret (shown once by the caller).
    422 naming ``url`` when the destination is forbidden."""
    try:
        addresses.check_url(url, allow_private=allow_private, resolver=resolver)
    except addresses.ForbiddenDestination as error:
        raise Unprocessable({"url": [str(error)]}, "The webhook URL is not allowed.") from None
    endpoint = WebhookEndpoint(
        clinic_id=admin.clinic_id, url=url, description=description,
        events=list(dict.fromkeys(events)), min_priority=min_priority,
        secret=signing.new_secret(), created_at=now,
    )
    session.add(endpoint)
    session.flush()
    _audit(session, admin, "webhook.create", endpoint.id)
    return endpoint


def list_endpoints(session: Session, clinic_id: str) -> list[WebhookEndpoint]:
    """The clinic's live endpoints, oldest first."""
    return list(session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.clinic_id == clinic_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ))


def get_endpoint(session: Session, clinic_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The clinic's live endpoint; ``NotFound`` otherwise (other clinics' included)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.clinic_id != clinic_id or endpoint.deleted_at is not None:
        raise NotFound("No webhook endpoint with this id.")
    return endpoint


def delete(session: Session, admin: Admin, endpoint_id: str, *, now: dt.datetime) -> None:
    """Deletes the endpoint (its delivery log stays) and cancels its pending deliveries."""
    endpoint = get_endpoint(session, admin.clinic_id, endpoint_id)
    endpoint.deleted_at = now
    # The endpoint row first: a delivery tick share-locks it (``notify.delivery``), so
    # this waits for a tick dispatching to it, and the update below then sees its rows.
    session.flush()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
        .values(state="cancelled", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    _audit(session, admin, "webhook.delete", endpoint.id)


def rotate_secret(session: Session, admin: Admin, endpoint_id: str, *, now: dt.datetime
                  ) -> WebhookEndpoint:
    """A new secret; the current one keeps signing too for ``ROTATION_OVERLAP``."""
    endpoint = get_endpoint(session, admin.clinic_id, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    _audit(session, admin, "webhook.rotate", endpoint.id)
    return endpoint


def live_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one
    while its rotation overlap lasts."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def list_deliveries(session: Session, clinic_id: str, endpoint_id: str, *, limit: int,
                    cursor: str | None) -> Page[dict[str, Any]]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, clinic_id, endpoint_id)
    after = decode_cursor(cursor, (as_time, as_str))
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < after)
    page = paginate(list(session.scalars(query)), limit, lambda d: (d.created_at, d.id))
    return Page([delivery_shape(d) for d in page.items], page.next_cursor)


def redeliver(session: Session, admin: Admin, endpoint_id: str, delivery_id: str, *,
              now: dt.datetime) -> WebhookDelivery:
    """Queues the delivery's event again (same ``webhook-id``), whatever its state; the
    retry window starts anew."""
    endpoint = get_endpoint(session, admin.clinic_id, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("No delivery with this id.")
    delivery.state = "pending"
    delivery.next_attempt_at = now
    delivery.first_attempt_at = None
    _audit(session, admin, "webhook.redeliver", endpoint.id)
    return delivery


def queue_test(session: Session, admin: Admin, endpoint_id: str, *, now: dt.datetime) -> str:
    """Queues a ``webhook.test`` event for this endpoint only; returns the event id."""
    endpoint = get_endpoint(session, admin.clinic_id, endpoint_id)
    event = outbox.add_event(session, type="webhook.test", clinic_id=endpoint.clinic_id,
                             occurred_at=now, endpoint_id=endpoint.id,
                             data={"endpoint_id": endpoint.id})
    _audit(session, admin, "webhook.test", endpoint.id)
    return event.id


def endpoint_shape(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the API shows it: never its secrets."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "min_priority": endpoint.min_priority,
        "description": endpoint.description,
        "created_at": json_time(endpoint.created_at),
    }


def delivery_shape(delivery: WebhookDelivery) -> dict[str, Any]:
    """One entry of the delivery log."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "type": delivery.event.type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "next_attempt_at": (json_time(delivery.next_attempt_at)
                            if delivery.state == "pending" and delivery.next_attempt_at
                            else None),
        "created_at": json_time(delivery.created_at),
    }


def _audit(session: Session, admin: Admin, action: str, endpoint_id: str) -> None:
    unit_of_work.of(session).audit(clinic_id=admin.clinic_id, actor_type=admin.actor_type,
                 actor_id=admin.actor_id, action=action, object_type=OBJECT_TYPE,
                 object_id=endpoint_id, request_id=admin.request_id)
