"""Console settings: the session signing key (``SECRET_KEY``, else generated once into
the instance folder, private), the idle timeout and the sign-in limit; bad values fail at
start-up naming the variable, never its value."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask, request

from screening.config.settings import ConfigError, Settings


def test_unset_secret_key_is_generated_once_private_and_kept(tmp_path: Path) -> None:
    first = Settings.from_env({}, tmp_path / "instance")
    key_file = tmp_path / "instance" / "secret_key"
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings.from_env({}, tmp_path / "instance").secret_key == first.secret_key
    assert [p.name for p in (tmp_path / "instance").iterdir() if p.name.startswith(".")] == []


def test_secret_key_from_the_environment_wins_and_is_not_in_the_repr(tmp_path: Path) -> None:
    settings = Settings.from_env({"SECRET_KEY": "e" * 40}, tmp_path)
    assert settings.secret_key == "e" * 40
    assert "eeee" not in repr(settings)
    assert not (tmp_path / "secret_key").exists()


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"SECRET_KEY": "e" * 40}, tmp_path)
    assert settings.console_idle_minutes == 15
    assert settings.console_login_limit == "10/minute"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECRET_KEY", "short-secret-value"),
        ("CONSOLE_IDLE_MINUTES", "0"),
        ("CONSOLE_IDLE_MINUTES", "-5"),
        ("CONSOLE_IDLE_MINUTES", "nan"),
        ("CONSOLE_IDLE_MINUTES", "1441"),
        ("CONSOLE_IDLE_MINUTES", "soon"),
        ("CONSOLE_LOGIN_LIMIT", "lots"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable_only(
    tmp_path: Path, variable: str, value: str
) -> None:
    environ = {"SECRET_KEY": "e" * 40, variable: value}
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ, tmp_path)
    assert variable in str(raised.value)
    assert "short-secret-value" not in str(raised.value)


def test_fractional_idle_minutes_are_allowed(tmp_path: Path) -> None:
    settings = Settings.from_env({"SECRET_KEY": "e" * 40, "CONSOLE_IDLE_MINUTES": "0.5"},
                                 tmp_path)
    assert settings.console_idle_minutes == 0.5


def test_an_unwritable_instance_folder_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"DATABASE_URL": "sqlite:///x.db"}, blocker / "instance")


@pytest.mark.parametrize(("path", "console"), [
    ("/console", True), ("/console/queue", True), ("/console/static/console.css", True),
    ("/api/v1/submissions", False), ("/health", False), ("/consoles", False),
])
def test_only_console_paths_open_the_session_cookie(app: Flask, path: str,
                                                    console: bool) -> None:
    """The JSON API is bearer-only: its requests get a null session."""
    with app.test_request_context(path):
        opened = app.session_interface.open_session(app, request)
        assert opened is not None
        assert app.session_interface.is_null_session(opened) is not console
