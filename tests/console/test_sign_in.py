"""Console sign-in over HTTP: password then TOTP (enrolment first), session cookie flags,
rotation, idle timeout, sign-out, CSRF, throttling, and the audit trail of each step."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening.services import accounts
from screening.storage.db import app_state
from screening.storage.models import AuditEvent, User
from screening.storage.unit_of_work import session_scope
from screening.web.console import guard, passwords, signin, totp
from tests.console.signing_in import (
    ConsoleLogin,
    add_console_user,
    csrf_of,
    next_code,
    post_password,
    sign_in,
    stored_user,
)

COOKIE = "__Host-screening-console"
PROTECTED_PAGES = ["/console/", "/console/queue", "/console/audit",
                   "/console/submissions/00000000-0000-4000-8000-000000000000"]


def login_events(app: Flask) -> list[AuditEvent]:
    with session_scope(app, write=False) as session:
        query = select(AuditEvent).where(AuditEvent.action.like("console.%"))
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_first_sign_in_enrols_totp_with_secret_and_qr_code_then_opens_the_queue(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    response = post_password(console_client, clinician_login)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login/enrol"
    page = console_client.get("/console/login/enrol")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="totp-secret"' in body and "<svg" in body
    assert console_client.get("/console/queue").status_code == 303  # not signed in yet

    finished = sign_in(console_client, clinician_login)  # enrols from the page
    assert finished.status_code == 303 and finished.headers["Location"] == "/console/queue"
    assert console_client.get("/console/queue").status_code == 200
    user = stored_user(console_app, clinician_login.user_id)
    assert user.totp_confirmed_at is not None and user.totp_secret == clinician_login.secret
    assert [(e.action, e.outcome, e.actor_id) for e in login_events(console_app)] == [
        ("console.totp_enrol", "success", clinician_login.user_id),
        ("console.login", "success", clinician_login.user_id),
    ]


def test_session_cookie_is_host_only_secure_httponly_samesite_strict(
    console_client: FlaskClient,
) -> None:
    cookie = console_client.get("/console/login").headers["Set-Cookie"]
    assert cookie.startswith(COOKIE + "=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Domain=" not in cookie and "Expires=" not in cookie


def test_sign_in_starts_a_new_session_with_a_new_csrf_token(
    console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    anonymous_token = csrf_of(console_client.get("/console/login"))
    sign_in(console_client, clinician_login)
    signed_in_token = csrf_of(console_client.get("/console/queue"))
    assert signed_in_token != anonymous_token


def test_wrong_password_is_refused_and_audited_without_the_email(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    clinician_login.password = "not the password at all"
    response = post_password(console_client, clinician_login)
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "not right" in body and "not the password at all" not in body
    [event] = login_events(console_app)
    assert (event.action, event.outcome, event.actor_type, event.actor_id) == (
        "console.login", "denied", "anonymous", None)
    assert (event.clinic_id, event.object_type, event.object_id) == (
        clinician_login.clinic_id, "user", clinician_login.user_id)


def test_an_unknown_email_is_refused_alike_and_audited_without_clinic(
    console_app: Flask, console_client: FlaskClient, clinic: object
) -> None:
    login = ConsoleLogin("", "", "nobody@alpha.example", "some password here")
    response = post_password(console_client, login)
    assert response.status_code == 403 and "not right" in response.get_data(as_text=True)
    [event] = login_events(console_app)
    assert (event.outcome, event.clinic_id, event.actor_id, event.object_id) == (
        "denied", None, None, None)


def test_wrong_totp_code_is_refused_and_audited_then_the_right_one_signs_in(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    console_client.post("/console/logout",
                        data={"csrf_token": csrf_of(console_client.get("/console/queue"))})
    post_password(console_client, clinician_login)
    page = console_client.get("/console/login/code")
    right = next_code(clinician_login)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = console_client.post("/console/login/code",
                                  data={"csrf_token": csrf_of(page), "code": wrong})
    assert refused.status_code == 403
    assert console_client.get("/console/queue").status_code == 303
    accepted = console_client.post("/console/login/code",
                                   data={"csrf_token": csrf_of(page), "code": right})
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/console/queue"
    outcomes = [(e.action, e.outcome) for e in login_events(console_app)]
    assert outcomes[-2:] == [("console.login", "denied"), ("console.login", "success")]


def test_a_used_code_is_refused_the_second_time(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    used = stored_user(console_app, clinician_login.user_id).totp_last_step
    assert used is not None
    console_client.post("/console/logout",
                        data={"csrf_token": csrf_of(console_client.get("/console/queue"))})
    post_password(console_client, clinician_login)
    page = console_client.get("/console/login/code")
    replay = totp.code_at(clinician_login.secret or "", used)
    response = console_client.post("/console/login/code",
                                   data={"csrf_token": csrf_of(page), "code": replay})
    assert response.status_code == 403


@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_a_form_without_the_sessions_csrf_token_is_refused(
    console_client: FlaskClient, clinician_login: ConsoleLogin, token: str | None
) -> None:
    console_client.get("/console/login")
    form = {"email": clinician_login.email, "password": clinician_login.password}
    if token is not None:
        form["csrf_token"] = token
    response = console_client.post("/console/login", data=form)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "security token" in response.get_data(as_text=True)


def test_csrf_is_checked_on_signed_in_actions_too(
    console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    assert console_client.post("/console/queue/next").status_code == 400
    assert console_client.post("/console/logout").status_code == 400
    assert console_client.get("/console/queue").status_code == 200  # still signed in


def test_idle_session_is_refused_and_sent_to_sign_in(
    make_app: Callable[..., Flask], clinic: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(SECRET_KEY="s" * 40, CONSOLE_IDLE_MINUTES="1")
    client = app.test_client()
    login = add_console_user(app, "alpha", "idle@alpha.example", "clinician")
    sign_in(client, login)
    # The guard's clock is moved on (a real wait would slow the suite, and a limit short
    # enough to wait out could expire on a loaded machine before the first page).
    start = time.time()

    def at(seconds: float) -> None:
        monkeypatch.setattr(guard, "time", SimpleNamespace(time=lambda: start + seconds))

    at(59)
    assert client.get("/console/queue").status_code == 200  # idle 59 s of 60
    at(118)
    assert client.get("/console/queue").status_code == 200  # the last page reset the clock
    at(179)
    expired = client.get("/console/queue")  # idle 61 s
    assert expired.status_code == 303 and expired.headers["Location"] == "/console/login"
    assert "session has ended" in client.get("/console/login").get_data(as_text=True)
    assert client.get("/console/queue").status_code == 303


def test_signing_out_voids_every_copy_of_the_cookie(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    stolen = console_client.get_cookie(COOKIE)
    assert stolen is not None
    response = console_client.post(
        "/console/logout", data={"csrf_token": csrf_of(console_client.get("/console/queue"))})
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    other = console_app.test_client()
    other.set_cookie(COOKIE, stolen.value, domain=stolen.domain, path="/")
    assert other.get("/console/queue").status_code == 303
    assert [e.action for e in login_events(console_app)][-1] == "console.logout"


def test_a_disabled_user_is_signed_out_at_the_next_request(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    with session_scope(console_app) as session:
        accounts.disable_user(session, clinician_login.user_id)
    assert console_client.get("/console/queue").status_code == 303


def test_an_unfinished_sign_in_expires(
    console_client: FlaskClient, clinician_login: ConsoleLogin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post_password(console_client, clinician_login)
    monkeypatch.setattr(guard, "PENDING_SECONDS", -1)
    response = console_client.get("/console/login/enrol")
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"


def test_password_attempts_are_limited_per_address_and_email(
    make_app: Callable[..., Flask], clinic: object
) -> None:
    app = make_app(SECRET_KEY="s" * 40, CONSOLE_LOGIN_LIMIT="3/minute")
    client = app.test_client()
    login = add_console_user(app, "alpha", "guessed@alpha.example", "clinician")
    login.password = "wrong password guess"
    statuses = [post_password(client, login).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]
    limited = post_password(client, login)
    assert limited.mimetype == "text/html" and int(limited.headers["Retry-After"]) >= 1
    other = add_console_user(app, "alpha", "other@alpha.example", "clinician")
    assert post_password(client, other).status_code == 303  # another e-mail is not held up


def test_code_attempts_are_limited_per_account(
    make_app: Callable[..., Flask], clinic: object
) -> None:
    app = make_app(SECRET_KEY="s" * 40, CONSOLE_LOGIN_LIMIT="3/minute")
    client = app.test_client()
    login = add_console_user(app, "alpha", "mfa@alpha.example", "clinician")
    post_password(client, login)
    page = client.get("/console/login/enrol")
    statuses = [client.post("/console/login/enrol",
                            data={"csrf_token": csrf_of(page), "code": "000000"}).status_code
                for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_an_email_in_two_clinics_needs_the_clinic_code(
    console_app: Flask, console_client: FlaskClient, clinic: object,
    make_clinic: Callable[..., object],
) -> None:
    make_clinic("beta")
    alpha = add_console_user(console_app, "alpha", "shared@example.org", "clinician")
    beta = add_console_user(console_app, "beta", "shared@example.org", "clinician")
    ambiguous = post_password(console_client, alpha)
    assert ambiguous.status_code == 403
    assert "Clinic code" in ambiguous.get_data(as_text=True)
    chosen = post_password(console_client, beta, clinic="beta")
    assert chosen.status_code == 303
    page = console_client.get("/console/login/enrol")
    assert page.status_code == 200
    assert stored_user(console_app, beta.user_id).totp_secret is not None
    assert stored_user(console_app, alpha.user_id).totp_secret is None


def test_a_user_without_a_console_password_cannot_sign_in(
    console_client: FlaskClient, clinic: object
) -> None:
    login = ConsoleLogin("", "", "clinician@alpha.example", "any password at all")
    assert post_password(console_client, login).status_code == 403


@pytest.mark.parametrize("path", PROTECTED_PAGES)
def test_every_page_but_sign_in_needs_a_signed_in_session(
    console_client: FlaskClient, path: str
) -> None:
    response = console_client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login"


def test_signed_in_user_visiting_sign_in_goes_to_the_queue(
    console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    sign_in(console_client, clinician_login)
    response = console_client.get("/console/login")
    assert response.status_code == 303 and response.headers["Location"] == "/console/queue"


def test_a_hash_with_older_parameters_is_redone_at_sign_in(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with session_scope(console_app) as session:
        user = session.get_one(User, clinician_login.user_id)
        user.password_hash = old.hash(clinician_login.password)
    assert post_password(console_client, clinician_login).status_code == 303
    renewed = stored_user(console_app, clinician_login.user_id).password_hash or ""
    assert "m=19456,t=2,p=1" in renewed


def test_the_password_check_holds_no_write_lock_so_ingest_is_not_kept_waiting(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On SQLite one writer at a time commits: an argon2 check (tens of milliseconds)
    inside a write transaction would stop every submission for that long."""
    writers = app_state(console_app).db.writers
    if writers is None:
        pytest.skip("PostgreSQL writers share no lock")
    free_during_check: list[bool] = []
    real_verify = passwords.verify

    def verify(stored_hash: str | None, password: str) -> bool:
        held = writers.attempt()
        free_during_check.append(held is not None)
        if held is not None:
            held.release()
        return real_verify(stored_hash, password)

    monkeypatch.setattr(passwords, "verify", verify)
    assert post_password(console_client, clinician_login).status_code == 303
    assert free_during_check == [True]
    assert [(e.action, e.outcome) for e in login_events(console_app)] == []


def test_a_password_changed_during_sign_in_is_not_overwritten_by_the_redone_hash(
    console_app: Flask, console_client: FlaskClient, clinician_login: ConsoleLogin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with session_scope(console_app) as session:
        user = session.get_one(User, clinician_login.user_id)
        user.password_hash = old.hash(clinician_login.password)
    real_verify = passwords.verify
    changed = "a new password, set by the admin"

    def verify_then_admin_changes_it(stored_hash: str | None, password: str) -> bool:
        matched = real_verify(stored_hash, password)
        with session_scope(console_app) as session:
            signin.set_password(session, clinician_login.user_id, changed)
        return matched

    monkeypatch.setattr(passwords, "verify", verify_then_admin_changes_it)
    assert post_password(console_client, clinician_login).status_code == 303
    stored = stored_user(console_app, clinician_login.user_id).password_hash
    assert real_verify(stored, changed)
    assert not real_verify(stored, clinician_login.password)
