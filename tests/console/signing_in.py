"""Helpers that sign in to the console the way a person does: read the CSRF token from
the form, post e-mail and password, read the TOTP secret from the enrolment page and
answer with the current code (computed by ``screening.web.console.totp``)."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.services import accounts
from screening.storage.models import Clinic, User
from screening.storage.unit_of_work import session_scope
from screening.web.console import signin, totp

SECRET_KEY = "console-tests-" + "k" * 40
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')


@dataclass(slots=True)
class ConsoleLogin:
    """A console user and what signing in needs; ``secret`` once enrolled."""

    user_id: str
    clinic_id: str
    email: str
    password: str = PASSWORD
    secret: str | None = None
    last_step: int | None = None


def add_console_user(app: Flask, slug: str, email: str, role: str,
                     password: str = PASSWORD) -> ConsoleLogin:
    """A new user of clinic ``slug`` with a console password, made as the CLI makes it."""
    with session_scope(app) as session:
        clinic = accounts.get_clinic(session, slug)
        issued = accounts.create_user(session, clinic, email=email, role=role)
        signin.set_password(session, issued.owner_id, password)
        clinic_id = session.get_one(Clinic, clinic.id).id
    return ConsoleLogin(issued.owner_id, clinic_id, email, password)


def csrf_of(response: TestResponse) -> str:
    """The CSRF token of the (first) form on a page."""
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, "no CSRF field on the page"
    return html.unescape(match.group(1))


def next_code(login: ConsoleLogin) -> str:
    """A valid code not used before: the current step's, or the next step's when the
    current one was used (still within the accepted drift)."""
    assert login.secret is not None
    step = totp.time_step(time.time())
    if login.last_step is not None and step <= login.last_step:
        step = login.last_step + 1
    login.last_step = step
    return totp.code_at(login.secret, step)


def post_password(client: FlaskClient, login: ConsoleLogin, **extra: str) -> TestResponse:
    """Opens the sign-in page and posts e-mail and password."""
    token = csrf_of(client.get("/console/login"))
    form = {"csrf_token": token, "email": login.email, "password": login.password, **extra}
    return client.post("/console/login", data=form)


def sign_in(client: FlaskClient, login: ConsoleLogin) -> TestResponse:
    """Signs in completely (enrolling the second factor on the first sign-in); answers
    the response to the code step (a redirect to the queue)."""
    response = post_password(client, login)
    assert response.status_code == 303, response.status_code
    if response.headers["Location"].endswith("/enrol"):
        page = client.get("/console/login/enrol")
        match = _SECRET.search(page.get_data(as_text=True))
        assert match, "no secret on the enrolment page"
        login.secret = match.group(1).replace(" ", "")
        form = {"csrf_token": csrf_of(page), "code": next_code(login)}
        return client.post("/console/login/enrol", data=form)
    page = client.get("/console/login/code")
    return client.post("/console/login/code",
                       data={"csrf_token": csrf_of(page), "code": next_code(login)})


def stored_user(app: Flask, user_id: str) -> User:
    """The user row as stored now."""
    with session_scope(app, write=False) as session:
        return session.get_one(User, user_id)
