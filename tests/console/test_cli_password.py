"""``screening users create ... --password-stdin`` and the demo's console sign-in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from screening.cli import main
from screening.storage.models import AuditEvent, User
from screening.storage.unit_of_work import session_scope
from screening.web.console import passwords, signin

PASSWORD = "a sufficiently long passphrase"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs ``screening ARGS...`` with ``stdin`` on the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=stdin)

    return run


def user_by_email(app: Flask, email: str) -> User | None:
    with session_scope(app, write=False) as session:
        return session.scalar(select(User).where(User.email == email))


def test_password_from_stdin_is_stored_as_an_argon2_hash_and_never_printed(
    cli: Any, app: Flask
) -> None:
    assert cli("clinics", "create", "west", "--name", "West").exit_code == 0
    result = cli("users", "create", "west", "dr@west.example", "--role", "clinician",
                 "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("ut_")
    assert PASSWORD not in result.output
    user = user_by_email(app, "dr@west.example")
    assert user is not None and user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.verify(user.password_hash, PASSWORD)
    with session_scope(app, write=False) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-3:] == ["user.create", "api_token.create", "user.password_set"]


def test_without_the_option_the_user_has_no_console_password(cli: Any, app: Flask) -> None:
    cli("clinics", "create", "west", "--name", "West")
    assert cli("users", "create", "west", "api@west.example", "--role", "admin").exit_code == 0
    user = user_by_email(app, "api@west.example")
    assert user is not None and user.password_hash is None


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        pytest.param("short\n", "password: Use at least 12 characters.", id="too short"),
        pytest.param("", "standard input held no password", id="empty"),
    ],
)
def test_a_refused_password_creates_no_user(cli: Any, app: Flask, stdin: str,
                                            message: str) -> None:
    cli("clinics", "create", "west", "--name", "West")
    result = cli("users", "create", "west", "x@west.example", "--role", "clinician",
                 "--password-stdin", stdin=stdin)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert user_by_email(app, "x@west.example") is None


def test_demo_prints_a_console_sign_in_that_opens_the_clinicians_account(
    cli: Any, app: Flask
) -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.output
    match = re.search(r"console sign-in\s+clinician@demo\.example\s+password (\S+)",
                      result.stdout)
    assert match, result.stdout
    with session_scope(app) as session:
        account = signin.check_password(session, "clinician@demo.example", match.group(1))
    assert isinstance(account, signin.Account) and not account.enrolled


def test_set_password_replaces_the_console_password_and_ends_sessions(
    cli: Any, app: Flask
) -> None:
    cli("clinics", "create", "west", "--name", "West")
    cli("users", "create", "west", "dr@west.example", "--role", "clinician",
        "--password-stdin", stdin=PASSWORD + "\n")
    before = user_by_email(app, "dr@west.example")
    assert before is not None
    result = cli("users", "set-password", "west", "dr@west.example", "--password-stdin",
                 stdin="another long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "another long passphrase" not in result.output
    after = user_by_email(app, "dr@west.example")
    assert after is not None and after.password_hash is not None
    assert passwords.verify(after.password_hash, "another long passphrase")
    assert not passwords.verify(after.password_hash, PASSWORD)
    assert after.session_generation == before.session_generation + 1


def test_set_password_for_an_unknown_user_says_so_without_the_address(cli: Any) -> None:
    cli("clinics", "create", "west", "--name", "West")
    result = cli("users", "set-password", "west", "nobody@west.example", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert result.exit_code == 1
    assert "No user with that e-mail" in result.stderr
    assert "nobody@west.example" not in result.output
    assert "Traceback" not in result.output


def test_reset_totp_forgets_the_device_so_the_next_sign_in_enrols_again(
    cli: Any, app: Flask
) -> None:
    cli("clinics", "create", "west", "--name", "West")
    cli("users", "create", "west", "dr@west.example", "--role", "clinician",
        "--password-stdin", stdin=PASSWORD + "\n")
    with session_scope(app, write=True) as session:
        user = session.scalar(select(User).where(User.email == "dr@west.example"))
        assert user is not None
        user.totp_secret = "JBSWY3DPEHPK3PXP"
        user.totp_last_step = 1
    result = cli("users", "reset-totp", "west", "dr@west.example")
    assert result.exit_code == 0, result.output
    with session_scope(app) as session:
        account = signin.check_password(session, "dr@west.example", PASSWORD)
        assert isinstance(account, signin.Account) and not account.enrolled
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-1] == "user.totp_reset"
