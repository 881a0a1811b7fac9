"""PostgreSQL's own CPU, and the app's, per ingested submission: one ``executemany`` per
table against multi-row ``INSERT``s, side by side in one run.

A submission writes three rows in the group committer's transaction: the submission, its
audit event and its outbox event. On PostgreSQL the database server is shared by every app
server, so what it spends per submission bounds the whole deployment. This posts one
example submission through the service (``create_app`` on the database ``$BENCH_PG_DB``,
default ``bench``, emptied and migrated), takes its three stored rows as templates, and then
writes batches of ``--batch`` submissions' rows (new ids) in one transaction each, as the
group committer does, two ways in turn:

- ``executemany``: each table's rows in one ``executemany`` (pipelined), which PostgreSQL
  runs as one statement per row;
- ``multi-row %s``: one ``INSERT ... VALUES (...), (...)`` per table and chunk with
  psycopg's ``%s`` placeholders, as the service did before: psycopg parses such a query
  again at every execution (it caches only those of at most 50 parameters);
- ``multi-row $n``: ``DriverTransaction.insert_many``, the service's way: the same
  statements with PostgreSQL's numbered placeholders on a ``psycopg.RawCursor``.

It prints, per submission, the CPU time of the database's backends serving the bench
database (read from ``/proc``, so the server must run on this machine), this process's
CPU time (the app's side: binding, the driver) and the wall time, each the lowest of
``--rounds`` rounds.

Run: ``.venv/bin/python bench/pg_insert.py [--batches 400] [--batch 8] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Table, text  # noqa: E402

from bench.harness import bench_database  # noqa: E402
from bench.rows import (  # noqa: E402
    TABLES,
    Rows,
    Templates,
    batch_rows,
    example_templates,
    lowest_of_rounds,
)
from screening.services.outbox import new_event_id  # noqa: E402
from screening.storage import driver  # noqa: E402
from screening.storage.db import app_state  # noqa: E402
from screening.storage.models import new_id  # noqa: E402


def batch(templates: Templates, size: int) -> Rows:
    """``size`` submissions' rows with new ids, as the service makes them."""
    return batch_rows(templates, size, new_id, new_event_id)


def by_executemany(transaction: driver.DriverTransaction, rows: list[dict[str, Any]],
                   table: Table) -> None:
    """One ``executemany`` of the one-row ``INSERT``."""
    compiled = driver.insert_statement(table, transaction.dialect, tuple(rows[0]))
    transaction.cursor.executemany(compiled.sql, [compiled.bind(row) for row in rows])


def by_multi_row_pyformat(transaction: driver.DriverTransaction,
                          rows: list[dict[str, Any]], table: Table) -> None:
    """The service's multi-row statements with ``%s`` placeholders, on the ordinary
    cursor (the way before ``$n``)."""
    compiled = driver.insert_statement(table, transaction.dialect, tuple(rows[0]))
    start = 0
    while start < len(rows):
        count = min(1 << ((len(rows) - start).bit_length() - 1), driver.MAX_ROWS_PER_INSERT)
        many = driver.multi_row_insert(compiled.sql, count)
        values = [value for row in rows[start:start + count]
                  for value in many.row_values(compiled.bind(row))]
        transaction.cursor.execute(re.sub(r"\$\d+", "%s", many.sql), values)
        start += count


def by_multi_row(transaction: driver.DriverTransaction, rows: list[dict[str, Any]],
                 table: Table) -> None:
    """The service's way."""
    transaction.insert_many(table, rows)


def backends_cpu_s(engine: Any) -> float:
    """User + system CPU seconds of the server processes serving the bench database."""
    with engine.connect() as connection:
        pids = connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / 100


def measure(engine: Any, batches: list[Rows],
            write: Callable[[driver.DriverTransaction, list[dict[str, Any]], Table], None]
            ) -> tuple[float, float, float]:
    """Backend CPU, this process's CPU and wall microseconds per submission of writing
    ``batches``."""
    submissions = sum(len(batch[TABLES[0]]) for batch in batches)
    cpu, own, wall = backends_cpu_s(engine), time.process_time(), time.perf_counter()
    for batch in batches:
        with driver.transaction(engine) as transaction:
            for table, rows in batch.items():
                write(transaction, rows, table)
    wall = time.perf_counter() - wall
    own = time.process_time() - own
    cpu = backends_cpu_s(engine) - cpu
    return cpu / submissions * 1e6, own / submissions * 1e6, wall / submissions * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8, help="submissions per transaction")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_database("postgres") as database:
        app, rows = example_templates(database)
        engine = app_state(app).db.write_engine
        ways = {"executemany": by_executemany, "multi-row %s": by_multi_row_pyformat,
                "multi-row $n": by_multi_row}
        for write in ways.values():  # warm up: connections, prepared statements
            measure(engine, [batch(rows, args.batch) for _ in range(20)], write)
        best = lowest_of_rounds(args.rounds, ways, lambda name: measure(
            engine, [batch(rows, args.batch) for _ in range(args.batches)], ways[name]))
    print(f"PostgreSQL, {args.batches} transactions of {args.batch} submissions "
          f"(3 rows each), lowest of {args.rounds} rounds:")
    for name, (cpu, own, wall) in best.items():
        print(f"  {name:<13} database CPU {cpu:6.0f} us/submission, app CPU {own:5.0f} us, "
              f"wall {wall:6.0f} us")
    ratio = best["multi-row $n"][0] / best["executemany"][0]
    print(f"  multi-row / executemany: database CPU {ratio:.2f}; "
          f"app CPU $n / %s {best['multi-row $n'][1] / best['multi-row %s'][1]:.2f}")

if __name__ == "__main__":
    main()
