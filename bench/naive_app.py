"""The naive durable app for ``bench/ingest.py``: what a first Flask app that stores a
submission durably looks like. One ``INSERT`` and one ``COMMIT`` per request on a
connection per worker (sqlite3 in WAL mode with ``synchronous=FULL``, or psycopg on
PostgreSQL with ``synchronous_commit=on``), gunicorn sync workers, no validation, no
credentials, no audit. The service must beat it while doing all of those.

Run: ``.venv/bin/python bench/naive_app.py --port 8002 --workers 2 --database URL``
(``sqlite:///path`` or ``postgresql://...``); ``--create`` makes the table and exits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

import psycopg  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402

from screening.server.gunicorn import GunicornApp  # noqa: E402

TABLE = "naive_submissions"
CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} "
          "(id VARCHAR(36) PRIMARY KEY, received_at VARCHAR(40), body TEXT)")


def connect(url: str) -> Any:
    """A durable connection to ``url``."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection
    connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    connection.execute("SET synchronous_commit = on")
    connection.commit()
    return connection


def create_naive_app(url: str) -> Flask:
    """POST /api/v1/submissions stores the body and answers 201; /health answers."""
    app = Flask(__name__)
    connection = connect(url)
    placeholder = "?" if isinstance(connection, sqlite3.Connection) else "%s"
    insert = f"INSERT INTO {TABLE} VALUES ({placeholder}, {placeholder}, {placeholder})"

    @app.post("/api/v1/submissions")
    def create() -> Any:
        body = request.get_json()
        submission_id = str(uuid.uuid4())
        received_at = dt.datetime.now(dt.UTC).isoformat()
        connection.execute(insert, (submission_id, received_at, json.dumps(body)))
        connection.commit()
        return jsonify({"id": submission_id, "status": "pending_review",
                        "received_at": received_at}), 201

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    return app


def main() -> None:
    """Creates the table, or serves until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", required=True)
    parser.add_argument("--create", action="store_true")
    args = parser.parse_args()
    if args.create:
        connection = connect(args.database)
        connection.execute(CREATE)
        connection.commit()
        connection.close()
        return
    options = {"bind": f"127.0.0.1:{args.port}", "workers": args.workers,
               "worker_class": "sync", "accesslog": None, "errorlog": "-",
               "proc_name": "bench-naive", "control_socket_disable": True}
    GunicornApp(options, lambda: create_naive_app(args.database)).run()


if __name__ == "__main__":
    main()
