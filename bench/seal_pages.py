"""What an index on the audit events' ``hash`` costs the sealer on SQLite, side by side in
one run (migration 0008 dropped the unique one).

The sealer gives each waiting event its ``seq``, ``prev_hash`` and ``hash`` (a SHA-256):
with an index on ``hash`` every sealed event lands on a random page of it, and SQLite
writes every page a transaction changes to the write-ahead log whole. This posts the
example submission through the service (``create_app`` on a migrated SQLite file) and takes
its audit event as a template; then for each side (today's schema, and the same with
``CREATE UNIQUE INDEX`` on ``hash`` as before 0008) it copies the database, stores and
seals ``--existing`` events, stores ``--events`` more and seals them with the service's
sealer (``audit.seal_pending``, ``SEAL_BATCH`` events a transaction).

It prints the write-ahead log pages written per 1,000 events sealed and the sealer's CPU
per event, the lowest of ``--rounds`` rounds (the sides taking turns).

Run: ``.venv/bin/python bench/seal_pages.py [--existing 20000] [--events 8000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import text  # noqa: E402

from bench.rows import lowest_of_rounds, sqlite_sides, wal_frames  # noqa: E402
from screening.storage import audit, driver  # noqa: E402
from screening.storage.db import Database  # noqa: E402
from screening.storage.models import AuditEvent  # noqa: E402

SIDES = {"hash unindexed (now)": None,
         "hash indexed (before 0008)":
             "CREATE UNIQUE INDEX uq_audit_events_hash ON audit_events (hash)"}


def store(database: Database, event: dict[str, Any], count: int) -> None:
    """Inserts ``count`` unsealed copies of ``event``."""
    table = AuditEvent.__table__
    for start in range(0, count, 1000):
        with driver.transaction(database.write_engine) as transaction:
            transaction.insert_many(table, [event] * min(1000, count - start))  # type: ignore[arg-type]


def seal_all(database: Database) -> None:
    """Seals every waiting event with the service's sealer, a transaction at a time."""
    while True:
        with database.write_sessions() as session:
            sealed = audit.seal_pending(session)
            session.commit()
        if sealed < audit.SEAL_BATCH:
            return


def measure(database: Database, event: dict[str, Any], events: int) -> tuple[float, float]:
    """WAL pages per 1,000 events sealed and CPU microseconds per event."""
    store(database, event, events)
    wal_frames(database, truncate=True)
    cpu = time.process_time()
    seal_all(database)
    cpu = time.process_time() - cpu
    return wal_frames(database) / events * 1000, cpu / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", type=int, default=20000,
                        help="events stored and sealed before the measured ones")
    parser.add_argument("--events", type=int, default=8000,
                        help="events sealed per round (within one WAL auto-checkpoint)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with sqlite_sides(SIDES) as (rows, databases):
        event = {**rows[AuditEvent.__table__], "seq": None, "prev_hash": None, "hash": None}
        for side, database in databases.items():
            seal_all(database)
            if SIDES[side] is not None:
                with database.write_engine.begin() as connection:
                    connection.execute(text(SIDES[side]))
            store(database, event, args.existing)
            seal_all(database)
        best = lowest_of_rounds(args.rounds, SIDES, lambda side: measure(
            databases[side], event, args.events))
    print(f"SQLite (WAL, synchronous=FULL), {args.existing} events sealed before, "
          f"{args.events} sealed per round, lowest of {args.rounds} rounds:")
    for side, (pages, cpu) in best.items():
        print(f"  {side:<27} WAL pages {pages:5.0f} per 1,000 events sealed, "
              f"sealer CPU {cpu:4.1f} us per event")

if __name__ == "__main__":
    main()
