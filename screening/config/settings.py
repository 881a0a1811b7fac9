"""Settings read from the environment once, at start-up; a bad value fails fast.

| variable              | default                                   |
|-----------------------|-------------------------------------------|
| `DATABASE_URL`        | `sqlite:///<instance folder>/screening.db` |
| `RATE_LIMIT`          | `120/minute` per credential; `off` disables |
| `CLAIM_LEASE_MINUTES` | `15` (integer >= 1)                        |
| `REDIS_URL`           | unset: rate-limit counters kept in memory  |
| `LOG_LEVEL`           | `INFO`                                     |
| `SECRET_KEY`          | unset: generated once into `<instance folder>/secret_key` (0600) |
| `CONSOLE_IDLE_MINUTES` | `15`: the review console signs out after this idle time |
| `CONSOLE_LOGIN_LIMIT` | `10/minute` console sign-in attempts per address and e-mail |
| `TRUSTED_PROXIES`     | `0`: how many reverse proxies' `X-Forwarded-For`/`-Proto` to trust |
| `AUDIT_SIGNING_KEY`   | unset: Ed25519 key generated into `<instance folder>/audit_signing_key` |
| `WEBHOOK_ALLOW_PRIVATE` | `0`: `1` lets webhooks reach private addresses and `http://` |
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from limits import parse_many
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from screening.errors import ScreeningError

DEFAULT_RATE_LIMIT = "120/minute"
DEFAULT_CLAIM_LEASE_MINUTES = 15
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENV_VARS = (
    "DATABASE_URL",
    "RATE_LIMIT",
    "CLAIM_LEASE_MINUTES",
    "REDIS_URL",
    "LOG_LEVEL",
    "SECRET_KEY",
    "CONSOLE_IDLE_MINUTES",
    "CONSOLE_LOGIN_LIMIT",
    "TRUSTED_PROXIES",
    "AUDIT_SIGNING_KEY",
    "WEBHOOK_ALLOW_PRIVATE",
)
SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_CHARS = 32
DEFAULT_CONSOLE_IDLE_MINUTES = 15.0
MAX_CONSOLE_IDLE_MINUTES = 24 * 60
DEFAULT_CONSOLE_LOGIN_LIMIT = "10/minute"
MAX_TRUSTED_PROXIES = 5
AUDIT_SIGNING_KEY_FILE = "audit_signing_key"
ED25519_SEED_BYTES = 32


class ConfigError(ScreeningError):
    """A configuration variable is missing or invalid. The message names the variable and
    never its value (URLs can hold passwords)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated service settings. ``rate_limit`` is ``None`` when limiting is off."""

    database_url: str
    rate_limit: str | None
    claim_lease_minutes: int
    redis_url: str | None
    log_level: str
    secret_key: str = field(default="", repr=False)
    console_idle_minutes: float = DEFAULT_CONSOLE_IDLE_MINUTES
    console_login_limit: str = DEFAULT_CONSOLE_LOGIN_LIMIT
    trusted_proxies: int = 0
    audit_signing_key: bytes = field(default=b"", repr=False)  # Ed25519 private seed
    webhook_allow_private: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, object], instance_path: str | Path) -> Settings:
        """Reads and validates every variable; raises ``ConfigError`` on the first bad one."""
        return cls(
            database_url=_database_url(environ.get("DATABASE_URL"), Path(instance_path)),
            rate_limit=_rate_limit(environ.get("RATE_LIMIT")),
            claim_lease_minutes=_claim_lease(environ.get("CLAIM_LEASE_MINUTES")),
            redis_url=_redis_url(environ.get("REDIS_URL")),
            log_level=_log_level(environ.get("LOG_LEVEL")),
            secret_key=_secret_key(environ.get("SECRET_KEY"), Path(instance_path)),
            console_idle_minutes=_idle_minutes(environ.get("CONSOLE_IDLE_MINUTES")),
            console_login_limit=_login_limit(environ.get("CONSOLE_LOGIN_LIMIT")),
            trusted_proxies=_trusted_proxies(environ.get("TRUSTED_PROXIES")),
            audit_signing_key=_audit_signing_key(environ.get("AUDIT_SIGNING_KEY"),
                                                 Path(instance_path)),
            webhook_allow_private=_allow_private(environ.get("WEBHOOK_ALLOW_PRIVATE")),
        )

    @property
    def is_sqlite(self) -> bool:
        """True when the database is an SQLite file."""
        return self.database_url.startswith("sqlite")


def settings_from_environment(
    overrides: Mapping[str, object] | None, instance_path: str | Path
) -> Settings:
    """Settings from ``os.environ``, with ``overrides`` (e.g. a test's mapping) winning."""
    merged: dict[str, object] = {name: os.environ[name] for name in ENV_VARS if name in os.environ}
    merged.update({k: v for k, v in (overrides or {}).items() if k in ENV_VARS})
    return Settings.from_env(merged, instance_path)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _database_url(value: object, instance_path: Path) -> str:
    text = _text(value)
    if text is None:
        instance_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_path / 'screening.db'}"
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid database URL") from None
    return _normalised_database_url(url).render_as_string(hide_password=False)


