"""Mixed load: what two clinicians see while ingest runs flat out.

For each database, starts the service (``screening serve --workers 2``, whose worker
seals the audit log when the code has one) and, while wrk posts
submissions at full speed, two clinicians each loop over the review cycle on keep-alive
connections: ``POST /api/v1/queue/next`` (claim; audited), ``GET`` the full submission
(audited read), ``POST .../decision`` with ``If-Match``. Prints ingest requests/s and p99,
and the clinicians' p50/p99 per step and overall. Goal: clinicians' p99 < 50 ms.

Run: ``.venv/bin/python bench/mixed.py [--database sqlite|postgres|both] [--seconds 10]
[--connections 16] [--workers 2] [--code DIR]`` (``--code``: serve another
checkout's code, read-only).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import (  # noqa: E402
    ROOT,
    bench_database,
    create_clinic,
    free_port,
    on_each_database,
    run_cli,
    run_wrk,
    serve,
    serve_code_from,
    service_command,
)
from bench.ingest import PATH  # noqa: E402

GOAL_P99_MS = 50.0
STEPS = ("claim", "read", "decide")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def clinician(port: int, token: str, stop: threading.Event,
              timings: dict[str, list[float]], failures: list[int]) -> None:
    """Claims, reads and decides until ``stop``; appends each step's milliseconds and the
    status of any unexpected answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(step: str, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        payload = None
        if body is not None:
            payload, sent["Content-Type"] = json.dumps(body), "application/json"
        started = time.perf_counter()
        connection.request(method, url, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        timings[step].append((time.perf_counter() - started) * 1000)
        parsed = json.loads(data) if data and response.status == 200 else None
        return response.status, response.getheader("ETag") or "", parsed

    while not stop.is_set():
        status, _, claimed = call("claim", "POST", "/api/v1/queue/next")
        if status != 200:
            if status != 204:
                failures.append(status)
            time.sleep(0.01)
            continue
        url = f"/api/v1/submissions/{claimed['id']}"
        status, etag, document = call("read", "GET", url)
        if status != 200:
            failures.append(status)
            continue
        flags = [flag["id"] for flag in document["evaluation"]["flags"]]
        status, _, _ = call("decide", "POST", f"{url}/decision",
                            {"outcome": "needs_more_information",
                             "acknowledged_flags": flags}, {"If-Match": etag})
        if status != 200:
            failures.append(status)


def mixed(kind: str, args: argparse.Namespace, body: Path) -> bool:
    """Ingest flat out with two clinicians reviewing; True when their p99 meets the goal."""
    with bench_database(kind) as database:
        credentials = create_clinic(database)
        second = run_cli(database, "users", "create", credentials.slug,
                         f"second@{credentials.slug}.example", "--role", "clinician")
        authorization = f"Bearer {credentials.intake_key}"
        port = free_port()
        with serve(service_command(port, args.workers), database.env(), port,
                   args.workers) as service:
            run_wrk(service.url + PATH, body=body, authorization=authorization,
                    connections=args.connections, seconds=2)  # warm-up, fills the queue
            timings: dict[str, list[float]] = {step: [] for step in STEPS}
            failures: list[int] = []
            stop = threading.Event()
            reviewers = [threading.Thread(target=clinician,
                                          args=(port, token, stop, timings, failures))
                         for token in (credentials.clinician_token, second)]
            try:
                for reviewer in reviewers:
                    reviewer.start()
                ingest = run_wrk(service.url + PATH, body=body, authorization=authorization,
                                 connections=args.connections, seconds=args.seconds)
            finally:
                stop.set()
                for reviewer in reviewers:
                    reviewer.join(30)
    every = [ms for step in STEPS for ms in timings[step]]
    print(f"{kind}: ingest {ingest.rps:.1f} req/s, p99 {ingest.p99_ms:.1f} ms, "
          f"{ingest.errors} errors, concurrency {args.connections}, {args.seconds} s")
    for step in STEPS:
        values = timings[step]
        print(f"  clinicians {step:<7} {len(values):5d} requests  "
              f"p50 {statistics.median(values or [0.0]):7.2f} ms  "
              f"p99 {percentile(values, 0.99):7.2f} ms")
    p99 = percentile(every, 0.99)
    ok = p99 < GOAL_P99_MS and not failures and ingest.errors == 0
    print(f"  clinicians overall p99 {p99:.2f} ms (goal < {GOAL_P99_MS:.0f} ms), "
          f"{len(failures)} unexpected answers; {'OK' if ok else 'GOAL MISSED'}")
    return ok


def main() -> None:
    """Runs the mixed load on the chosen databases; exits 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose service code to serve (default: this one)")
    args = parser.parse_args()
    serve_code_from(args.code)
    on_each_database(args.database, lambda kind, body: mixed(kind, args, body))


if __name__ == "__main__":
    main()
