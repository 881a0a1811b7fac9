"""Queue latency at 10,000 and at 1,000,000 submissions, and the query plans behind it.

For each database (SQLite in a temporary directory, PostgreSQL database ``bench``): seeds
10,000 submissions in bulk (``bench/seed.py``), starts the service under gunicorn and
times sequential requests over one keep-alive connection to

- ``GET /api/v1/queue``
- ``GET /api/v1/submissions?status=pending_review`` and ``?status=in_review``
- ``POST /api/v1/queue/next`` (each call claims a submission)

then releases the claims it made, seeds up to 1,000,000, does the same again, prints p50
and p99 at both sizes with the ratio 1M/10k, and prints the plans (PostgreSQL ``EXPLAIN
ANALYZE``, SQLite ``EXPLAIN QUERY PLAN``) of the statements the service ran for them,
captured from the service code itself.

Run: ``.venv/bin/python bench/queue.py [--database sqlite|postgres|both] [--requests 300]
[--small 10000] [--large 1000000]``. Goal: every endpoint's p50 at 1M within 1.5 x 10k.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root instead of bench/, where this file would shadow the standard queue.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import event, make_url  # noqa: E402

from bench.harness import (  # noqa: E402
    BenchDatabase,
    bench_database,
    create_clinic,
    free_port,
    machine,
    run_cli,
    serve,
    service_command,
)
from bench.seed import seed_postgres, seed_sqlite  # noqa: E402

GOAL_RATIO = 1.5
ENDPOINTS = (
    ("GET", "/api/v1/queue"),
    ("GET", "/api/v1/submissions?status=pending_review"),
    ("GET", "/api/v1/submissions?status=in_review"),
    ("POST", "/api/v1/queue/next"),
)


@dataclass(frozen=True, slots=True)
class Timing:
    """Latencies of one endpoint at one size, in milliseconds."""

    p50: float
    p99: float


def time_requests(url: str, method: str, path: str, token: str, count: int) -> Timing:
    """``count`` sequential requests over one keep-alive connection (after 10 warm-up
    requests); fails on any status other than 200."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Length": "0"}
    samples: list[float] = []
    try:
        for index in range(count + 10):
            started = time.perf_counter()
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}")
            if index >= 10:
                samples.append(elapsed)
    finally:
        connection.close()
    cuts = statistics.quantiles(samples, n=100)
    return Timing(statistics.median(samples), cuts[98])


def measure(database: BenchDatabase, token: str, count: int) -> dict[str, Timing]:
    """Every endpoint's latency on a freshly started service."""
    port = free_port()
    with serve(service_command(port, 2), database.env(), port, 2) as service:
        return {f"{method} {path}": time_requests(service.url, method, path, token, count)
                for method, path in ENDPOINTS}


def seed(database: BenchDatabase, clinic_id: str, holder_id: str, first: int,
         last: int) -> float:
    """Seeds rows ``first..last``; returns the seconds taken."""
    started = time.monotonic()
    if database.kind == "postgres":
        import psycopg

        url = database.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            seed_postgres(connection, clinic_id, holder_id, first, last)
    else:
        seed_sqlite(str(make_url(database.url).database), clinic_id, holder_id, first, last)
    return time.monotonic() - started


