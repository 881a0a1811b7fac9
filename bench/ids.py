"""What the kind of primary key costs SQLite's write path: random (UUID version 4) against
time-ordered (version 7) ids, side by side in one run.

A submission's rows carry its id three times in indexed columns: the submission's primary
key, the audit event's object index and the outbox event's id (``msg_`` + its own UUID).
Random ids put each new row on a random page of each such index, and every page a
transaction changes is written to the write-ahead log and fsynced whole. This posts the
example submission through the service (``create_app`` on a migrated SQLite file) and takes
its three stored rows as templates; then for each kind of id it copies that database,
fills it with ``--existing`` submissions' rows with ids of that kind, and writes
``--batches`` transactions of ``--batch`` submissions' rows (new ids of that kind) the way
the group committer does (``DriverTransaction.insert_many``), WAL ``synchronous=FULL``.

It prints per batch the write-ahead log frames (pages) written, per submission the bytes
the process wrote and its CPU time, the lowest of ``--rounds`` rounds (the kinds taking
turns).

Run: ``.venv/bin/python bench/ids.py [--existing 20000] [--batches 150] [--batch 8]
[--rounds 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.rows import (  # noqa: E402
    TABLES,
    Rows,
    batch_rows,
    lowest_of_rounds,
    sqlite_sides,
    wal_frames,
)
from screening.storage import driver  # noqa: E402
from screening.storage.db import Database  # noqa: E402
from screening.storage.ids import uuid4_hex, uuid4_str, uuid7_hex, uuid7_str  # noqa: E402

KINDS: dict[str, tuple[Callable[[], str], Callable[[], str]]] = {
    "random (v4)": (uuid4_str, lambda: "msg_" + uuid4_hex()),
    "time-ordered (v7)": (uuid7_str, lambda: "msg_" + uuid7_hex()),
}


def write(database: Database, batches: list[Rows]) -> None:
    """Each batch in one transaction, as the group committer writes it."""
    for batch in batches:
        with driver.transaction(database.write_engine) as transaction:
            for table, rows in batch.items():
                transaction.insert_many(table, rows)


def written_bytes() -> int:
    """Bytes this process has written (``/proc/self/io``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def measure(database: Database, batches: list[Rows]) -> tuple[float, float, float]:
    """WAL frames per batch, KiB written and CPU microseconds per submission."""
    submissions = sum(len(batch[TABLES[0]]) for batch in batches)
    wal_frames(database, truncate=True)
    wrote, cpu = written_bytes(), time.process_time()
    write(database, batches)
    cpu = time.process_time() - cpu
    wrote = written_bytes() - wrote
    frames = wal_frames(database)
    return (frames / len(batches), wrote / submissions / 1024, cpu / submissions * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", type=int, default=20000,
                        help="submissions already stored before the measured writes")
    parser.add_argument("--batches", type=int, default=150,
                        help="transactions per round (within one WAL auto-checkpoint)")
    parser.add_argument("--batch", type=int, default=8, help="submissions per transaction")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with sqlite_sides(KINDS) as (rows, databases):
        for kind, database in databases.items():
            write(database, [batch_rows(rows, 64, *KINDS[kind])
                             for _ in range(args.existing // 64)])

        def one_round(kind: str) -> tuple[float, ...]:
            return measure(databases[kind], [batch_rows(rows, args.batch, *KINDS[kind])
                                             for _ in range(args.batches)])

        best = lowest_of_rounds(args.rounds, KINDS, one_round)
    print(f"SQLite (WAL, synchronous=FULL), {args.existing} submissions stored, "
          f"{args.batches} transactions of {args.batch} submissions (3 rows each), "
          f"lowest of {args.rounds} rounds:")
    for kind, (frames, kib, cpu) in best.items():
        print(f"  {kind:<18} WAL frames {frames:5.1f} per transaction, written "
              f"{kib:5.1f} KiB and CPU {cpu:4.0f} us per submission")

if __name__ == "__main__":
    main()
