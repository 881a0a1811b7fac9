"""Writer scaling on PostgreSQL: does adding app servers add write capacity?

Ingest (``POST /api/v1/submissions``) against 1, 2 and 4 app servers, each its own
``screening serve --workers 1`` on its own port, driven by one wrk per server with the
connections shared out; first with the code of ``--before DIR`` (e.g. a checkout of the
commit where every write locked the audit chain head, or of the previous serving model),
then with this checkout's, in one run. Prints the total requests/s, the worst server's p99
and the errors of each, each line named after its checkout's folder.

Run: ``.venv/bin/python bench/writers.py --before /path/to/old/checkout [--seconds 10]
[--connections 16]``. Uses the PostgreSQL database ``$BENCH_PG_DB`` (default ``bench``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import (  # noqa: E402
    ROOT,
    LoadResult,
    bench_database,
    create_clinic,
    example_body,
    free_port,
    machine,
    require_wrk,
    run_wrk,
    serve,
    service_command,
)
from bench.ingest import PATH  # noqa: E402

SERVERS = (1, 2, 4)


@contextmanager
def code_of(checkout: Path) -> Iterator[None]:
    """Subprocesses started in the block run ``checkout``'s service code (read-only)."""
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    if checkout.resolve() != ROOT:
        os.environ.update(PYTHONPATH=str(checkout.resolve()), PYTHONDONTWRITEBYTECODE="1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def drive(urls: list[str], body: Path, authorization: str, connections: int,
          seconds: int) -> LoadResult:
    """One wrk per URL at once, ``connections`` shared out; the totals."""
    results: list[LoadResult] = []
    share = max(1, connections // len(urls))

    def one(url: str) -> None:
        results.append(run_wrk(url + PATH, body=body, authorization=authorization,
                               connections=share, seconds=seconds, threads=1))

    threads = [threading.Thread(target=one, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(sum(r.requests for r in results), max(r.seconds for r in results),
                      sum(r.errors for r in results), max(r.p50_ms for r in results),
                      max(r.p99_ms for r in results))


def measure(checkout: Path, servers: int, body: Path, args: argparse.Namespace) -> LoadResult:
    """Ingest against ``servers`` single-worker app servers of ``checkout``'s code."""
    with code_of(checkout), bench_database("postgres") as database, ExitStack() as stack:
        credentials = create_clinic(database)
        authorization = f"Bearer {credentials.intake_key}"
        urls = []
        for _ in range(servers):
            port = free_port()
            urls.append(stack.enter_context(
                serve(service_command(port, 1), database.env(), port, 1)).url)
        drive(urls, body, authorization, args.connections, 2)  # warm-up
        return drive(urls, body, authorization, args.connections, args.seconds)


def main() -> None:
    """Runs both codes at 1, 2 and 4 servers and prints a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    require_wrk()
    print(f"machine: {machine()}")
    print(f"PostgreSQL, concurrency {args.connections} shared by the servers, "
          f"{args.seconds} s per run")
    with example_body() as body:
        for name, checkout in ((f"{args.before.name} (before)", args.before),
                               (f"{ROOT.name} (this checkout)", ROOT)):
            for servers in SERVERS:
                result = measure(checkout, servers, body, args)
                print(f"  {name:<26} {servers} server(s): {result.rps:8.1f} req/s  "
                      f"p99 {result.p99_ms:7.2f} ms  {result.errors} errors", flush=True)


if __name__ == "__main__":
    main()
