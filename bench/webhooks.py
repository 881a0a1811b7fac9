"""Webhooks under the ingest benchmark's full load: time from a submission's 201 to the
receiver's arrival of its ``submission.created``, and what one active endpoint costs
ingest throughput.

For each database (SQLite in a temporary directory, the PostgreSQL database ``bench``),
starts the service (``screening serve``: gunicorn and its background worker) and a
receiver on 127.0.0.1 (``WEBHOOK_ALLOW_PRIVATE=1``; a lean server answering 204 at once,
on a thread of this process: it shares the machine, and its CPU is reported), then in the same
run:

1. wrk at full load with **no endpoint** (the outbox row is still written);
2. registers one endpoint for every submission (``min_priority`` routine), wrk again;
3. removes it and runs wrk once more without one (a check on drift within the run);
   ``--rounds N`` repeats 2 and 3 N times, so that on a noisy machine every run with an
   endpoint sits between two without.

During each wrk run a probe posts one more submission every 100 ms and notes when its
201 came back; the receiver notes when that submission's event arrived. Prints requests/s
of each run, the ratio of the mean with an endpoint to the mean without, p50/p99 of
201 → arrival, and the background worker's CPU with and without an endpoint.

Run: ``.venv/bin/python bench/webhooks.py [--database sqlite|postgres|both] [--seconds 12]
[--connections 16] [--workers 2] [--rounds 1]``. Needs ``wrk``.
Goals: p99 201 → arrival < 1 s; throughput with one endpoint >= 0.9 x without.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
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


_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Arrivals:
    """The receiver: HTTP/1.1 POSTs with a ``Content-Length`` body, each answered 204 at
    once (keep-alive, pipelining tolerated), on one thread of this process that polls its
    sockets itself (``selectors``). It shares the two cores with the service, so its own
    CPU per request must stay small: a loop of ``recv``/``send`` costs a fraction of an
    asyncio server's per request. Counts deliveries, notes when each submission's event
    first arrived, and measures its own CPU (``cpu_seconds``)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.count = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._buffers: dict[socket.socket, bytes] = {}
        self._cpu = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def cpu_seconds(self) -> float:
        """The receiver thread's CPU time so far (updated about every 0.2 s)."""
        return self._cpu

    def _serve(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                if key.fileobj is self._listener:
                    self._accept()
                    continue
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    self._read(sock)
                except Exception as error:  # that connection's, not the receiver's
                    # (a client gone while its answer was sent, an unreadable request):
                    # the connection goes, the receiver serves on, as asyncio's did.
                    print(f"receiver: dropped a connection: {error!r}", file=sys.stderr)
                    self._drop(sock)
            self._cpu = time.thread_time()
        for sock in list(self._buffers):
            sock.close()
        self._selector.close()
        self._listener.close()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:  # none waiting, or one that failed in the queue
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffers[sock] = b""
        self._selector.register(sock, selectors.EVENT_READ, None)

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(262144)
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        now = time.time()
        buffer = self._buffers[sock] + data
        answers = 0
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 17)
                length = int(head[at + 17:line_end if line_end >= 0 else None])
            if len(buffer) < end + 4 + length:
                break
            self.arrived(buffer[end + 4:end + 4 + length], now)
            buffer = buffer[end + 4 + length:]
            answers += 1
        self._buffers[sock] = buffer
        if answers:
            sock.sendall(_NO_CONTENT * answers)

    def _drop(self, sock: socket.socket) -> None:
        if self._buffers.pop(sock, None) is not None:
            self._selector.unregister(sock)
        sock.close()

    def arrived(self, body: bytes, now: float) -> None:
        """Notes one delivery (on the receiver's thread)."""
        self.count += 1
        submission = orjson.loads(body)["data"].get("submission_id")
        self.at.setdefault(submission, now)

    def close(self) -> None:
        self._stopping.set()
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


@dataclass
class Runs:
    """The wrk runs of one database, by kind, and what the worker used during them."""

    without: list[LoadResult] = field(default_factory=list)
    with_one: list[LoadResult] = field(default_factory=list)
    worker_cpu_without: float = 0.0  # seconds of CPU over the runs without an endpoint
    worker_cpu_with: float = 0.0
    receiver_cpu: float = 0.0  # seconds of the receiver's CPU over the runs with one
    delivered: int = 0  # deliveries received during the runs with one
    seen: list[float] = field(default_factory=list)  # 201 -> arrival of the probes
    lost: int = 0


