"""Ingest throughput: ``POST /api/v1/submissions``, three sides in one run.

For each database (SQLite with ``synchronous=FULL`` in a temporary directory, and the
PostgreSQL database ``$BENCH_PG_DB``, default ``bench``), starts, one after the other:

- a bare Flask app that parses the same JSON body and answers 201 under the service's
  gunicorn settings (the ceiling);
- the naive durable app (``bench/naive_app.py``): one ``INSERT`` + ``COMMIT`` per request
  (sqlite3 WAL ``synchronous=FULL``, or psycopg), gunicorn sync workers;
- the service (``screening serve``, whose worker seals the audit log), with
  ``bench/seal_lag.py`` beside it reading how long events wait to be sealed at full load;

drives each with wrk at the same concurrency and prints requests/s, p50, p99, errors, the
ratios service/bare and service/naive, per request the workers' CPU time and voluntary
thread switches, and how long audit events waited to be sealed. Rate limiting is off.

Run: ``.venv/bin/python bench/ingest.py [--database sqlite|postgres|both] [--seconds 12]
[--connections 16] [--workers 2] [--serve MODEL ...] [--rounds N] [--idempotency] [--close]
[--memory N] [--code DIR]``.

``--serve`` measures the service under several serving models side by side in the one
run, each ``WORKERS`` (web worker processes, e.g. ``2`` or ``3``) with an optional
``@DELAY`` that sets PostgreSQL's ``commit_delay`` (in microseconds, ``commit_siblings``
1) for the service's connections, e.g. ``2@100``, and an optional ``=DIR`` that serves the
code of another checkout (read-only) for that model only, e.g. ``2=../before`` for the
serving model of an earlier commit beside today's.
Without it the service runs as ``screening serve`` does by default. Goals are checked on
the first model. ``--rounds N`` measures bare, naive and every model N times in turn and
judges each side's median round: on a shared machine the load drifts during a run.

``--idempotency`` adds a run with a new ``Idempotency-Key`` on every request.
``--close`` sends every request on a new connection (``Connection: close``), as a reverse
proxy without keep-alive to its upstream does (nginx's default), on every side.
``--memory N`` instead sends at least N requests to a single worker and prints its
resident memory (``VmRSS``) before and after. ``--code DIR`` serves (and migrates with)
the service code of another checkout, e.g. the commit before a change, read-only.
Needs ``wrk`` (``apt-get install wrk``).
Goals: service >= 0.3 x bare and >= 1.5 x naive, no errors, p99 < 50 ms at concurrency
16, events sealed within 2 s; RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import (  # noqa: E402
    ROOT,
    BenchDatabase,
    LoadResult,
    Server,
    Usage,
    bare_command,
    bench_database,
    create_clinic,
    free_port,
    on_each_database,
    rss_kib,
    run_wrk,
    serve,
    serve_code_from,
    service_command,
    usage,
)

PATH = "/api/v1/submissions"
GOAL_RATIO = 0.3
GOAL_NAIVE_RATIO = 1.5
GOAL_P99_MS = 50.0
GOAL_SEAL_WAIT_S = 2.0
GOAL_RSS_MIB = 150.0


def describe(name: str, result: LoadResult, used: Usage) -> str:
    """One result line; ``used``: what the workers spent during the run."""
    requests = max(result.requests, 1)
    per_request = 1000 / requests
    return (f"  {name:<22} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  {result.requests:7d} requests  "
            f"{result.errors} errors\n  {'':<22} per request: worker CPU "
            f"{(used.user + used.system) * per_request:.2f} ms "
            f"(user {used.user * per_request:.2f}, kernel {used.system * per_request:.2f}), "
            f"{used.switches / requests:.1f} voluntary thread switches")


def measured_run(server: Server, body: Path, authorization: str | None,
                 args: argparse.Namespace, unique_keys: bool = False
                 ) -> tuple[LoadResult, Usage]:
    """One wrk run and what the workers spent during it."""
    pids = server.worker_pids()
    before = usage(pids)
    result = run_wrk(server.url + PATH, body=body, authorization=authorization,
                     connections=args.connections, seconds=args.seconds,
                     unique_keys=unique_keys)
    return result, usage(pids) - before


def naive_command(port: int, workers: int, url: str) -> list[str]:
    """The naive durable app (``bench/naive_app.py``) on ``url``."""
    return [sys.executable, str(ROOT / "bench" / "naive_app.py"), "--port", str(port),
            "--workers", str(workers), "--database", url]


def start_seal_lag(env: dict[str, str], code: Path) -> subprocess.Popen[str] | None:
    """``bench/seal_lag.py`` beside the service, when its code seals the audit log."""
    sealers = (code / "screening" / "server" / "sealer.py", code / "screening" / "audit_sealer.py")
    if not any(sealer.exists() for sealer in sealers):  # before the audit log sealed itself
        return None
    return subprocess.Popen([sys.executable, str(ROOT / "bench" / "seal_lag.py")], env=env,
                            stdout=subprocess.PIPE, text=True)


def stop_seal_lag(monitor: subprocess.Popen[str] | None) -> dict[str, float] | None:
    """Stops the monitor; what it measured."""
    if monitor is None:
        return None
    monitor.send_signal(signal.SIGTERM)
    out, _ = monitor.communicate(timeout=60)
    lines = out.strip().splitlines()
    # Stopped before it had started (a short run on a loaded machine): nothing measured.
    return json.loads(lines[-1]) if lines else None


@dataclass(frozen=True, slots=True)
class ServingModel:
    """One way of serving the service: web workers, PostgreSQL commit_delay, code."""

    workers: int
    commit_delay_us: int = 0
    code: Path | None = None
    named: bool = True  # given with --serve (else: the default, named "service")

    @classmethod
    def parse(cls, text: str) -> ServingModel:
        """``WORKERS[@DELAY][=DIR]``."""
        text, _, code = text.partition("=")
        workers, _, delay = text.partition("@")
        return cls(int(workers), int(delay or 0), Path(code).resolve() if code else None)

    def name(self) -> str:
        """How the result line names it."""
        if not self.named:
            return "service"
        delay = f" cd{self.commit_delay_us}" if self.commit_delay_us else ""
        code = f" {self.code.name}" if self.code else ""
        return f"service {self.workers}w{delay}{code}"

    def applies_to(self, kind: str) -> bool:
        """commit_delay is PostgreSQL's: on SQLite such a model is skipped."""
        return kind == "postgres" or not self.commit_delay_us

    def env(self, database: BenchDatabase) -> dict[str, str]:
        """The service's environment: ``PGOPTIONS`` (read by libpq) sets commit_delay;
        ``PYTHONPATH`` the code of another checkout."""
        extra = {}
        if self.commit_delay_us and database.kind == "postgres":
            extra["PGOPTIONS"] = f"-c commit_delay={self.commit_delay_us} -c commit_siblings=1"
        if self.code is not None:
            extra.update(PYTHONPATH=str(self.code), PYTHONDONTWRITEBYTECODE="1")
        return database.env(**extra)


