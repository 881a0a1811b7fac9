"""What the benchmarks of the write path alone (``bench/ids.py``, ``bench/pg_insert.py``,
``bench/seal_pages.py``) share: the rows one ingested submission writes (the submission,
its audit event, its outbox event) copied from what the service stored, SQLite copies of
one such database (one per side compared) and the lowest figures of several rounds."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select

from bench.harness import BenchDatabase, bench_database, create_clinic
from screening.app import create_app
from screening.storage.db import Database, app_state
from screening.storage.models import AuditEvent, Submission, WebhookEvent

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "submission.json"
TABLES: tuple[Table, ...] = (Submission.__table__, AuditEvent.__table__,  # type: ignore[assignment]
                             WebhookEvent.__table__)
GENERATED = {"audit_events": "id", "webhook_events": "seq"}  # left to the database

Rows = dict[Table, list[dict[str, Any]]]


Templates = dict[Table, dict[str, Any]]


def example_templates(database: BenchDatabase) -> tuple[Any, Templates]:
    """The service (``create_app``, rate limits off) on ``database`` with a new clinic,
    and the three rows the example submission stored when posted to it."""
    credentials = create_clinic(database)
    app = create_app({"DATABASE_URL": database.url, "RATE_LIMIT": "off",
                      "LOG_LEVEL": "WARNING"})
    return app, templates(app, credentials.intake_key)


def templates(app: Any, intake_key: str) -> Templates:
    """The three rows the example submission stored when posted to ``app``."""
    client = app.test_client()
    answer = client.post("/api/v1/submissions", json=json.loads(EXAMPLE.read_text()),
                         headers={"Authorization": f"Bearer {intake_key}"})
    if answer.status_code != 201:
        raise SystemExit(f"the example submission was refused: {answer.status_code}")
    rows: dict[Table, dict[str, Any]] = {}
    with app_state(app).db.read_engine.connect() as connection:
        for table in TABLES:
            row = connection.execute(select(table).limit(1)).mappings().one()
            rows[table] = {name: value for name, value in row.items()
                           if name != GENERATED.get(table.name)}
    return rows


def batch_rows(templates: Templates, size: int,
               new_id: Callable[[], str], new_event_id: Callable[[], str]) -> Rows:
    """``size`` submissions' rows, each with new ids from ``new_id`` and
    ``new_event_id``."""
    rows: Rows = {table: [] for table in TABLES}
    submissions, audits, events = TABLES
    for _ in range(size):
        submission_id = new_id()
        rows[submissions].append({**templates[submissions], "id": submission_id})
        rows[audits].append({**templates[audits], "object_id": submission_id})
        rows[events].append({**templates[events], "id": new_event_id(),
                             "submission_id": submission_id})
    return rows


@contextmanager
def sqlite_sides(names: Iterable[str]) -> Iterator[tuple[Templates, dict[str, Database]]]:
    """A migrated SQLite database holding the example submission, copied once for each
    of ``names``: the stored rows' templates and each copy's ``Database`` (disposed when
    the block ends)."""
    with bench_database("sqlite") as base, tempfile.TemporaryDirectory() as folder:
        app, rows = example_templates(base)
        app_state(app).db.dispose()  # its last connection closing folds the WAL into the file
        source = base.url.removeprefix("sqlite:///")
        databases: dict[str, Database] = {}
        for index, name in enumerate(names):
            copy = Path(folder) / f"side{index}.db"
            shutil.copy(source, copy)
            databases[name] = Database.connect(f"sqlite:///{copy}")
        try:
            yield rows, databases
        finally:
            for database in databases.values():
                database.dispose()


def wal_frames(database: Database, truncate: bool = False) -> int:
    """The frames in an SQLite database's write-ahead log now; ``truncate`` empties it
    first."""
    connection = database.read_engine.raw_connection()
    try:
        cursor = connection.cursor()
        if truncate:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        frames = int(cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        cursor.close()
    finally:
        connection.close()
    return frames


def lowest_of_rounds(rounds: int, sides: Iterable[str],
                     measure: Callable[[str], tuple[float, ...]]
                     ) -> dict[str, tuple[float, ...]]:
    """Each side's figures, each the lowest of ``rounds`` rounds in which the sides take
    turns (so a change of the machine's load hits every side alike)."""
    best: dict[str, tuple[float, ...]] = {}
    for _ in range(rounds):
        for side in sides:
            figures = measure(side)
            best[side] = tuple(map(min, best.get(side, figures), figures))
    return best
