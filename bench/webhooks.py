"""Webhooks under the ingest benchmark's full load: time from a submission's 201 to the
receiver's arrival of its ``submission.created``, and what one active endpoint costs
ingest throughput.

For each database (SQLite in a temporary directory, the PostgreSQL database ``bench``),
starts the service (``screening serve``: gunicorn and its background worker) and a
receiver on 127.0.0.1 (``WEBHOOK_ALLOW_PRIVATE=1``; an asyncio server answering 204 at
once, so that its own cost per request stays small beside the service's), then in the same
run:

1. wrk at full load with **no endpoint** (the outbox row is still written);
2. registers one endpoint for every submission (``min_priority`` routine), wrk again;
3. removes it and runs wrk once more without one (a check on drift within the run).

During each wrk run a probe posts one more submission every 100 ms and notes when its
201 came back; the receiver notes when that submission's event arrived. Prints requests/s
of each run, the ratio with/without an endpoint, and p50/p99 of 201 → arrival.

Run: ``.venv/bin/python bench/webhooks.py [--database sqlite|postgres|both] [--seconds 12]
[--connections 16] [--workers 2]``. Needs ``wrk``.
Goals: p99 201 → arrival < 1 s; throughput with one endpoint >= 0.9 x without.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.harness import (  # noqa: E402
    LoadResult,
    bench_database,
    create_clinic,
    free_port,
    on_each_database,
    run_cli,
    run_wrk,
    serve,
    service_command,
    usage,
)

PATH = "/api/v1/submissions"
PROBE_INTERVAL_S = 0.1
GOAL_P99_S = 1.0
GOAL_RATIO = 0.9


class _Receiving(asyncio.Protocol):
    """One connection to the receiver: HTTP/1.1 requests with a ``Content-Length`` body,
    answered 204 at once (keep-alive, pipelining tolerated)."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        answers = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                break
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.arrivals.arrived(body, now)
            answers += 1
        if answers and self.transport is not None:
            self.transport.write(_NO_CONTENT * answers)