def measure_bare(database: BenchDatabase, body: Path, args: argparse.Namespace
                 ) -> tuple[LoadResult, Usage]:
    """The bare Flask app: the ceiling."""
    port = free_port()
    with serve(bare_command(port, args.workers), database.env(), port, args.workers) as bare:
        run_wrk(bare.url + PATH, body=body, authorization=None,
                connections=args.connections, seconds=2)  # warm-up
        return measured_run(bare, body, None, args)


def measure_naive(database: BenchDatabase, body: Path, args: argparse.Namespace
                  ) -> tuple[LoadResult, Usage]:
    """The naive durable app."""
    port = free_port()
    with serve(naive_command(port, args.workers, database.url), database.env(), port,
               args.workers) as naive_server:
        run_wrk(naive_server.url + PATH, body=body, authorization=None,
                connections=args.connections, seconds=2)  # warm-up
        return measured_run(naive_server, body, None, args)


def median_run(runs: list[Any]) -> Any:
    """Of several rounds' results (each starting with a ``LoadResult``), the one with the
    median requests/s."""
    return sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2]


def ingest(kind: str, args: argparse.Namespace, body: Path) -> bool:
    """Measures bare, naive and the service under each serving model on one database,
    ``--rounds`` times in turn (so a change of the machine's load hits every side
    alike; the serving models go first in turn), and judges the median round of each;
    True when the first model meets the goals."""
    bares: list[tuple[LoadResult, Usage]] = []
    naives: list[tuple[LoadResult, Usage]] = []
    services: list[list[Any]] = [[] for _ in args.serve]
    with bench_database(kind) as database:
        credentials = create_clinic(database)
        authorization = f"Bearer {credentials.intake_key}"
        subprocess.run(naive_command(0, 1, database.url) + ["--create"], check=True,
                       env=database.env())
        for round_ in range(args.rounds):
            bares.append(measure_bare(database, body, args))
            naives.append(measure_naive(database, body, args))
            # The models take turns going first: a service run leaves the next one a
            # larger database and events still to seal, so a fixed order favours one.
            for index in _rotated(range(len(args.serve)), round_):
                if args.serve[index].applies_to(kind):
                    services[index].append(measure_service(
                        args.serve[index], database, body, authorization, args))
    print(f"{kind}: {args.workers} workers (bare, naive), concurrency {args.connections}, "
          f"{args.seconds} s per run, median of {args.rounds} round(s)")
    ceiling, ceiling_used = median_run(bares)
    naive, naive_used = median_run(naives)
    print(describe("bare Flask (ceiling)", ceiling, ceiling_used))
    print(rounds_line(bares))
    print(describe("naive durable app", naive, naive_used))
    print(rounds_line(naives))
    results = []
    for model, runs in zip(args.serve, services, strict=True):
        if not runs:
            continue
        measured, measured_used, keyed, sealing = median_run(runs)
        print(describe(model.name(), measured, measured_used))
        print(rounds_line(runs))
        if keyed is not None:
            print(describe("  + Idempotency-Key", *keyed))
        sealed_in_time = True
        if sealing is not None:
            sealed_in_time = sealing["max_wait_s"] < GOAL_SEAL_WAIT_S
            print(f"  {'':<22} audit sealing ({sealing['samples']:.0f} samples): oldest "
                  f"waiting event p99 {sealing['p99_wait_s']:.2f} s, max "
                  f"{sealing['max_wait_s']:.2f} s (goal < {GOAL_SEAL_WAIT_S:.0f} s); "
                  f"{sealing['waiting']:.0f} left when stopped")
        ratio = measured.rps / ceiling.rps if ceiling.rps else 0.0
        naive_ratio = measured.rps / naive.rps if naive.rps else 0.0
        ok = (ratio >= GOAL_RATIO and naive_ratio >= GOAL_NAIVE_RATIO
              and measured.errors == 0 and measured.p99_ms < GOAL_P99_MS and sealed_in_time)
        print(f"  {'':<22} /bare {ratio:.2f} (goal >= {GOAL_RATIO}), /naive "
              f"{naive_ratio:.2f} (goal >= {GOAL_NAIVE_RATIO}); p99 goal < "
              f"{GOAL_P99_MS:.0f} ms; {'OK' if ok else 'GOAL MISSED'}")
        results.append(ok)
    return results[0]


