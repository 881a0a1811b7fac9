"""Settings read from the environment once, at start-up; a bad value fails fast.

| variable              | default                                   |
|-----------------------|-------------------------------------------|
| `DATABASE_URL`        | `sqlite:///<instance folder>/screening.db` |
| `RATE_LIMIT`          | `120/minute` per credential; `off` disables |
| `CLAIM_LEASE_MINUTES` | `15` (integer >= 1)                        |
| `REDIS_URL`           | unset: rate-limit counters kept in memory  |
| `LOG_LEVEL`           | `INFO`                                     |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from limits import parse_many
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from screening.errors import ScreeningError

DEFAULT_RATE_LIMIT = "120/minute"
DEFAULT_CLAIM_LEASE_MINUTES = 15
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENV_VARS = ("DATABASE_URL", "RATE_LIMIT", "CLAIM_LEASE_MINUTES", "REDIS_URL", "LOG_LEVEL")


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

    @classmethod
    def from_env(cls, environ: Mapping[str, object], instance_path: str | Path) -> Settings:
        """Reads and validates every variable; raises ``ConfigError`` on the first bad one."""
        return cls(
            database_url=_database_url(environ.get("DATABASE_URL"), Path(instance_path)),
            rate_limit=_rate_limit(environ.get("RATE_LIMIT")),
            claim_lease_minutes=_claim_lease(environ.get("CLAIM_LEASE_MINUTES")),
            redis_url=_redis_url(environ.get("REDIS_URL")),
            log_level=_log_level(environ.get("LOG_LEVEL")),
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
    try:
        parse_many(text)
    except ValueError:
        raise ConfigError(
            "RATE_LIMIT must be a limit such as '120/minute' (or 'off')"
        ) from None
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