def _normalised_database_url(url: URL) -> URL:
    """Accepts `sqlite:///file` and `postgresql[+psycopg]://`; plain `postgresql` and
    `postgres` mean psycopg 3, the only PostgreSQL driver installed."""
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("DATABASE_URL must name an SQLite file (in-memory is not shared)")
        return url
    if backend in ("postgresql", "postgres") and driver in ("psycopg", "psycopg2", ""):
        return url.set(drivername="postgresql+psycopg")
    raise ConfigError("DATABASE_URL must be an sqlite:/// or postgresql+psycopg:// URL")


def _rate_limit(value: object) -> str | None:
    text = _text(value) or DEFAULT_RATE_LIMIT
    if text.lower() == "off":
        return None
    return _limit(text, "RATE_LIMIT must be a limit such as '120/minute' (or 'off')")


def _limit(text: str, problem: str) -> str:
    """``text`` when it is one rate limit such as '10/minute'; else ``ConfigError(problem)``
    (one window is counted: a second limit, '10/second;1000/day', would be ignored)."""
    try:
        limits = parse_many(text)
    except ValueError:
        raise ConfigError(problem) from None
    if len(limits) != 1:
        raise ConfigError(problem)
    return text


def _claim_lease(value: object) -> int:
    text = _text(value)
    if text is None:
        return DEFAULT_CLAIM_LEASE_MINUTES
    try:
        minutes = int(text)
    except ValueError:
        raise ConfigError("CLAIM_LEASE_MINUTES must be a whole number of minutes") from None
    if minutes < 1:
        raise ConfigError("CLAIM_LEASE_MINUTES must be at least 1")
    return minutes


def _trusted_proxies(value: object) -> int:
    text = _text(value)
    if text is None:
        return 0
    # isdigit() alone admits "²", which int() then rejects with a bare ValueError.
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_TRUSTED_PROXIES:
        raise ConfigError(
            f"TRUSTED_PROXIES must be a whole number from 0 to {MAX_TRUSTED_PROXIES}"
        )
    return int(text)


def _redis_url(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    return text


def _log_level(value: object) -> str:
    level = (_text(value) or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return level


def _secret_key(value: object, instance_path: Path) -> str:
    """The key that signs console session cookies: ``SECRET_KEY``, else one generated once
    and kept in the instance folder so restarts (and every worker) keep the sessions."""
    text = _text(value)
    if text is not None:
        if len(text) < MIN_SECRET_KEY_CHARS:
            raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_CHARS} characters")
        return text
    try:
        return _instance_secret_key(instance_path)
    except OSError:
        raise ConfigError(
            "SECRET_KEY is unset and the instance folder cannot hold a generated one"
        ) from None


def _instance_secret_key(instance_path: Path) -> str:
    key = _instance_file(instance_path, SECRET_KEY_FILE, lambda: secrets.token_urlsafe(48))
    if len(key) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(f"the instance folder's {SECRET_KEY_FILE} file is too short")
    return key


def _instance_file(instance_path: Path, name: str, make: Callable[[], str]) -> str:
    """The text of ``<instance folder>/<name>``, first written (mode 0600) with ``make()``
    if the file does not exist."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # Written to a private temporary file, then linked: concurrent workers starting at
        # once either create the file whole or find the other's, never a half-written one.
        temporary = instance_path / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(make())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text(encoding="ascii").strip()


def _audit_signing_key(value: object, instance_path: Path) -> bytes:
    """The Ed25519 private key (its 32-byte seed, base64) that signs audit checkpoints:
    ``AUDIT_SIGNING_KEY``, else one generated once into the instance folder."""
    text = _text(value)
    source = "AUDIT_SIGNING_KEY"
    if text is None:
        source = f"the instance folder's {AUDIT_SIGNING_KEY_FILE} file"
        try:
            text = _instance_file(instance_path, AUDIT_SIGNING_KEY_FILE, lambda: base64.b64encode(
                secrets.token_bytes(ED25519_SEED_BYTES)).decode("ascii"))
        except OSError:
            raise ConfigError("AUDIT_SIGNING_KEY is unset and the instance folder cannot "
                              "hold a generated one") from None
    try:
        seed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != ED25519_SEED_BYTES:
        raise ConfigError(f"{source} must be an Ed25519 private key: "
                          f"{ED25519_SEED_BYTES} bytes, base64")
    return seed


def _idle_minutes(value: object) -> float:
    text = _text(value)
    if text is None:
        return DEFAULT_CONSOLE_IDLE_MINUTES
    try:
        minutes = float(text)
    except ValueError:
        raise ConfigError("CONSOLE_IDLE_MINUTES must be a number of minutes") from None
    if not 0 < minutes <= MAX_CONSOLE_IDLE_MINUTES:
        raise ConfigError(
            f"CONSOLE_IDLE_MINUTES must be above 0 and at most {MAX_CONSOLE_IDLE_MINUTES}"
        )
    return minutes


def _login_limit(value: object) -> str:
    return _limit(_text(value) or DEFAULT_CONSOLE_LOGIN_LIMIT,
                  "CONSOLE_LOGIN_LIMIT must be a limit such as '10/minute'")


def _allow_private(value: object) -> bool:
    text = (_text(value) or "0").lower()
    if text not in ("0", "1", "true", "false"):
        raise ConfigError("WEBHOOK_ALLOW_PRIVATE must be 1 or 0")
    return text in ("1", "true")
