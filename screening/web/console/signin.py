"""Console sign-in use cases on the caller's session (no Flask): password check, TOTP
enrolment and verification with replay protection, signing out everywhere, setting a
password. Like every service these flush and never commit.

Sign-in is two steps: an e-mail and password (``check_password``), then a TOTP code
(``confirm_enrolment`` the first time, ``verify_code`` after). Every refusal and the final
success are audited as ``console.login`` (``denied`` / ``success``); the e-mail typed is
never recorded: a refused password names the accounts it was tried on (by id, in their
clinics' logs) with an anonymous actor, a refused code names its user as the actor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from screening.errors import NotFound, Unprocessable
from screening.storage import unit_of_work
from screening.storage.models import Clinic, User
from screening.web.console import passwords, totp

LOGIN_ACTION = "console.login"
LOGOUT_ACTION = "console.logout"
ENROL_ACTION = "console.totp_enrol"


class Refusal(StrEnum):
    """Why the password step refused (shown to the person as one neutral sentence,
    except ``AMBIGUOUS``, which asks for the clinic)."""

    INVALID = "invalid"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused password step: why, and the accounts the e-mail names as
    (clinic id, user id), so each clinic's audit log shows the attempt on its user."""

    reason: Refusal
    accounts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Account:
    """A user whose password matched: the second factor comes next."""

    user_id: str
    clinic_id: str
    enrolled: bool


def _candidates(session: Session, email: str, clinic_slug: str | None) -> list[User]:
    query = select(User).where(User.email == email.strip().lower(), User.disabled_at.is_(None))
    if clinic_slug:
        query = query.join(Clinic, Clinic.id == User.clinic_id).where(
            Clinic.slug == clinic_slug.strip().lower()
        )
    return list(session.scalars(query))


def check_password(
    session: Session, email: str, password: str, clinic_slug: str | None = None
) -> Account | Refused:
    """The account ``email`` + ``password`` open, or why not.

    An e-mail may be a user of several clinics; every candidate's hash is checked (at
    least one argon2 verification even when there is none) and exactly one must match,
    else the clinic must be named.

    It only reads, so ``session`` should be a read session: each argon2 check takes tens
    of milliseconds, and on SQLite an open write transaction would keep every other
    writer (ingest included) waiting that long. A hash made with weaker parameters than
    today's is replaced by a queued update (``_upgrade_hash``) that commits with the
    unit's other writes.
    """
    candidates = _candidates(session, email, clinic_slug)
    matched = [user for user in candidates if passwords.verify(user.password_hash, password)]
    if not candidates:
        passwords.verify(None, password)
    if len(matched) != 1:
        named = tuple((user.clinic_id, user.id) for user in candidates)
        return Refused(Refusal.AMBIGUOUS if matched else Refusal.INVALID, named)
    user = matched[0]
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        _upgrade_hash(session, user, password)
    return Account(user.id, user.clinic_id, user.totp_confirmed_at is not None)


_REPLACE_HASH = (
    update(User.__table__)
    .where(User.__table__.c.id == bindparam("user_id"),
           User.__table__.c.password_hash == bindparam("old_hash"))
    .values(password_hash=bindparam("new_hash")))


def _upgrade_hash(session: Session, user: User, password: str) -> None:
    """Queues the replacement of ``user``'s outdated hash by one of today's parameters,
    unless the password was changed meanwhile (the update then matches no row)."""
    unit_of_work.of(session).execute(_REPLACE_HASH, {
        "user_id": user.id, "old_hash": user.password_hash,
        "new_hash": passwords.hash_password(password)})


def active_user(session: Session, user_id: str, *, lock: bool = False) -> User | None:
    """The user, unless unknown, disabled or without a console password."""
    user = session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None or user.disabled_at is not None or user.password_hash is None:
        return None
    return user


def enrolment_secret(user: User) -> str:
    """The TOTP secret to show while enrolling: made once, kept until confirmed."""
    if user.totp_confirmed_at is not None:
        raise ValueError("the second factor is already enrolled")
    if not user.totp_secret:
        user.totp_secret = totp.new_secret()
    return user.totp_secret


def confirm_enrolment(session: Session, user: User, code: str, now: dt.datetime,
                      request_id: str | None) -> bool:
    """Confirms the pending secret with a first valid code (audited on success)."""
    if user.totp_confirmed_at is not None or not user.totp_secret:
        return False
    if not _accept(user, code, now):
        return False
    user.totp_confirmed_at = now
    _audit(session, user.clinic_id, user.id, ENROL_ACTION, "success", request_id)
    return True


def verify_code(user: User, code: str, now: dt.datetime) -> bool:
    """True for a valid code of the enrolled secret that was not used before; the
    caller must have the user row locked (``active_user(lock=True)``)."""
    if user.totp_confirmed_at is None or not user.totp_secret:
        return False
    return _accept(user, code, now)


def _accept(user: User, code: str, now: dt.datetime) -> bool:
    step = totp.match_step(user.totp_secret or "", code, now.timestamp(), user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def sign_out_everywhere(session: Session, user: User, request_id: str | None) -> None:
    """Voids every console session of ``user`` (their cookies carry the old generation)."""
    user.session_generation += 1
    _audit(session, user.clinic_id, user.id, LOGOUT_ACTION, "success", request_id)


def record_login(session: Session, *, clinic_id: str, user_id: str, success: bool,
                 request_id: str | None) -> None:
    """Audits one sign-in outcome of ``user_id`` (who passed the password step)."""
    _audit(session, clinic_id, user_id, LOGIN_ACTION, "success" if success else "denied",
           request_id)


def record_refusal(session: Session, refused: Refused, request_id: str | None) -> None:
    """Audits a refused password step: one ``denied`` event by an anonymous actor about
    each account the e-mail names (one without clinic or object when it names none)."""
    for clinic_id, user_id in refused.accounts or ((None, None),):
        unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type="anonymous", actor_id=None,
                     action=LOGIN_ACTION, object_type="user" if user_id else None,
                     object_id=user_id, outcome="denied", request_id=request_id)


def set_password(session: Session, user_id: str, password: str) -> None:
    """Sets a user's console password (422 when too short or too long); signs out their
    console sessions."""
    errors = passwords.policy_errors(password)
    if errors:
        raise Unprocessable({"password": errors})
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    user.password_hash = passwords.hash_password(password)
    user.session_generation += 1
    session.flush()
    unit_of_work.of(session).audit(clinic_id=user.clinic_id, actor_type="system", actor_id=None,
                 action="user.password_set", object_type="user", object_id=user.id)


def reset_totp(session: Session, user_id: str) -> None:
    """Forgets a user's TOTP device (lost or replaced phone): the next console sign-in
    enrols a new one. Signs out their console sessions."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.session_generation += 1
    session.flush()
    unit_of_work.of(session).audit(clinic_id=user.clinic_id, actor_type="system", actor_id=None,
                 action="user.totp_reset", object_type="user", object_id=user.id)


def _audit(session: Session, clinic_id: str, user_id: str, action: str, outcome: str,
           request_id: str | None) -> None:
    unit_of_work.of(session).audit(clinic_id=clinic_id, actor_type="user", actor_id=user_id,
                 action=action, object_type="user", object_id=user_id, outcome=outcome,
                 request_id=request_id)
