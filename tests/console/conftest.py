"""Fixtures for the console's HTTP tests: the API test fixtures (``tests.api.conftest``:
a migrated database, ``make_app``, clinics) plus console users with a password, and a
client that signs in through the real pages (password, then TOTP)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import *  # noqa: F403  (the API tests' fixtures, here too)
from tests.console.signing_in import SECRET_KEY, ConsoleLogin, add_console_user, sign_in


@pytest.fixture
def console_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with a fixed secret key and a sign-in limit no test reaches by accident."""
    return make_app(SECRET_KEY=SECRET_KEY, CONSOLE_LOGIN_LIMIT="1000/minute")


@pytest.fixture
def console_client(console_app: Flask) -> FlaskClient:
    """A browser-like client of ``console_app`` (keeps cookies)."""
    return console_app.test_client()


@pytest.fixture
def clinician_login(console_app: Flask, clinic: object) -> ConsoleLogin:
    """The clinic "alpha"'s clinician with a console password (no TOTP yet)."""
    return add_console_user(console_app, "alpha", "reviewer@alpha.example", "clinician")


@pytest.fixture
def reviewer(console_app: Flask, clinician_login: ConsoleLogin) -> FlaskClient:
    """A client signed in as ``clinician_login`` (TOTP enrolled on the way)."""
    client = console_app.test_client()
    sign_in(client, clinician_login)
    return client