_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Arrivals:
    """The receiver: a lean asyncio server on its own thread (it shares the machine with
    the service, so it must cost little per request). Counts deliveries and notes when
    each submission's event first arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.count = 0
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(self._loop.create_server(
            lambda: _Receiving(self), "127.0.0.1", 0))
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def arrived(self, body: bytes, now: float) -> None:
        """Notes one delivery (on the receiver's thread)."""
        self.count += 1
        submission = orjson.loads(body)["data"].get("submission_id")
        self.at.setdefault(submission, now)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class Probe(threading.Thread):
    """Posts one submission every ``PROBE_INTERVAL_S`` on one keep-alive connection
    (opened before wrk's, so it holds one of the server's connection slots: wrk then runs
    ``--connections`` minus one); notes each 201's time."""

    def __init__(self, url: str, body: bytes, authorization: str) -> None:
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(url)
        self.path, self.body = parts.path, body
        self.headers = {"Content-Type": "application/json", "Authorization": authorization}
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.connection.connect()
        self.acknowledged: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(PROBE_INTERVAL_S):
            try:
                self.connection.request("POST", self.path, body=self.body,
                                        headers=self.headers)
                response = self.connection.getresponse()
                answer = json.loads(response.read())
            except (OSError, http.client.HTTPException):
                self.connection.close()  # reconnects on the next request
                continue
            if response.status == 201:
                self.acknowledged[answer["id"]] = time.time()
        self.connection.close()


def loaded_run(url: str, body: Path, raw_body: bytes, authorization: str,
               args: argparse.Namespace) -> tuple[LoadResult, Probe]:
    """wrk at full load with the probe running beside it."""
    probe = Probe(url, raw_body, authorization)
    probe.start()
    result = run_wrk(url, body=body, authorization=authorization,
                     connections=args.connections - 1, seconds=args.seconds)
    probe.stop.set()
    probe.join()
    return result, probe


def latencies(probe: Probe, arrivals: Arrivals, wait_s: float = 15.0) -> tuple[list[float], int]:
    """201 → arrival of every probe submission (waits for stragglers); and how many never
    arrived within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not set(probe.acknowledged) <= set(arrivals.at):
        time.sleep(0.1)
    seen = [arrivals.at[s] - t for s, t in probe.acknowledged.items() if s in arrivals.at]
    return sorted(seen), len(probe.acknowledged) - len(seen)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


def measure(kind: str, args: argparse.Namespace, body: Path) -> bool:
    """The three runs on one database; True when the goals are met."""
    arrivals = Arrivals()
    raw_body = body.read_bytes()
    # The receiver listens on 127.0.0.1: the server and the command line must allow it.
    os.environ["WEBHOOK_ALLOW_PRIVATE"] = "1"
    try:
        with bench_database(kind) as database:
            credentials = create_clinic(database)
            authorization = f"Bearer {credentials.intake_key}"
            env = database.env()
            port = free_port()
            with serve(service_command(port, args.workers), env, port, args.workers) as server:
                url = server.url + PATH
                run_wrk(url, body=body, authorization=authorization,
                        connections=args.connections, seconds=2)  # warm-up
                without, _ = loaded_run(url, body, raw_body, authorization, args)
                run_cli(database, "webhooks", "add", credentials.slug, arrivals.url)
                endpoint = run_cli(database, "webhooks", "list", credentials.slug).split()[0]
                before, received_before = usage(server.background_pids()), arrivals.count
                with_one, probe = loaded_run(url, body, raw_body, authorization, args)
                seen, lost = latencies(probe, arrivals)
                worker_used = usage(server.background_pids()) - before
                sent = max(arrivals.count - received_before, 1)
                _delete(server.url, database, credentials.slug, endpoint)
                after, _ = loaded_run(url, body, raw_body, authorization, args)
    finally:
        arrivals.close()
    ratio = with_one.rps / without.rps if without.rps else 0.0
    p50, p99 = percentile(seen, 0.5), percentile(seen, 0.99)
    print(f"{kind}: {args.workers} web workers + 1 background worker, concurrency "
          f"{args.connections} (wrk {args.connections - 1} + the probe), "
          f"{args.seconds} s per run")
    for name, result in (("no endpoint", without), ("one endpoint", with_one),
                         ("no endpoint again", after)):
        print(f"  {name:<18} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
              f"p99 {result.p99_ms:6.2f} ms  {result.errors} errors")
    print(f"  deliveries received {arrivals.count}; probe: {len(seen)} submissions, "
          f"201 -> arrival p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {max(seen, default=float('nan')) * 1000:.0f} ms, {lost} not arrived")
    print(f"  background worker CPU per delivery "
          f"{(worker_used.user + worker_used.system) * 1000 / sent:.2f} ms")
    ok = (p99 < GOAL_P99_S and lost == 0 and ratio >= GOAL_RATIO
          and with_one.errors == 0 and statistics.fmean([without.rps, after.rps]) > 0)
    print(f"  throughput one endpoint / none {ratio:.2f} (goal >= {GOAL_RATIO}); "
          f"p99 goal < {GOAL_P99_S:.0f} s; {'OK' if ok else 'GOAL MISSED'}")
    return ok


def _delete(base: str, database: Any, slug: str, endpoint: str) -> None:
    """Deletes the endpoint through the API, with an admin made for it."""
    token = run_cli(database, "users", "create", slug, f"admin-{endpoint[:8]}@{slug}.example",
                    "--role", "admin")
    request = urllib.request.Request(f"{base}/api/v1/webhooks/{endpoint}", method="DELETE",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def main() -> None:
    """Runs the measurement on the chosen databases; exits 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=12, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn web workers")
    args = parser.parse_args()
    on_each_database(args.database, lambda kind, body: measure(kind, args, body))


if __name__ == "__main__":
    main()
