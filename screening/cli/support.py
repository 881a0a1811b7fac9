"""What every ``screening`` command group shares: an application configured for the
command line, a session on it, and the turning of user errors into one line (exit 1)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from screening import create_app
from screening.errors import ScreeningError, Unprocessable
from screening.storage.db import app_state
from screening.storage.diagnosis import connection_problem
from screening.storage.unit_of_work import session_scope

F = TypeVar("F", bound=Callable[..., Any])


def cli_app() -> Flask:
    return create_app({"RATE_LIMIT": "off"})


@contextmanager
def cli_session(write: bool = True) -> Iterator[Session]:
    app = cli_app()
    try:
        with session_scope(app, write=write) as session:
            yield session
    finally:
        app_state(app).db.dispose()


def user_errors(command: F) -> F:
    """Turns the package's own errors into a one-line message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Unprocessable as error:
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.errors.items())
            raise click.ClickException(fields) from None
        except ScreeningError as error:
            raise click.ClickException(error.detail) from None
        except SQLAlchemyError as error:
            # The message of a database error can quote values; name the class only.
            name = type(error).__name__
            problem = connection_problem(error) or f"database error ({name}); is it migrated?"
            raise click.ClickException(problem) from None

    return wrapper  # type: ignore[return-value]
