"""Console sessions and CSRF on Flask's signed cookie session.

The cookie (``__Host-`` prefixed: Secure, Path=/, no Domain; HttpOnly; SameSite=Strict)
holds a CSRF token and either a half-done sign-in (``pending``: the account whose password
matched, for ``PENDING_SECONDS``) or a signed-in user (``uid``, the user's session
``gen``eration, ``auth_at`` and ``seen``). Signing in clears the session and starts a new
one with a new CSRF token, so nothing of the anonymous session survives.

A signed-in session is refused (and cleared) when the user is disabled or has no console
password any more, when the user signed out since (generation bumped), when idle for longer
than ``CONSOLE_IDLE_MINUTES`` (``seen`` is refreshed by every request) or when older than
``MAX_SESSION_HOURS``. The cookie is signed, not encrypted: it holds ids and times only.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from flask import Flask, Request, abort, g, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from screening.storage.db import app_state
from screening.storage.unit_of_work import get_session
from screening.web.auth import Principal
from screening.web.console import signin
from screening.web.errors import CONSOLE_PATH, under

COOKIE_NAME = "__Host-screening-console"
CSRF_FIELD = "csrf_token"
PENDING_SECONDS = 5 * 60
MAX_SESSION_HOURS = 12


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in clinician or admin; satisfies ``services.submissions.Actor``."""

    user_id: str
    clinic_id: str
    role: str
    email: str
    kind: str = "user"

    @property
    def actor_id(self) -> str:
        """The audit actor: the user."""
        return self.user_id

    @property
    def is_admin(self) -> bool:
        """True for admins (who may also read the audit log)."""
        return self.role == "admin"


class ConsoleSessions(SecureCookieSessionInterface):
    """The session cookie belongs to the console: other paths (the bearer-only JSON API)
    get a null session, so their requests skip the cookie's signature check and a view
    that tried to use a session would fail loudly."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if not under(request.path, CONSOLE_PATH):
            return self.make_null_session(app)
        return super().open_session(app, request)


def configure_cookie(app: Flask) -> None:
    """Cookie flags of the session that only the console uses."""
    app.secret_key = app_state(app).settings.secret_key
    app.session_interface = ConsoleSessions()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
    )


def csrf_token() -> str:
    """This session's CSRF token (made on first use); every form carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf(submitted: str | None) -> None:
    """400 unless ``submitted`` equals the session's token (constant-time)."""
    expected = session.get("csrf")
    if not (isinstance(expected, str) and submitted):
        abort(400, description="csrf")
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        abort(400, description="csrf")


def _restart(**values: object) -> None:
    session.clear()
    session.update(values)
    session["csrf"] = secrets.token_urlsafe(32)


def start_pending(account: signin.Account) -> None:
    """After the password step: a fresh session that remembers only whose second factor
    is awaited."""
    _restart(pending={"uid": account.user_id, "since": time.time()})


def pending_user_id() -> str | None:
    """The account awaiting its second factor, unless that wait has expired."""
    pending = session.get("pending")
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("since", 0)) > PENDING_SECONDS:
        return None
    user_id = pending.get("uid")
    return user_id if isinstance(user_id, str) else None


def complete_sign_in(user_id: str, generation: int) -> None:
    """After the second factor: a fresh, signed-in session."""
    now = time.time()
    _restart(uid=user_id, gen=generation, auth_at=now, seen=now)


def sign_out() -> None:
    """Forgets the session (the cookie is emptied)."""
    session.clear()


def idle_seconds() -> float:
    """How long a session may stay unused."""
    return app_state().settings.console_idle_minutes * 60


def signed_in_user() -> ConsoleUser | None:
    """The user of a live session (and marks it seen), else None; a dead session is
    cleared. A session that was signed in and died sets ``g.console_session_ended``."""
    user_id = session.get("uid")
    if not isinstance(user_id, str):
        return None
    user = signin.active_user(get_session(), user_id)
    now = time.time()
    live = (
        user is not None
        and session.get("gen") == user.session_generation
        and now - float(session.get("seen", 0)) <= idle_seconds()
        and now - float(session.get("auth_at", 0)) <= MAX_SESSION_HOURS * 3600
    )
    if not live or user is None:
        session.clear()
        g.console_session_ended = True
        return None
    session["seen"] = now
    return ConsoleUser(user.id, user.clinic_id, user.role, user.email)


def principal_of(user: ConsoleUser) -> Principal:
    """The request's ``g.principal`` (the access log names its kind and clinic)."""
    return Principal(kind="user", id=user.user_id, clinic_id=user.clinic_id, role=user.role,
                     user_id=user.user_id)