def _rotated(items: Any, by: int) -> list[Any]:
    """``items`` in order, starting at the one ``by`` places on (wrapping round)."""
    items = list(items)
    start = by % len(items) if items else 0
    return items[start:] + items[:start]


def rounds_line(runs: list[Any]) -> str:
    """Every round's requests/s and p99, in the order run."""
    return f"  {'':<22} rounds: " + ", ".join(
        f"{run[0].rps:.0f}/s p99 {run[0].p99_ms:.0f} ms" for run in runs)


def measure_service(model: ServingModel, database: BenchDatabase, body: Path,
                    authorization: str, args: argparse.Namespace
                    ) -> tuple[LoadResult, Usage, tuple[LoadResult, Usage] | None,
                               dict[str, float] | None]:
    """The service under ``model``: plain run, keyed run (``--idempotency``), sealing."""
    port = free_port()
    with serve(service_command(port, model.workers), model.env(database),
               port, model.workers) as service:
        run_wrk(service.url + PATH, body=body, authorization=authorization,
                connections=args.connections, seconds=2)  # warm-up
        monitor = start_seal_lag(database.env(), args.code)
        try:
            measured, measured_used = measured_run(service, body, authorization, args)
            keyed = (measured_run(service, body, authorization, args, unique_keys=True)
                     if args.idempotency else None)
        finally:
            sealing = stop_seal_lag(monitor)
    return measured, measured_used, keyed, sealing


def memory(kind: str, args: argparse.Namespace, body: Path) -> bool:
    """Sends at least ``args.memory`` requests to one worker; prints its RSS before/after."""
    with bench_database(kind) as database:
        credentials = create_clinic(database)
        authorization = f"Bearer {credentials.intake_key}"
        port = free_port()
        connections = args.connections
        with serve(service_command(port, 1), database.env(), port, 1) as service:
            (worker,) = service.worker_pids()
            run_wrk(service.url + PATH, body=body, authorization=authorization,
                    connections=connections, seconds=1)
            before = rss_kib(worker)
            sent, errors = 0, 0
            while sent < args.memory:
                result = run_wrk(service.url + PATH, body=body, authorization=authorization,
                                 connections=connections, seconds=args.seconds)
                sent, errors = sent + result.requests, errors + result.errors
            after = rss_kib(worker)
    after_mib = after / 1024
    ok = after_mib < GOAL_RSS_MIB and errors == 0
    print(f"{kind}: one worker, {connections} connections, RSS {before / 1024:.1f} MiB "
          f"after warm-up, {after_mib:.1f} MiB after {sent} more requests ({errors} errors); "
          f"goal < {GOAL_RSS_MIB:.0f} MB; {'OK' if ok else 'GOAL MISSED'}")
    return ok


def main() -> None:
    """Runs the chosen measurements and exits 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=12, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both apps)")
    parser.add_argument("--serve", nargs="+", type=ServingModel.parse, metavar="MODEL",
                        help="serving models to compare, e.g. 2 3 2@100 2=../before")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every side this many times in turn; report medians")
    parser.add_argument("--idempotency", action="store_true",
                        help="also measure with a unique Idempotency-Key per request")
    parser.add_argument("--close", action="store_true",
                        help="a new connection per request (Connection: close), as a "
                             "proxy without keep-alive to its upstream sends them")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="instead: N requests to one worker, RSS before and after")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose service code to serve (default: this one)")
    args = parser.parse_args()
    args.serve = args.serve or [ServingModel(args.workers, named=False)]
    serve_code_from(args.code)
    if args.close:
        os.environ["BENCH_CLOSE"] = "1"  # read by bench/wrk/post.lua, for every side
    on_each_database(args.database, lambda kind, body: (memory if args.memory else ingest)(
        kind, args, body))


if __name__ == "__main__":
    main()
