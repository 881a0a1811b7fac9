"""Webhook endpoints of the caller's clinic (shared spec §9), admin only.

Thin views: check the body, call one service of ``screening.services.webhooks`` on the
request's session, commit once, shape the answer. The secret is in the answers of create
and rotate only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from screening.errors import Unprocessable
from screening.intake.schemas import flatten_errors
from screening.services import webhooks
from screening.services.paging import parse_limit
from screening.storage.db import app_state, utcnow
from screening.storage.models import PRIORITIES, WEBHOOK_EVENT_TYPES
from screening.storage.unit_of_work import commit, get_session
from screening.web.api._json import json_body
from screening.web.auth import require
from screening.web.offload import off_the_loop

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

URL_MAX_CHARS = 2048


class EndpointSchema(Schema):
    """``{"url", "events", "min_priority"?, "description"?}``; unknown members refused."""

    class Meta:
        unknown = RAISE

    url = fields.String(required=True, validate=validate.Length(min=1, max=URL_MAX_CHARS))
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENT_TYPES)),
                         required=True, validate=validate.Length(min=1, max=10))
    min_priority = fields.String(load_default="routine", validate=validate.OneOf(PRIORITIES))
    description = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=200))


def _admin() -> webhooks.Admin:
    principal = g.principal
    return webhooks.Admin(clinic_id=principal.clinic_id, actor_type=principal.kind,
                          actor_id=principal.actor_id, request_id=g.get("request_id"))


def _with_secret(endpoint: Any, status: int) -> Response:
    response = jsonify({**webhooks.endpoint_shape(endpoint), "secret": endpoint.secret})
    response.status_code = status
    return response


@bp.post("")
@require("admin")
@off_the_loop  # resolves the URL's host (DNS) for the SSRF check
def create_endpoint() -> Response:
    """Registers an endpoint: 201 with its ``id`` and ``secret`` (shown once)."""
    try:
        loaded: dict[str, Any] = EndpointSchema().load(json_body())
    except ValidationError as error:
        raise Unprocessable(flatten_errors(error.messages)) from None
    session = get_session(write=True)
    endpoint = webhooks.register(
        session, _admin(), url=loaded["url"], events=loaded["events"],
        min_priority=loaded["min_priority"], description=loaded["description"],
        allow_private=app_state().settings.webhook_allow_private, now=utcnow())
    commit()
    return _with_secret(endpoint, 201)


@bp.get("")
@require("admin")
def list_endpoints() -> Response:
    """The clinic's endpoints, never their secrets."""
    endpoints = webhooks.list_endpoints(get_session(), g.principal.clinic_id)
    return jsonify({"items": [webhooks.endpoint_shape(e) for e in endpoints],
                    "next_cursor": None})


@bp.delete("/<id>")
@require("admin")
def delete_endpoint(id: str) -> Response:
    """Deletes the endpoint and cancels its pending deliveries: 204."""
    session = get_session(write=True)
    webhooks.delete(session, _admin(), id, now=utcnow())
    commit()
    return Response(status=204)


@bp.post("/<id>/rotate-secret")
@require("admin")
def rotate_secret(id: str) -> Response:
    """A new secret (200); the previous one keeps signing for 24 hours."""
    session = get_session(write=True)
    endpoint = webhooks.rotate_secret(session, _admin(), id, now=utcnow())
    commit()
    return _with_secret(endpoint, 200)


@bp.get("/<id>/deliveries")
@require("admin")
def list_deliveries(id: str) -> Response:
    """The endpoint's delivery log, newest first."""
    page = webhooks.list_deliveries(get_session(), g.principal.clinic_id, id,
                                    limit=parse_limit(request.args.get("limit")),
                                    cursor=request.args.get("cursor"))
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


@bp.post("/<id>/deliveries/<delivery_id>/redeliver")
@require("admin")
def redeliver(id: str, delivery_id: str) -> Response:
    """Queues the delivery's event again, same ``webhook-id``: 202."""
    session = get_session(write=True)
    delivery = webhooks.redeliver(session, _admin(), id, delivery_id, now=utcnow())
    commit()
    response = jsonify(webhooks.delivery_shape(delivery))
    response.status_code = 202
    return response
