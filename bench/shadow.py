"""Shadow evaluation throughput and memory at 100,000 and 1,000,000 stored submissions.

For each database (SQLite in a temporary directory, PostgreSQL database ``bench`` or
``BENCH_PG_DB``): seeds submissions in bulk as ``bench/queue.py`` does (``bench/seed.py``),
then gives every row the answers and respondent of the body its evaluation was made from
and marks the evaluation as made under settings version 1 (what every submission stored
since rulesets exist carries). A draft (``phq9_threshold`` 15) is then shadowed over all
of the clinic's submissions in a fresh process, which reports the time of the shadow loop
(rows streamed from the database, the stored evaluation read as the active outcome, the
parts the draft reaches evaluated again under the draft) and its own peak RSS.
``--legacy`` leaves ``settings_version`` out, so every row is evaluated twice (rows
stored before rulesets existed).

``--compare CHECKOUT`` also runs another checkout's shadow process on the same seeded
database, alternating with this one's (``--rounds`` each), and prints both side by side
with the ratio of their medians; ``--large 0`` measures one size only.

Run: ``.venv/bin/python bench/shadow.py [--database sqlite|postgres|both] [--small 100000]
[--large 1000000] [--legacy] [--compare CHECKOUT] [--rounds 3]``. Goal: >= 20,000
submissions/s per core (submissions per CPU second of the shadow process: the loop is one
thread; on PostgreSQL the server's own work runs on another core) and the same peak RSS
at both sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import make_url, text  # noqa: E402

from bench.harness import (  # noqa: E402
    ROOT,
    BenchDatabase,
    bench_database,
    create_clinic,
    machine,
    run_cli,
)
from bench.seed import seed_postgres, seed_sqlite  # noqa: E402

GOAL_PER_SECOND = 20_000


def seed(database: BenchDatabase, clinic_id: str, first: int, last: int,
         legacy: bool) -> float:
    """Seeds rows ``first..last`` with real answers; returns the seconds taken."""
    from screening.storage.db import make_engine
    from tests.api.bodies import routed

    started = time.monotonic()
    if database.kind == "postgres":
        import psycopg

        url = database.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            seed_postgres(connection, clinic_id, holder_id(database), first, last)
    else:
        seed_sqlite(str(make_url(database.url).database), clinic_id,
                    holder_id(database), first, last)
    bodies = {p: routed(p) for p in ("critical", "urgent", "high", "routine")}
    params: dict[str, Any] = {f"a_{p}": json.dumps(b["answers"]) for p, b in bodies.items()}
    params["respondent"] = json.dumps(bodies["routine"]["respondent"])
    postgres = database.kind == "postgres"
    def json_param(name: str) -> str:
        return f"CAST(:{name} AS jsonb)" if postgres else f":{name}"

    answers = " ".join(f"WHEN '{p}' THEN {json_param('a_' + p)}" for p in bodies)
    marked = ("evaluation" if legacy else
              "evaluation || CAST('{\"settings_version\": 1}' AS jsonb)" if postgres else
              "json_set(evaluation, '$.settings_version', 1)")
    empty = "'{}'::jsonb" if postgres else "'{}'"
    engine = make_engine(database.url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                f"UPDATE submissions SET respondent = {json_param('respondent')}, "
                f"answers = CASE priority {answers} END, evaluation = {marked} "
                f"WHERE answers = {empty}"), params)
        if postgres:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE submissions"))
    finally:
        engine.dispose()
    return time.monotonic() - started


def holder_id(database: BenchDatabase) -> str:
    """The clinician who holds the seeded ``in_review`` claims."""
    return sql(database, "SELECT id FROM users LIMIT 1")[0][0]


def sql(database: BenchDatabase, statement: str) -> list[Any]:
    from screening.storage.db import make_engine

    engine = make_engine(database.url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(statement)))
    finally:
        engine.dispose()


def measure(database: BenchDatabase, slug: str, draft_id: str,
            checkout: Path = ROOT) -> dict[str, Any]:
    """Runs the shadow of ``checkout`` (by default this one) in a fresh process; its timing
    and peak RSS (KiB)."""
    script = checkout.resolve() / "bench" / "shadow.py"
    done = subprocess.run([sys.executable, str(script), "--worker", slug, draft_id],
                          env=database.env(), stdout=subprocess.PIPE, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def peak_rss_kib() -> int:
    """This process's peak resident memory (``VmHWM``: since exec, unlike ``ru_maxrss``,
    which keeps the forking parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def worker(slug: str, draft_id: str) -> None:
    """The measured process: one shadow run on DATABASE_URL, timed around the loop."""
    from screening import create_app
    from screening.services import accounts, rulesets, shadow
    from screening.storage.unit_of_work import session_scope

    app = create_app({"RATE_LIMIT": "off"})
    with session_scope(app, write=False) as session:
        clinic = accounts.get_clinic(session, slug)
        draft = rulesets.get_draft(session, clinic.id, draft_id)
        active = rulesets.active_ruleset(session, clinic.id)
        proposed = rulesets.proposed_ruleset(active, draft)
        started, cpu = time.perf_counter(), time.process_time()
        rows = shadow.past_submissions(session, clinic.id, None, None)
        report = shadow.shadow(rows, active, draft.id, proposed)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "evaluated": report.evaluated,
                      "changed": report.changed, "peak_rss_kib": peak_rss_kib()}))


