"""Clinics and their credentials: the use cases behind ``screening clinics|keys|users``.

Every function works in the caller's session and transaction (it flushes, never commits)
and records a ``system`` audit event. New secrets are returned once, in ``Issued``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from screening.errors import Conflict, NotFound, Unprocessable
from screening.services import credentials as secrets
from screening.services import rulesets
from screening.storage import unit_of_work
from screening.storage.db import utcnow
from screening.storage.models import USER_ROLES, ApiToken, Clinic, IntakeKey, User

SLUG_PATTERN = re.compile(r"[a-z0-9-]{2,63}")
# Deliberately loose: one "@", no spaces, a dot in the domain. Delivery is not our job.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class Issued:
    """A credential just created: ``token`` is the only copy of the secret."""

    id: str
    public_id: str
    token: str
    owner_id: str  # the clinic (intake key) or the user (API token)


def create_clinic(
    session: Session, *, slug: str, name: str, crisis_message: str | None = None
) -> Clinic:
    """Creates a clinic; 422 on a bad slug or empty name, 409 when the slug is taken."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise Unprocessable({"slug": ["Use 2-63 characters among a-z, 0-9 and '-'."]})
    if not name.strip():
        raise Unprocessable({"name": ["Must not be empty."]})
    if session.scalar(select(Clinic.id).where(Clinic.slug == slug)) is not None:
        raise Conflict(f"A clinic with the slug '{slug}' already exists.")
    clinic = Clinic(slug=slug, name=name.strip(), ruleset_version=1)
    session.add(clinic)
    _flush_or_conflict(session, f"A clinic with the slug '{slug}' already exists.")
    rulesets.create_version_one(
        session, clinic.id, {"crisis_message": crisis_message} if crisis_message else {})
    _audit(session, clinic.id, "clinic.create", "clinic", clinic.id)
    return clinic


def get_clinic(session: Session, slug: str) -> Clinic:
    """The clinic with ``slug``; 404 when there is none."""
    clinic = session.scalar(select(Clinic).where(Clinic.slug == slug))
    if clinic is None:
        raise NotFound(f"No clinic with the slug '{slug}'.")
    return clinic


def get_user(session: Session, clinic: Clinic, email: str) -> User:
    """The user of ``clinic`` with ``email``; 404 when there is none."""
    user = session.scalar(select(User).where(User.clinic_id == clinic.id, User.email == email))
    if user is None:
        raise NotFound(f"No user with that e-mail in clinic '{clinic.slug}'.")
    return user


def clinic_count(session: Session) -> int:
    """How many clinics exist."""
    return session.scalar(select(func.count()).select_from(Clinic)) or 0


def create_intake_key(session: Session, clinic: Clinic, *, label: str | None = None) -> Issued:
    """Issues a new intake key for ``clinic``."""
    new = secrets.generate(secrets.INTAKE_KEY)
    key = IntakeKey(
        public_id=new.public_id,
        clinic_id=clinic.id,
        label=label or None,
        secret_hash=new.secret_hash,
    )
    session.add(key)
    session.flush()
    _audit(session, clinic.id, "intake_key.create", "intake_key", key.id)
    return Issued(key.id, new.public_id, new.token, clinic.id)


def create_user(session: Session, clinic: Clinic, *, email: str, role: str) -> Issued:
    """Creates a clinician or admin of ``clinic`` and issues its first API token;
    422 on a bad email or role, 409 when the email is already a user of the clinic."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.fullmatch(email):
        raise Unprocessable({"email": ["Not an email address."]})
    if role not in USER_ROLES:
        raise Unprocessable({"role": [f"Must be one of: {', '.join(USER_ROLES)}."]})
    taken = select(User.id).where(User.clinic_id == clinic.id, User.email == email)
    if session.scalar(taken) is not None:
        raise Conflict("This email is already a user of the clinic.")
    user = User(clinic_id=clinic.id, email=email, role=role)
    session.add(user)
    _flush_or_conflict(session, "This email is already a user of the clinic.")
    _audit(session, clinic.id, "user.create", "user", user.id)
    return issue_user_token(session, user)


def issue_user_token(session: Session, user: User) -> Issued:
    """Issues another API token for ``user``."""
    new = secrets.generate(secrets.USER_TOKEN)
    token = ApiToken(public_id=new.public_id, user_id=user.id, secret_hash=new.secret_hash)
    session.add(token)
    session.flush()
    _audit(session, user.clinic_id, "api_token.create", "api_token", token.id)
    return Issued(token.id, new.public_id, new.token, user.id)


def revoke_intake_key(session: Session, public_id: str) -> None:
    """Revokes an intake key by its public id; 404 when unknown. Idempotent."""
    key = session.scalar(select(IntakeKey).where(IntakeKey.public_id == public_id))
    if key is None:
        raise NotFound("No intake key with this id.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        _audit(session, key.clinic_id, "intake_key.revoke", "intake_key", key.id)


def revoke_user_token(session: Session, public_id: str) -> None:
    """Revokes an API token by its public id; 404 when unknown. Idempotent."""
    row = session.execute(
        select(ApiToken, User.clinic_id)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("No API token with this id.")
    token, clinic_id = row
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        _audit(session, clinic_id, "api_token.revoke", "api_token", token.id)


def disable_user(session: Session, user_id: str) -> None:
    """Disables a user: every token of theirs stops working. Idempotent."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        _audit(session, user.clinic_id, "user.disable", "user", user.id)


def _flush_or_conflict(session: Session, message: str) -> None:
    """Flushes; a unique violation from a concurrent insert becomes a 409 (the caller
    must then roll back)."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def _audit(session: Session, clinic_id: str, action: str, object_type: str, oid: str) -> None:
    unit_of_work.of(session).audit(clinic_id=clinic_id,
        actor_type="system",
        actor_id=None,
        action=action,
        object_type=object_type,
        object_id=oid,
    )