def sql(database: BenchDatabase, statement: str, **params: Any) -> list[Any]:
    """Runs one statement on the bench database and returns its rows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database.url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def release_claims(database: BenchDatabase, user_id: str) -> None:
    """Gives back the claims ``queue/next`` made, so both sizes start alike."""
    sql(database, "UPDATE submissions SET status = 'pending_review', claimed_by = NULL, "
                  "claim_expires_at = NULL WHERE claimed_by = :user", user=user_id)


def captured_statements(database: BenchDatabase, clinic_id: str,
                        user_id: str) -> list[tuple[str, str, Any]]:
    """The SQL the service runs for each endpoint, with its parameters, captured by
    calling the service functions on the bench database (the claim is rolled back)."""
    from screening import create_app
    from screening.services import queue, review, submissions
    from screening.storage.db import app_state

    app = create_app({"DATABASE_URL": database.url, "RATE_LIMIT": "off",
                      "LOG_LEVEL": "WARNING"})
    db = app_state(app).db
    seen: list[tuple[str, str, Any]] = []
    label = [""]

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "submissions" in statement and not statement.lstrip().upper().startswith(
                ("BEGIN", "INSERT INTO AUDIT")):
            seen.append((label[0], statement, parameters))

    for engine in {db.read_engine, db.write_engine}:
        event.listen(engine, "before_cursor_execute", capture)
    now = dt.datetime.now(dt.UTC)
    calls: list[tuple[str, Callable[[Any], Any]]] = [
        ("GET /api/v1/queue", lambda s: queue.list_queue(
            s, clinic_id, priority=None, limit=50, cursor=None, now=now)),
        ("GET /api/v1/submissions?status=pending_review", lambda s: submissions.list_submissions(
            s, clinic_id, status="pending_review", priority=None, limit=50, cursor=None,
            now=now)),
        ("GET /api/v1/submissions?status=in_review", lambda s: submissions.list_submissions(
            s, clinic_id, status="in_review", priority=None, limit=50, cursor=None, now=now)),
        ("POST /api/v1/queue/next", lambda s: review.claim_next(
            s, review.Reviewer(user_id, clinic_id), now=now, lease=dt.timedelta(minutes=15))),
    ]
    try:
        for name, call in calls:
            label[0] = name
            with db.write_sessions() as session:
                call(session)
                session.rollback()
    finally:
        db.dispose()
    return seen


def explain(database: BenchDatabase, statement: str, parameters: Any) -> list[str]:
    """The plan of one captured statement (PostgreSQL: executed, in a rolled-back
    transaction)."""
    from sqlalchemy import create_engine

    engine = create_engine(database.url)
    prefix = ("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "
              if database.kind == "postgres" else "EXPLAIN QUERY PLAN ")
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(prefix + statement, parameters).fetchall()
            connection.rollback()
    finally:
        engine.dispose()
    if database.kind == "postgres":
        return [row[0] for row in rows]
    return [str(row[-1]) for row in rows]


def uses_indexes(kind: str, plan: list[str]) -> bool:
    """True when no step of the plan reads the submissions table in full."""
    text = "\n".join(plan)
    if kind == "postgres":
        return "Seq Scan on submissions" not in text
    return not any(line.startswith("SCAN submissions") and "INDEX" not in line
                   for line in plan)


def print_plans(database: BenchDatabase, clinic_id: str, user_id: str) -> bool:
    """Prints the plan of every captured statement; True when all use indexes."""
    ok = True
    for name, statement, parameters in captured_statements(database, clinic_id, user_id):
        plan = explain(database, statement, parameters)
        indexed = uses_indexes(database.kind, plan)
        ok = ok and indexed
        print(f"  -- {name}: {'indexes only' if indexed else 'FULL SCAN'}")
        print("     " + " ".join(statement.split())[:300])
        for line in plan:
            print(f"       {line}")
    return ok


def report(kind: str, small: dict[str, Timing], large: dict[str, Timing], sizes: tuple[int, int]
           ) -> bool:
    """Prints the table of both sizes; True when every p50 ratio meets the goal."""
    ok = True
    print(f"{kind}: p50 / p99 in ms, sequential requests, one keep-alive connection")
    print(f"  {'endpoint':<46} {sizes[0]:>9,}          {sizes[1]:>9,}          ratio p50")
    for name, at_small in small.items():
        at_large = large[name]
        ratio = at_large.p50 / at_small.p50
        ok = ok and ratio <= GOAL_RATIO
        print(f"  {name:<46} {at_small.p50:6.2f} / {at_small.p99:6.2f}   "
              f"{at_large.p50:6.2f} / {at_large.p99:6.2f}   {ratio:5.2f} "
              f"(p99 {at_large.p99 / at_small.p99:4.2f})")
    return ok


def run(kind: str, args: argparse.Namespace) -> bool:
    """Both sizes on one database; True when the goals are met."""
    with bench_database(kind) as database:
        credentials = create_clinic(database)
        run_cli(database, "users", "create", credentials.slug, "holder@bench.example",
                "--role", "clinician")
        clinic_id = sql(database, "SELECT id FROM clinics")[0][0]
        users = dict(sql(database, "SELECT email, id FROM users"))
        me, holder = users["clinician@bench.example"], users["holder@bench.example"]
        took = seed(database, clinic_id, holder, 1, args.small)
        print(f"{kind}: seeded {args.small:,} in {took:.1f} s")
        small = measure(database, credentials.clinician_token, args.requests)
        release_claims(database, me)
        took = seed(database, clinic_id, holder, args.small + 1, args.large)
        print(f"{kind}: seeded up to {args.large:,} in {took:.1f} s")
        large = measure(database, credentials.clinician_token, args.requests)
        release_claims(database, me)
        ok = report(kind, small, large, (args.small, args.large))
        print(f"{kind}: query plans at {args.large:,}")
        indexed = print_plans(database, clinic_id, me)
    print(f"{kind}: goal p50(1M) <= {GOAL_RATIO} x p50(10k): {'OK' if ok else 'MISSED'}; "
          f"plans {'use indexes' if indexed else 'SCAN A TABLE'}")
    return ok and indexed


def main() -> None:
    """Runs the chosen databases and exits 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=300, help="timed requests each")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    results = [run(kind, args) for kind in kinds]
    print(json.dumps({"ok": all(results)}))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
