"""The webhooks page (admins): each endpoint of the clinic with its recent deliveries and
how many failed, read through ``services.webhooks`` as the API reads them."""

from __future__ import annotations

from flask import Response

from screening.services import webhooks
from screening.storage.unit_of_work import get_session
from screening.web.console import pages
from screening.web.console.web import admin_only, bp, current_user

RECENT_DELIVERIES = 10


@bp.get("/webhooks")
@admin_only
def webhooks_page() -> Response:
    """The clinic's endpoints, each with its latest deliveries, newest first."""
    session = get_session()
    clinic_id = current_user().clinic_id
    endpoints = []
    for endpoint in webhooks.list_endpoints(session, clinic_id):
        recent = webhooks.list_deliveries(session, clinic_id, endpoint.id,
                                          limit=RECENT_DELIVERIES, cursor=None).items
        endpoints.append({**webhooks.endpoint_shape(endpoint), "deliveries": recent,
                          "failed": sum(1 for d in recent if d["state"] == "failed")})
    return pages.page("console/webhooks.html", endpoints=endpoints)
