"""Settings from the environment (spec §2 table): defaults, overrides, fail-fast errors
that name the variable but never its value."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from screening import create_app
from screening.config.settings import ConfigError, Settings, settings_from_environment
from screening.storage.db import app_state


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({}, tmp_path / "instance")
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'screening.db'}"
    assert (tmp_path / "instance").is_dir()
    assert settings.rate_limit == "120/minute"
    assert settings.claim_lease_minutes == 15
    assert settings.redis_url is None
    assert settings.log_level == "INFO"
    assert settings.trusted_proxies == 0


def test_values_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:pw@db.internal:5432/screening",
            "RATE_LIMIT": "10/second",
            "CLAIM_LEASE_MINUTES": "30",
            "REDIS_URL": "redis://cache:6379/0",
            "LOG_LEVEL": "debug",
        },
        tmp_path,
    )
    assert settings.database_url == "postgresql+psycopg://app:pw@db.internal:5432/screening"
    assert settings.rate_limit == "10/second"
    assert settings.claim_lease_minutes == 30
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize("value", ["off", "OFF", " off "])
def test_rate_limit_off(tmp_path: Path, value: str) -> None:
    assert Settings.from_env({"RATE_LIMIT": value}, tmp_path).rate_limit is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root:hunter2@db/x"),
        ("DATABASE_URL", "not a url at all hunter2"),
        ("DATABASE_URL", "sqlite://"),
        ("RATE_LIMIT", "lots-hunter2"),
        # One window is counted: a second limit would be dropped without a word.
        ("RATE_LIMIT", "10/second;1000/day"),
        ("CONSOLE_LOGIN_LIMIT", "5/minute;50/hour"),
        ("CLAIM_LEASE_MINUTES", "0"),
        ("CLAIM_LEASE_MINUTES", "fifteen"),
        ("REDIS_URL", "http://hunter2@cache"),
        ("LOG_LEVEL", "chatty"),
        ("TRUSTED_PROXIES", "-1hunter2"),
        ("TRUSTED_PROXIES", "6"),
        ("TRUSTED_PROXIES", "²"),
    ],
)
def test_bad_values_fail_naming_the_variable_not_the_value(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value}, tmp_path)
    assert variable in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_create_app_fails_fast_on_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="CLAIM_LEASE_MINUTES"):
        create_app({"CLAIM_LEASE_MINUTES": "-1"})


def test_environment_is_read_and_the_mapping_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIM_LEASE_MINUTES", "20")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    settings = settings_from_environment({"LOG_LEVEL": "ERROR"}, tmp_path)
    assert (settings.claim_lease_minutes, settings.log_level) == (20, "ERROR")


def test_app_keeps_settings_and_database_and_flask_config(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "RATE_LIMIT": "off", "TESTING": True})
    try:
        state = app_state(app)
        assert state.settings.database_url == database_url
        assert state.db.url == database_url
        assert app.config["TESTING"] is True
        assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
        assert "DATABASE_URL" not in app.config
    finally:
        app_state(app).db.dispose()


@pytest.mark.parametrize(("trusted", "expected"), [("0", ["unknown", "unknown"]),
                                                    ("1", ["203.0.113.7", "198.51.100.9"])],
                         ids=["no proxy: forwarded headers ignored",
                              "one proxy: its X-Forwarded-For names the client"])
def test_trusted_proxies_decide_whose_address_counts(
    make_app: Any, trusted: str, expected: list[str]
) -> None:
    from flask import Blueprint, jsonify, request

    from screening.web.auth import public

    probe = Blueprint("probe", __name__)

    @probe.get("/probe/address")
    @public
    def address() -> Any:
        return jsonify(addr=request.remote_addr or "unknown")

    app = make_app(TRUSTED_PROXIES=trusted, api_blueprints=[probe])
    client = app.test_client()
    seen = [
        client.get("/api/v1/probe/address", environ_base={"REMOTE_ADDR": "unknown"},
                   headers={"X-Forwarded-For": forwarded}).get_json()["addr"]
        for forwarded in ("203.0.113.7", "192.0.2.1, 198.51.100.9")
    ]
    assert seen == expected


# -- AUDIT_SIGNING_KEY ---------------------------------------------------------------------

def test_unset_audit_signing_key_is_generated_once_private_and_kept(tmp_path: Path) -> None:
    first = Settings.from_env({}, tmp_path / "instance")
    key_file = tmp_path / "instance" / "audit_signing_key"
    assert len(first.audit_signing_key) == 32
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({}, tmp_path / "instance").audit_signing_key == first.audit_signing_key
    assert "audit_signing_key=" not in repr(first)


def test_audit_signing_key_from_the_environment_wins(tmp_path: Path) -> None:
    seed = bytes(range(32))
    settings = Settings.from_env({"AUDIT_SIGNING_KEY": base64.b64encode(seed).decode()},
                                 tmp_path)
    assert settings.audit_signing_key == seed
    assert not (tmp_path / "audit_signing_key").exists()


@pytest.mark.parametrize("value", ["hunter2", base64.b64encode(b"hunter2" * 4).decode(),
                                   "aHVudGVyMg=="])
def test_bad_audit_signing_key_names_the_variable_not_the_value(tmp_path: Path,
                                                                value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"AUDIT_SIGNING_KEY": value}, tmp_path)
    assert "AUDIT_SIGNING_KEY" in str(raised.value)
    assert value not in str(raised.value) and "hunter2" not in str(raised.value)
