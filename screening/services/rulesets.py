"""Clinic rulesets (shared spec §10): the active ruleset, drafts, activation.

A clinic's ruleset is the code's ``rules.RULESET_VERSION`` plus one immutable
``RulesetVersion`` of its settings; ``clinics.ruleset_version`` names the active one. Each
app server caches the rulesets it has built, keyed by clinic and checked against that
version number on every use: an activation bumps it, so every server sees the new ruleset
on its next request (a version check, not a timer). The shadow report lives in
``screening.services.shadow``.

Services receive a session and never commit; the caller commits once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

import rules
from screening.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from screening.services import shapes
from screening.storage import unit_of_work
from screening.storage.db import Database
from screening.storage.models import Clinic, RulesetDraft, RulesetVersion

OBJECT_TYPE = "ruleset"
DRAFT_OBJECT_TYPE = "ruleset_draft"

_versions = RulesetVersion.__table__.c
_ACTIVE_VERSION = select(Clinic.__table__.c.ruleset_version).where(
    Clinic.__table__.c.id == bindparam("clinic_id"))
_VERSION_ROW = select(
    _versions.version, _versions.settings, _versions.activated_at, _versions.activated_by
).where(_versions.clinic_id == bindparam("clinic_id"), _versions.version == bindparam("version"))

Fetch = Callable[[Executable, Mapping[str, Any]], Any]
"""Runs a statement and answers its first row (column types applied) or None."""


@dataclass(frozen=True, slots=True)
class ActiveRuleset:
    """One version of a clinic's ruleset: the version number, the settings the clinic set
    (``stored``) and the ``rules.Ruleset`` they make with the code's defaults."""

    clinic_id: str
    version: int
    ruleset: rules.Ruleset
    stored: Mapping[str, Any]
    activated_at: dt.datetime
    activated_by: str | None

    @property
    def escalation_minutes(self) -> Mapping[str, int]:
        """Minutes an unclaimed submission waits, per priority, before it escalates."""
        return self.ruleset.escalation_minutes

    @property
    def etag(self) -> str:
        """The strong entity tag of this version (``If-Match`` of an activation)."""
        return etag(self.version)

    def to_dict(self) -> dict[str, Any]:
        """The §10 shape of ``GET /api/v1/ruleset`` and of each listed version."""
        return {
            "version": self.version,
            "code_version": self.ruleset.ruleset_version,
            "settings": self.ruleset.settings(),
            "activated_at": shapes.json_time(self.activated_at),
            "activated_by": self.activated_by,
        }


def etag(version: int) -> str:
    """The strong entity tag of a clinic's ruleset version ``version``."""
    return f'"ruleset-{version}"'


# (database url, clinic id) -> the last version built; safe under threads: a lookup
# either finds an entry or builds one, and replacing a dict item is atomic.
_CACHE: dict[tuple[str, str], ActiveRuleset] = {}


def active_ruleset(session: Session, clinic_id: str) -> ActiveRuleset:
    """The clinic's active ruleset: one primary-key read of the active version number,
    and the version's row only when this process has not built it yet."""
    version = session.execute(_ACTIVE_VERSION, {"clinic_id": clinic_id}).scalar_one_or_none()
    if version is None:
        raise NotFound("No clinic with this id.")
    return ruleset_at(_session_fetch(session), str(session.get_bind().url), clinic_id, version)


def escalation_minutes(session: Session, clinic_id: str) -> Mapping[str, int]:
    """The clinic's active ``escalation_minutes`` (``{"critical": 10, "urgent": 60}``)."""
    return active_ruleset(session, clinic_id).escalation_minutes


def ruleset_at(fetch: Fetch, database_url: str, clinic_id: str, version: int
               ) -> ActiveRuleset:
    """Version ``version`` of the clinic's ruleset, from the cache when it holds that
    version, else read with ``fetch`` and cached (replacing an older version)."""
    key = (database_url, clinic_id)
    cached = _CACHE.get(key)
    if cached is not None and cached.version == version:
        return cached
    row = fetch(_VERSION_ROW, {"clinic_id": clinic_id, "version": version})
    if row is None:
        raise LookupError(f"ruleset version {version} of clinic {clinic_id} is missing")
    built = _build(clinic_id, row)
    _CACHE[key] = built
    return built


def _build(clinic_id: str, row: Any) -> ActiveRuleset:
    version, stored, activated_at, activated_by = row
    return ActiveRuleset(clinic_id, version, rules.Ruleset.from_settings(stored or {}),
                         stored or {}, activated_at, activated_by)


def cached_ruleset(database: Database, clinic_id: str, version: int) -> ActiveRuleset:
    """``ruleset_at`` for the ingest path, which knows the active version from the
    credential lookup: no query at all unless this process has not built that version."""

    def fetch(statement: Executable, parameters: Mapping[str, Any]) -> Any:
        with database.read_engine.connect() as connection:
            return connection.execute(statement, parameters).first()

    return ruleset_at(fetch, database.url, clinic_id, version)


def _session_fetch(session: Session) -> Fetch:
    return lambda statement, parameters: session.execute(statement, parameters).first()


def list_versions(session: Session, clinic_id: str) -> list[ActiveRuleset]:
    """Every settings version of the clinic, newest first."""
    rows = session.execute(
        select(_versions.version, _versions.settings, _versions.activated_at,
               _versions.activated_by)
        .where(_versions.clinic_id == clinic_id)
        .order_by(_versions.version.desc())
    )
    return [_build(clinic_id, row) for row in rows]