def measure(kind: str, args: argparse.Namespace, body: Path) -> bool:
    """The runs on one database (no endpoint, then ``--rounds`` times one endpoint and
    none again); True when the goals are met."""
    arrivals = Arrivals()
    raw_body = body.read_bytes()
    runs = Runs()
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

                def without() -> None:
                    before = usage(server.background_pids())
                    result, _ = loaded_run(url, body, raw_body, authorization, args)
                    used = usage(server.background_pids()) - before
                    runs.without.append(result)
                    runs.worker_cpu_without += used.user + used.system

                without()
                for _ in range(args.rounds):
                    run_cli(database, "webhooks", "add", credentials.slug, arrivals.url)
                    endpoint = run_cli(database, "webhooks", "list", credentials.slug).split()[0]
                    before, received_before = usage(server.background_pids()), arrivals.count
                    receiver_before = arrivals.cpu_seconds
                    result, probe = loaded_run(url, body, raw_body, authorization, args)
                    used = usage(server.background_pids()) - before
                    time.sleep(0.3)  # the receiver's CPU figure is refreshed every 0.2 s
                    runs.receiver_cpu += arrivals.cpu_seconds - receiver_before
                    runs.delivered += arrivals.count - received_before
                    seen, lost = latencies(probe, arrivals)
                    runs.with_one.append(result)
                    runs.worker_cpu_with += used.user + used.system
                    runs.seen += seen
                    runs.lost += lost
                    _delete(server.url, database, credentials.slug, endpoint)
                    without()
    finally:
        arrivals.close()
    return report(kind, args, runs)


def report(kind: str, args: argparse.Namespace, runs: Runs) -> bool:
    """Prints the runs of one database; True when the goals are met."""
    rps_without = statistics.fmean(r.rps for r in runs.without)
    rps_with = statistics.fmean(r.rps for r in runs.with_one)
    ratio = rps_with / rps_without if rps_without else 0.0
    seen = sorted(runs.seen)
    p50, p99 = percentile(seen, 0.5), percentile(seen, 0.99)
    print(f"{kind}: {args.workers} web workers + 1 background worker, concurrency "
          f"{args.connections} (wrk {args.connections - 1} + the probe), "
          f"{args.seconds} s per run, in this order:")
    order = [("no endpoint", runs.without[0])]
    for with_one, again in zip(runs.with_one, runs.without[1:], strict=True):
        order += [("one endpoint", with_one), ("no endpoint again", again)]
    for name, result in order:
        print(f"  {name:<18} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
              f"p99 {result.p99_ms:6.2f} ms  {result.errors} errors")
    print(f"  deliveries received {runs.delivered}; probe: {len(seen)} submissions, "
          f"201 -> arrival p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {max(seen, default=float('nan')) * 1000:.0f} ms, {runs.lost} not arrived")
    # The worker seals the audit log and polls without an endpoint too: what an endpoint
    # adds is the difference between its CPU per second with one and without.
    seconds = args.seconds
    cpu_without = runs.worker_cpu_without / (len(runs.without) * seconds)
    cpu_with = runs.worker_cpu_with / (len(runs.with_one) * seconds)
    per_delivery = runs.worker_cpu_with * 1000 / max(runs.delivered, 1)
    added = (cpu_with - cpu_without) * 1000 / max(runs.delivered / (len(runs.with_one)
                                                                     * seconds), 1)
    print(f"  background worker CPU: {cpu_without * 1000:.0f} ms/s without an endpoint, "
          f"{cpu_with * 1000:.0f} ms/s with one; per delivery {per_delivery:.2f} ms "
          f"in all, {added:.2f} ms added by the endpoint")
    print(f"  receiver (on these cores too, in the bench process): "
          f"{runs.receiver_cpu * 1000 / (len(runs.with_one) * seconds):.0f} ms/s of CPU, "
          f"{runs.receiver_cpu * 1000 / max(runs.delivered, 1):.2f} ms per delivery")
    ok = (p99 < GOAL_P99_S and runs.lost == 0 and ratio >= GOAL_RATIO
          and all(r.errors == 0 for r in runs.with_one))
    print(f"  throughput one endpoint / none (means) {ratio:.2f} (goal >= {GOAL_RATIO}); "
          f"p99 goal < {GOAL_P99_S:.0f} s; {'OK' if ok else 'GOAL MISSED'}")
    return ok


def _delete(base: str, database: Any, slug: str, endpoint: str) -> None:
    """Deletes the endpoint through the API, with an admin made for it."""
    token = run_cli(database, "users", "create", slug, f"admin-{endpoint[-12:]}@{slug}.example",
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
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs with one endpoint, each followed by one without")
    args = parser.parse_args()
    on_each_database(args.database, lambda kind, body: measure(kind, args, body))


if __name__ == "__main__":
    main()
