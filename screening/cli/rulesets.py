"""``screening ruleset``: show, draft, shadow and activate a clinic's ruleset (shared spec
§10). Attached to the ``screening`` group by ``screening.cli``; every draft, shadow run
and activation is audited with actor ``system``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from screening.cli.support import cli_session, user_errors
from screening.errors import Unprocessable
from screening.services import accounts, rulesets, shadow
from screening.storage.db import utcnow

_ACTOR: dict[str, Any] = {"actor_type": "system", "actor_id": None, "user_id": None,
                          "request_id": None}


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _utc(day: dt.datetime | None) -> dt.datetime | None:
    return day.replace(tzinfo=dt.UTC) if day is not None else None


@click.group()
def ruleset() -> None:
    """Clinic rulesets: bounded settings, versions, shadow reports."""


@ruleset.command("show")
@click.argument("slug")
@user_errors
def ruleset_show(slug: str) -> None:
    """Print the active ruleset of the clinic SLUG as JSON."""
    with cli_session(write=False) as session:
        clinic = accounts.get_clinic(session, slug)
        _echo_json(rulesets.active_ruleset(session, clinic.id).to_dict())


@ruleset.command("draft")
@click.argument("slug")
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="JSON object of the settings to change (a partial map).")
@user_errors
def ruleset_draft(slug: str, path: Path) -> None:
    """Draft changes to the settings of the clinic SLUG; the last line is the draft id."""
    try:
        changes = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable({"file": ["Must be a JSON object of settings."]}) from None
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        draft = rulesets.create_draft(session, clinic.id, {"settings": changes}, **_ACTOR)
        click.echo(f"drafted changes to {', '.join(sorted(changes))} of clinic {slug}")
        click.echo(draft.id)


@ruleset.command("shadow")
@click.argument("slug")
@click.argument("draft_id")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only submissions received on or after this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only submissions received before this day (UTC).")
@user_errors
def ruleset_shadow(slug: str, draft_id: str, since: dt.datetime | None,
                   until: dt.datetime | None) -> None:
    """Print what DRAFT_ID would have done to the past submissions of SLUG (changes
    nothing stored)."""
    with cli_session(write=False) as session:
        clinic = accounts.get_clinic(session, slug)
        draft = rulesets.get_draft(session, clinic.id, draft_id)
        active = rulesets.active_ruleset(session, clinic.id)
        rows = shadow.past_submissions(session, clinic.id, _utc(since), _utc(until))
        report = shadow.shadow(rows, active, draft.id, rulesets.proposed_ruleset(active, draft))
    with cli_session() as session:
        rulesets.record_shadow_run(session, clinic.id, draft.id, **_ACTOR)
    _echo_json(report.to_dict())


@ruleset.command("activate")
@click.argument("slug")
@click.argument("draft_id")
@click.option("--expect-version", type=int, default=None,
              help="Refuse unless this is still the active version (default: whichever is).")
@user_errors
def ruleset_activate(slug: str, draft_id: str, expect_version: int | None) -> None:
    """Make DRAFT_ID the active ruleset of SLUG; later submissions use it."""
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        expected = expect_version or clinic.ruleset_version
        active = rulesets.activate(session, clinic.id, draft_id,
                                   if_match={rulesets.etag(expected)}, now=utcnow(), **_ACTOR)
        click.echo(f"clinic {slug} now uses ruleset version {active.version}")