def create_version_one(session: Session, clinic_id: str, settings: Mapping[str, Any]) -> None:
    """The first settings version of a new clinic (``settings`` may be empty: defaults)."""
    try:
        rules.Ruleset.from_settings(settings)
    except rules.SettingsError as error:
        raise Unprocessable(error.errors) from None
    session.add(RulesetVersion(clinic_id=clinic_id, version=1, settings=dict(settings)))


def check_required_sections(ruleset: rules.Ruleset, answers: Mapping[str, Any]) -> None:
    """422 naming every optional section the clinic requires that was not submitted."""
    missing = [s for s in ruleset.required_sections if answers.get(s) is None]
    if missing:
        raise Unprocessable({
            f"answers.{section}": ["Required by this clinic's ruleset."] for section in missing
        })


def create_draft(session: Session, clinic_id: str, body: Any, *, actor_type: str,
                 actor_id: str | None, user_id: str | None, request_id: str | None
                 ) -> RulesetDraft:
    """A draft of changes (``{"settings": {...}}``, a partial map) over the active
    ruleset, validated against every bound; audited as ``ruleset.draft``."""
    changes = body.get("settings") if isinstance(body, Mapping) else None
    if not isinstance(changes, Mapping) or not changes:
        raise Unprocessable({"settings": ["Give an object naming at least one setting."]})
    extra = sorted(set(body) - {"settings"})
    if extra:
        raise Unprocessable({name: ["Unknown field."] for name in extra})
    active = active_ruleset(session, clinic_id)
    _proposed(active, changes)
    draft = RulesetDraft(clinic_id=clinic_id, settings=dict(changes), created_by=user_id)
    session.add(draft)
    session.flush()
    unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type=actor_type, actor_id=actor_id,
                 action="ruleset.draft", object_type=DRAFT_OBJECT_TYPE, object_id=draft.id,
                 request_id=request_id)
    return draft


def get_draft(session: Session, clinic_id: str, draft_id: str) -> RulesetDraft:
    """The clinic's draft; ``NotFound`` when there is none *in this clinic*."""
    draft = session.get(RulesetDraft, draft_id)
    if draft is None or draft.clinic_id != clinic_id:
        raise NotFound("No ruleset draft with this id.")
    return draft


def proposed_ruleset(active: ActiveRuleset, draft: RulesetDraft) -> rules.Ruleset:
    """The ruleset the draft would make over ``active``."""
    return _proposed(active, draft.settings)


def _proposed(active: ActiveRuleset, changes: Mapping[str, Any]) -> rules.Ruleset:
    try:
        return active.ruleset.with_changes(changes)
    except rules.SettingsError as error:
        raise Unprocessable({f"settings.{k}": v for k, v in error.errors.items()}) from None


def record_shadow_run(session: Session, clinic_id: str, draft_id: str, *, actor_type: str,
                      actor_id: str | None, user_id: str | None, request_id: str | None
                      ) -> None:
    """The ``ruleset.shadow`` audit event of a shadow run of the draft."""
    unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type=actor_type, actor_id=actor_id,
                 action="ruleset.shadow", object_type=DRAFT_OBJECT_TYPE, object_id=draft_id,
                 request_id=request_id)


def draft_to_dict(draft: RulesetDraft) -> dict[str, Any]:
    """The JSON shape of a draft."""
    return {
        "id": draft.id,
        "settings": draft.settings,
        "created_at": shapes.json_time(draft.created_at),
        "created_by": draft.created_by,
        "activated_version": draft.activated_version,
    }


def activate(session: Session, clinic_id: str, draft_id: str, *,
             if_match: Collection[str] | None, actor_type: str, actor_id: str | None,
             user_id: str | None, request_id: str | None, now: dt.datetime
             ) -> ActiveRuleset:
    """Makes the draft the clinic's next settings version. ``if_match`` must hold the
    active version's ETag: 428 when absent, 412 when stale (nothing changes). A draft is
    activated at most once (409). Audited as ``ruleset.activate``."""
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag of the active ruleset.")
    clinic = session.execute(
        select(Clinic).where(Clinic.id == clinic_id).with_for_update()
    ).scalar_one_or_none()
    if clinic is None:
        raise NotFound("No clinic with this id.")
    draft = get_draft(session, clinic_id, draft_id)
    active = ruleset_at(_session_fetch(session), str(session.get_bind().url), clinic_id,
                        clinic.ruleset_version)
    if active.etag not in if_match:
        raise PreconditionFailed("The active ruleset has changed; read it again.")
    if draft.activated_version is not None:
        raise Conflict(f"This draft was already activated as version "
                       f"{draft.activated_version}.")
    proposed = proposed_ruleset(active, draft)
    resolved = proposed.settings()
    stored = {**active.stored, **{name: resolved[name] for name in draft.settings}}
    version = RulesetVersion(clinic_id=clinic_id, version=active.version + 1, settings=stored,
                             draft_id=draft.id, activated_at=now, activated_by=user_id)
    session.add(version)
    clinic.ruleset_version = version.version
    draft.activated_version = version.version
    session.flush()
    unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type=actor_type, actor_id=actor_id,
                 action="ruleset.activate", object_type=OBJECT_TYPE,
                 object_id=str(version.version), request_id=request_id)
    return ActiveRuleset(clinic_id, version.version, proposed, stored, now, user_id)