def run(kind: str, args: argparse.Namespace) -> bool:
    """Both sizes on one database; True when the goals are met."""
    results = []
    sides = {"this": ROOT} if args.compare is None else {"this": ROOT, "other": args.compare}
    with bench_database(kind) as database:
        credentials = create_clinic(database)
        clinic_id = sql(database, "SELECT id FROM clinics")[0][0]
        draft_file = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-shadow-draft.json"
        draft_file.write_text(json.dumps({"phq9_threshold": 15}))
        draft_id = run_cli(database, "ruleset", "draft", credentials.slug, "--file",
                           str(draft_file))
        first = 1
        for size in (args.small, args.large):
            if size < first:
                continue
            took = seed(database, clinic_id, first, size, args.legacy)
            print(f"{kind}: seeded up to {size:,} in {took:.1f} s", flush=True)
            first = size + 1
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
            for round_number in range(args.rounds):
                order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
                for name in order:
                    result = measure(database, credentials.slug, draft_id, sides[name])
                    assert result["evaluated"] == size, result
                    runs[name].append(result)
                    report(kind, f"{name} ", size, result)
            medians = {name: statistics.median(r["evaluated"] / r["cpu_seconds"] for r in rs)
                       for name, rs in runs.items()}
            peaks = {name: max(r["peak_rss_kib"] for r in rs) for name, rs in runs.items()}
            for name in sides:
                print(f"{kind}: {size:>9,} {name:>5} ({sides[name]}): median "
                      f"{medians[name]:,.0f}/s per core, peak RSS {peaks[name] / 1024:.0f} MiB",
                      flush=True)
            if args.compare is not None:
                print(f"{kind}: {size:>9,} this / other = "
                      f"{medians['this'] / medians['other']:.2f}", flush=True)
            results.append((size, medians["this"], peaks["this"]))
    fast = min(rate for _, rate, _ in results) >= GOAL_PER_SECOND
    verdict = f"{kind}: goal >= {GOAL_PER_SECOND:,}/s: {'OK' if fast else 'MISSED'}"
    if len(results) < 2:
        print(verdict)
        return fast
    (_, _, small_rss), (_, _, large_rss) = results
    flat = large_rss <= small_rss * 1.1
    print(f"{verdict}; peak RSS {results[1][0]:,} / {results[0][0]:,} = "
          f"{large_rss / small_rss:.2f} ({'flat' if flat else 'GROWS'})")
    return fast and flat


def report(kind: str, name: str, size: int, result: dict[str, Any]) -> None:
    """One line per measured shadow process."""
    rate = result["evaluated"] / result["cpu_seconds"]
    print(f"{kind}: {name}{size:>9,} submissions in {result['seconds']:.1f} s wall "
          f"({result['evaluated'] / result['seconds']:,.0f}/s), "
          f"{result['cpu_seconds']:.1f} s CPU of the shadow process = {rate:,.0f}/s "
          f"per core, changed {result['changed']:,}, "
          f"peak RSS {result['peak_rss_kib'] / 1024:.0f} MiB", flush=True)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--legacy", action="store_true",
                        help="stored evaluations without settings_version: two per row")
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT",
                        help="also run another checkout's shadow, alternating with this one")
    parser.add_argument("--rounds", type=int, default=1,
                        help="shadow processes per checkout and size")
    args = parser.parse_args()
    print(machine())
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    ok = all([run(kind, args) for kind in kinds])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
