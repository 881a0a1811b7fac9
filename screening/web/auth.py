"""Bearer credentials -> ``g.principal``; deny by default; role checks.

``authenticate_request`` runs before every view of the ``/api/v1`` blueprint (and its
children) unless the view is marked ``@public``. A missing, malformed, unknown, revoked or
disabled credential answers 401 with ``WWW-Authenticate: Bearer`` and appends an
``auth.failed`` audit event in its own short write transaction. ``@require("clinician")``
on a view answers 403 when the principal lacks the role.

Credentials are read from the database on every request, so a revoked key or token is
refused from the next request on. Under the serving loop one lookup serves every request
with the same ``Authorization`` that the loop takes up in one turn (a few milliseconds:
``CHECKED_THIS_TURN``, emptied by the loop at each turn), as if they had all arrived
together; a form's intake key posting many submissions at once costs one lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy import bindparam, select

from screening.errors import Forbidden, Unauthorized
from screening.services import credentials as secrets
from screening.storage.db import Database, app_state
from screening.storage.models import ApiToken, Clinic, IntakeKey, User
from screening.storage.unit_of_work import unit_of_work

ROLES = ("intake", "clinician", "admin")
# app.extensions key: the serving loop's {Authorization: result} of its current turn
CHECKED_THIS_TURN = "screening.credentials_this_turn"
F = TypeVar("F", bound=Callable[..., Any])

# Built once: constructing a statement costs more than running it (plain Core on the
# table columns, so no ORM loading either).
_keys, _tokens, _users = IntakeKey.__table__.c, ApiToken.__table__.c, User.__table__.c
_clinics = Clinic.__table__.c
# The number of the key's clinic's active ruleset comes with it (a version, not settings):
# every submission is evaluated under that ruleset, which the ingest path takes from its
# cache (screening.services.rulesets) when the version matches, so one query serves both.
_INTAKE_KEY = (
    select(_keys.id, _keys.clinic_id, _keys.secret_hash, _keys.revoked_at,
           _clinics.ruleset_version)
    .join_from(IntakeKey.__table__, Clinic.__table__, _clinics.id == _keys.clinic_id)
    .where(_keys.public_id == bindparam("public_id"))
)
_USER_TOKEN = (
    select(_tokens.id, _tokens.secret_hash, _tokens.revoked_at, _users.id.label("user_id"),
           _users.clinic_id, _users.role, _users.disabled_at)
    .join_from(ApiToken.__table__, User.__table__, _users.id == _tokens.user_id)
    .where(_tokens.public_id == bindparam("public_id"))
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``id`` is the credential row's id (intake key or API token);
    ``user_id`` and ``role`` are set for users only; ``ruleset_version`` (the clinic's
    active ruleset version) is loaded with an intake key, whose submissions need it."""

    kind: str  # "intake_key" | "user"
    id: str
    clinic_id: str
    role: str | None = None
    user_id: str | None = None
    ruleset_version: int | None = None

    @property
    def actor_id(self) -> str:
        """The id to record as the audit actor: the user, or the intake key."""
        return self.user_id or self.id

    def has_role(self, role: str) -> bool:
        """True when the principal may act as ``role`` (admin satisfies clinician)."""
        if role == "intake":
            return self.kind == "intake_key"
        if role == "clinician":
            return self.role in ("clinician", "admin")
        return self.role == role


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why a credential was refused, and which clinic it names when that is known."""

    reason: str
    clinic_id: str | None = None
    credential_id: str | None = None


def public(view: F) -> F:
    """Marks a view of the api blueprint as open to anonymous callers."""
    view.__dict__["screening_public"] = True
    return view


def require(*roles: str) -> Callable[[F], F]:
    """View decorator: 403 unless ``g.principal`` has one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"roles must be among {ROLES}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal: Principal | None = g.get("principal")
            if principal is None or not any(principal.has_role(role) for role in roles):
                raise Forbidden("This credential does not grant this action.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def resolve_principal(database: Database, authorization: str | None
                      ) -> Principal | _Failure:
    """Checks an ``Authorization`` header value; never raises for a bad credential."""
    if not authorization:
        return _Failure("missing")
    scheme, _, token = authorization.partition(" ")
    parsed = secrets.parse(token.strip()) if scheme.lower() == "bearer" else None
    if parsed is None:
        secrets.matches("", None)  # same work as an unknown id
        return _Failure("malformed")
    if parsed.kind == secrets.INTAKE_KEY:
        return _resolve_intake_key(database, parsed)
    return _resolve_user_token(database, parsed)


