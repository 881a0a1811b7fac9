"""The rows one ingested submission writes (the submission, its audit event, its outbox
event), copied from what the service stored, for benchmarks of the write path alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select

from screening.storage.db import app_state
from screening.storage.models import AuditEvent, Submission, WebhookEvent

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "submission.json"
TABLES: tuple[Table, ...] = (Submission.__table__, AuditEvent.__table__,  # type: ignore[assignment]
                             WebhookEvent.__table__)
GENERATED = {"audit_events": "id", "webhook_events": "seq"}  # left to the database

Rows = dict[Table, list[dict[str, Any]]]


def templates(app: Any, intake_key: str) -> dict[Table, dict[str, Any]]:
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


def batch_rows(templates: dict[Table, dict[str, Any]], size: int,
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
