"""``screening webhooks ...`` and ``screening worker`` (shared spec §9).

Attached to the ``screening`` group by ``screening.cli``; the session and error helpers
come from ``screening.cli.support``.
"""

from __future__ import annotations

import threading

import click

from screening.cli.support import cli_app, cli_session, user_errors
from screening.server import worker as background
from screening.services import accounts
from screening.services import webhooks as service
from screening.storage.db import app_state, utcnow
from screening.storage.models import PRIORITIES, WEBHOOK_EVENT_TYPES


@click.group()
def webhooks() -> None:
    """Webhook endpoints: a clinic's systems hear of new, waiting and decided submissions."""


@webhooks.command("add")
@click.argument("slug")
@click.argument("url")
@click.option("--event", "events", multiple=True, type=click.Choice(WEBHOOK_EVENT_TYPES),
              help="An event type to send (repeatable; default: all of them).")
@click.option("--min-priority", type=click.Choice(PRIORITIES), default="routine",
              show_default=True, help="Only submissions at or above this priority.")
@click.option("--description", default=None, help="What the endpoint is, e.g. 'pager'.")
@user_errors
def webhooks_add(slug: str, url: str, events: tuple[str, ...], min_priority: str,
                 description: str | None) -> None:
    """Register URL for clinic SLUG; the last line is its signing secret (shown once).
    URL must be https:// and resolve to public addresses (WEBHOOK_ALLOW_PRIVATE=1 allows
    private ones and http://)."""
    state = app_state(cli_app())
    allow_private = state.settings.webhook_allow_private
    state.db.dispose()
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        endpoint = service.register(
            session, service.Admin(clinic.id), url=url,
            events=list(events or WEBHOOK_EVENT_TYPES), min_priority=min_priority,
            description=description, allow_private=allow_private, now=utcnow())
        endpoint_id, secret = endpoint.id, endpoint.secret
    click.echo(f"webhook {endpoint_id} for clinic {slug}; signing secret (shown once):")
    click.echo(secret)


@webhooks.command("list")
@click.argument("slug")
@user_errors
def webhooks_list(slug: str) -> None:
    """List the webhook endpoints of clinic SLUG (never their secrets)."""
    with cli_session(write=False) as session:
        clinic = accounts.get_clinic(session, slug)
        for endpoint in service.list_endpoints(session, clinic.id):
            click.echo(f"{endpoint.id}  {endpoint.url}  min_priority={endpoint.min_priority}"
                       f"  events={','.join(endpoint.events)}")


@webhooks.command("test")
@click.argument("slug")
@click.argument("endpoint_id")
@user_errors
def webhooks_test(slug: str, endpoint_id: str) -> None:
    """Queue a webhook.test event for endpoint ENDPOINT_ID of clinic SLUG (the worker
    sends it)."""
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        event_id = service.queue_test(session, service.Admin(clinic.id), endpoint_id,
                                      now=utcnow())
    click.echo(f"queued webhook.test {event_id}")


@click.command()
@click.option("--once", is_flag=True, help="Work until idle, then exit.")
@user_errors
def worker(once: bool) -> None:
    """Deliver webhooks, raise escalations, seal the audit log (and on SQLite
    checkpoint the WAL) until SIGTERM (graceful: deliveries in flight finish). Safe to
    run one per app server."""
    state = app_state(cli_app())
    stop = threading.Event()
    try:
        with background.stopping_on_signals(stop):
            background.run(state, once=once, stop=stop)
    finally:
        state.db.dispose()
