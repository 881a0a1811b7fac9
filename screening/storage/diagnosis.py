"""What the command line says about the database: which schema revision it is at, and
why it cannot be reached, in words that never repeat ``DATABASE_URL`` (it can hold a
password)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from screening.storage.db import make_engine

# (texts in the driver's message, what to tell the operator), first match wins. The driver
# gives no error code for a failed connection, only PostgreSQL's or SQLite's message.
_CONNECTION_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (('database "', "does not exist"),
     "the database named by DATABASE_URL does not exist on its server; create it first "
     "(e.g. with createdb), then run screening db upgrade again"),
    (('role "', "does not exist"), "the database server has no user of DATABASE_URL's name"),
    (("password authentication failed",),
     "the database server refused the user or password of DATABASE_URL"),
    (("no pg_hba.conf entry",),
     "the database server does not admit DATABASE_URL's user from this host"),
    (("failed to resolve host",),
     "cannot connect to the database server of DATABASE_URL: its host name is unknown"),
    (("connection failed",),
     "cannot connect to the database server of DATABASE_URL; is it running and reachable?"),
    (("unable to open database file",),
     "cannot open the SQLite file of DATABASE_URL; does its folder exist and may this "
     "user write there?"),
)


def connection_problem(error: BaseException) -> str | None:
    """Why the database could not be reached, or None when ``error`` is about something
    else (a missing table, a constraint)."""
    if not isinstance(error, OperationalError):
        return None
    message = str(error.orig)
    for clues, problem in _CONNECTION_PROBLEMS:
        if all(clue in message for clue in clues):
            return problem
    return None


def schema_revision(url: str) -> str | None:
    """The Alembic revision of the database at ``url``; None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            return revision
    finally:
        engine.dispose()
