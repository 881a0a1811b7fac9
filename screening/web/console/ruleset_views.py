"""The clinic ruleset pages (admins): the active settings with their bounds and sources,
a form to draft changes, a draft's shadow report, and activation behind a confirmation
that names every change. The same services as ``/api/v1/ruleset``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, flash, request

import rules
from rules.ruleset import OPTIONAL_SECTIONS
from screening.errors import PreconditionFailed, PreconditionRequired, Unprocessable
from screening.services import rulesets, shadow
from screening.storage.db import utcnow
from screening.storage.unit_of_work import commit, get_session, rollback
from screening.web.console import pages
from screening.web.console.web import admin_only, bp, current_user
from screening.web.offload import off_the_loop

_PAIRS = {"bp_elevated": ("systolic", "diastolic"), "bp_severe": ("systolic", "diastolic"),
          "escalation_minutes": ("critical", "urgent")}


def _actor() -> dict[str, Any]:
    user = current_user()
    return {"actor_type": user.kind, "actor_id": user.actor_id, "user_id": user.user_id,
            "request_id": None}


def _whole(name: str, raw: str, errors: dict[str, list[str]]) -> int | None:
    try:
        return int(raw.strip())
    except ValueError:
        errors[name] = ["Enter a whole number."]
        return None


def changes_from_form(form: Any, active: dict[str, Any]) -> tuple[dict[str, Any],
                                                                 dict[str, list[str]]]:
    """The settings the form changes from ``active`` (a partial map), and errors of
    fields that are not numbers."""
    errors: dict[str, list[str]] = {}
    proposed: dict[str, Any] = {}
    for setting in rules.SETTINGS:
        name = setting.name
        if name in _PAIRS:
            proposed[name] = {part: _whole(f"{name}.{part}", form.get(f"{name}.{part}", ""),
                                           errors) for part in _PAIRS[name]}
        elif name == "crisis_message":
            proposed[name] = form.get(name, "").replace("\r\n", "\n")
        elif name == "required_sections":
            proposed[name] = [s for s in OPTIONAL_SECTIONS
                              if s in form.getlist(name)]
        else:
            proposed[name] = _whole(name, form.get(name, ""), errors)
    changed = {name: value for name, value in proposed.items() if value != active[name]}
    return changed, errors


def _settings_rows(ruleset: rules.Ruleset) -> list[dict[str, Any]]:
    values = ruleset.settings()
    return [{"name": s.name, "value": values[s.name], "default": s.default,
             "bounds": s.bounds, "source": s.source} for s in rules.SETTINGS]


def _ruleset_page(status: int = 200, errors: dict[str, list[str]] | None = None,
                  form: dict[str, Any] | None = None) -> Response:
    active = rulesets.active_ruleset(get_session(), current_user().clinic_id)
    return pages.page("console/ruleset.html", status, active=active,
                      rows=_settings_rows(active.ruleset), errors=errors or {},
                      form=form or active.ruleset.settings(),
                      sections=OPTIONAL_SECTIONS)


@bp.get("/ruleset")
@admin_only
def ruleset_page() -> Response:
    """The active ruleset and the form to draft changes."""
    return _ruleset_page()


@bp.post("/ruleset/drafts")
@admin_only
def create_draft() -> Response:
    """Drafts the settings the form changed; back to the form with errors otherwise."""
    session = get_session(write=True)
    clinic_id = current_user().clinic_id
    active = rulesets.active_ruleset(session, clinic_id)
    changes, errors = changes_from_form(request.form, active.ruleset.settings())
    if not errors and not changes:
        errors = {"settings": ["Change at least one setting."]}
    if not errors:
        try:
            draft = rulesets.create_draft(session, clinic_id, {"settings": changes},
                                          **_actor())
        except Unprocessable as error:
            errors = {k.removeprefix("settings."): v for k, v in error.errors.items()}
    if errors:
        rollback()
        form = {**active.ruleset.settings(), **changes}
        return _ruleset_page(422, errors, form)
    commit()
    flash("Draft saved. Run the shadow report before you activate it.", "success")
    return pages.see_other("console.draft_page", id=draft.id)


def _draft_page(draft_id: str, status: int = 200, report: dict[str, Any] | None = None,
                error: str | None = None) -> Response:
    session = get_session()
    clinic_id = current_user().clinic_id
    draft = rulesets.get_draft(session, clinic_id, draft_id)
    active = rulesets.active_ruleset(session, clinic_id)
    current = active.ruleset.settings()
    proposed = rulesets.proposed_ruleset(active, draft).settings()
    changes = [{"name": name, "before": current[name], "after": proposed[name]}
               for name in draft.settings]
    return pages.page("console/ruleset_draft.html", status, draft=draft, active=active,
                      changes=changes, report=report, error=error,
                      since=request.form.get("since", ""), until=request.form.get("until", ""))


@bp.get("/ruleset/drafts/<id>")
@admin_only
def draft_page(id: str) -> Response:
    """A draft's changes, its shadow form and the activation confirmation."""
    return _draft_page(id)


def _day(raw: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC) if raw else None


@bp.post("/ruleset/drafts/<id>/shadow")
@admin_only
@off_the_loop  # evaluates up to every submission of the clinic
def shadow_draft(id: str) -> Response:
    """Runs the shadow report of the draft over the window given (read only, audited)."""
    try:
        since, until = _day(request.form.get("since", "")), _day(request.form.get("until", ""))
    except ValueError:
        return _draft_page(id, 422, error="Enter dates as YYYY-MM-DD.")
    clinic_id = current_user().clinic_id
    reading = get_session()
    draft = rulesets.get_draft(reading, clinic_id, id)
    active = rulesets.active_ruleset(reading, clinic_id)
    rows = shadow.past_submissions(reading, clinic_id, since, until)
    report = shadow.shadow(rows, active, draft.id,
                           rulesets.proposed_ruleset(active, draft)).to_dict()
    reading.rollback()
    writing = get_session(write=True)
    rulesets.record_shadow_run(writing, clinic_id, draft.id, **_actor())
    commit()
    return _draft_page(id, report=report)


@bp.post("/ruleset/drafts/<id>/activate")
@admin_only
def activate_draft(id: str) -> Response:
    """Activates the draft over the version the admin confirmed (its ``etag`` field)."""
    if request.form.get("confirm") != "yes":
        return _draft_page(id, 422, error="Tick the confirmation to activate.")
    shown = request.form.get("etag") or None
    session = get_session(write=True)
    try:
        active = rulesets.activate(session, current_user().clinic_id, id,
                                   if_match={shown} if shown else None, now=utcnow(),
                                   **_actor())
    except (PreconditionFailed, PreconditionRequired):
        rollback()
        return _draft_page(id, 412, error="The active ruleset changed since this page was "
                                          "shown; review the changes again.")
    commit()
    flash(f"Ruleset version {active.version} is active for new submissions.", "success")
    return pages.see_other("console.ruleset_page")
