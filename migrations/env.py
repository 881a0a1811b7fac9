"""Alembic environment: the URL comes from the Config built in code
(``config.attributes["database_url"]``) or from ``DATABASE_URL``, never from alembic.ini."""

from __future__ import annotations

import logging.config
from typing import Any

from alembic import context

from screening.config.settings import settings_from_environment
from screening.storage import models
from screening.storage.db import MIGRATIONS_DIR, UTCDateTime, make_engine

config = context.config
target_metadata = models.Base.metadata

if config.config_file_name is not None and not config.attributes.get("database_url"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    return settings_from_environment(None, MIGRATIONS_DIR.parent / "instance").database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations must not import application types: UTCDateTime is a plain
    ``DateTime(timezone=True)`` in the schema."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emits SQL for the configured URL without connecting."""
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrates in one transaction (transactional DDL on both engines)."""
    url = _database_url()
    # Foreign keys off on SQLite: batch migrations copy tables and would trip them.
    engine = make_engine(url, immediate=True, foreign_keys=False)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=url.startswith("sqlite"),
                render_item=_render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