def _resolve_intake_key(database: Database, parsed: secrets.ParsedToken
                        ) -> Principal | _Failure:
    row = database.fetch_one(_INTAKE_KEY, {"public_id": parsed.public_id})
    key_id, clinic_id, secret_hash, revoked_at, ruleset_version = row or (None,) * 5
    matched = secrets.matches(parsed.secret, secret_hash)
    if key_id is None:
        return _Failure("invalid")
    if not matched:
        return _Failure("invalid", clinic_id, key_id)
    if revoked_at is not None:
        return _Failure("revoked", clinic_id, key_id)
    return Principal(kind="intake_key", id=key_id, clinic_id=clinic_id,
                     ruleset_version=ruleset_version)


def _resolve_user_token(database: Database, parsed: secrets.ParsedToken
                        ) -> Principal | _Failure:
    row = database.fetch_one(_USER_TOKEN, {"public_id": parsed.public_id})
    token_id, secret_hash, revoked_at, user_id, clinic_id, role, disabled_at = (
        row or (None,) * 7)
    matched = secrets.matches(parsed.secret, secret_hash)
    if token_id is None:
        return _Failure("invalid")
    if not matched:
        return _Failure("invalid", clinic_id, user_id)
    if revoked_at is not None or disabled_at is not None:
        return _Failure("revoked", clinic_id, user_id)
    return Principal(kind="user", id=token_id, clinic_id=clinic_id, role=role, user_id=user_id)


def current_credential() -> Principal | _Failure:
    """The request's credential check, done once and cached on ``g`` (the rate limiter
    keys on it before the api blueprint's own check runs)."""
    if "_credential" not in g:
        authorization = request.headers.get("Authorization")
        this_turn: dict[str, Principal | _Failure] | None = current_app.extensions.get(
            CHECKED_THIS_TURN)
        if this_turn is None or not authorization:
            g._credential = resolve_principal(app_state().db, authorization)
        elif (checked := this_turn.get(authorization)) is not None:
            g._credential = checked
        else:
            g._credential = this_turn[authorization] = resolve_principal(
                app_state().db, authorization)
    return g._credential


def authenticate_request() -> None:
    """``before_request`` of the api blueprint: sets ``g.principal`` or answers 401."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "screening_public", False):
        return
    result = current_credential()
    if isinstance(result, Principal):
        g.principal = result
        return
    _audit_failure(result)
    raise Unauthorized("A valid bearer credential is required.")


def _forget_previous_request() -> None:
    """Clears the credential state of ``g`` (an app context can outlive one request)."""
    g.pop("_credential", None)
    g.pop("principal", None)


def init_app(app: Flask) -> None:
    """Registers the per-request reset; call before the rate limiter is installed, whose
    key function reads the credential."""
    app.before_request(_forget_previous_request)


def _audit_failure(failure: _Failure) -> None:
    """Records ``auth.failed`` in its own transaction: the 401 must not roll it back."""
    with unit_of_work(app_state().db) as uow:
        uow.audit(
            clinic_id=failure.clinic_id,
            actor_type="anonymous",
            actor_id=failure.credential_id,
            action="auth.failed",
            outcome="denied",
            request_id=g.get("request_id"),
        )
