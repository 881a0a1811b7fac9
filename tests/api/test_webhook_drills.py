"""Drills with real servers (``screening serve``: gunicorn plus its worker) on the test
database and a real receiver: kill -9 of the whole server under load loses no event of an
acknowledged submission, and two app servers with a worker each on one PostgreSQL deliver
every event exactly once, both workers taking part. Each drill is bounded to well under a
minute."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from flask import Flask

from screening.storage.db import app_state
from tests.api.bodies import SUBMISSIONS, routed
from tests.api.conftest import TenantCredentials, bearer
from tests.api.webhook_receiver import Receiver

PRIORITIES = ("critical", "urgent", "high", "routine")
AT_OR_ABOVE_URGENT = {"critical", "urgent"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(database_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``screening serve`` (2 web workers and its background worker) in its own process
    group; killed with the whole group afterwards."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "RATE_LIMIT": "off",
                   "WEBHOOK_ALLOW_PRIVATE": "1", "SECRET_KEY": "k" * 48,
                   "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "screening", "serve", "--port", str(port), "--workers", "2"],
        env=environment, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            assert process.poll() is None, "the server exited"
            time.sleep(0.2)
        yield base, process
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """kill -9 of the server, its web workers and its background worker at once."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def register(base: str, clinic: TenantCredentials, url: str, min_priority: str) -> None:
    response = httpx.post(f"{base}/api/v1/webhooks", headers=clinic.headers("admin"),
                          json={"url": url, "events": ["submission.created"],
                                "min_priority": min_priority}, timeout=10)
    assert response.status_code == 201, response.text


def post_until(bases: list[str], clinic: TenantCredentials, stop: threading.Event,
               acknowledged: dict[str, str], limit: int | None = None, threads: int = 4
               ) -> None:
    """Posts submissions of every priority from ``threads`` threads until ``stop`` (or
    ``limit`` in all); records each acknowledged (201) id with its priority."""
    counter = iter(range(10**9))
    lock = threading.Lock()

    def poster(index: int) -> None:
        base = bases[index % len(bases)]
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                with lock:
                    n = next(counter)
                if limit is not None and n >= limit:
                    return
                priority = PRIORITIES[n % len(PRIORITIES)]
                try:
                    response = client.post(f"{base}{SUBMISSIONS}", json=routed(priority),
                                           headers=bearer(clinic.intake_key))
                except httpx.HTTPError:
                    continue  # the server is being killed: not acknowledged
                if response.status_code == 201:
                    with lock:
                        acknowledged[response.json()["id"]] = priority

    workers = [threading.Thread(target=poster, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)


def delivered_submissions(receiver: Receiver) -> set[str]:
    return {r.json["data"]["submission_id"] for r in list(receiver.received)}


def wait_until_delivered(receiver: Receiver, expected: set[str], timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        missing = expected - delivered_submissions(receiver)
        if not missing:
            return missing
        time.sleep(0.2)
    return expected - delivered_submissions(receiver)


def test_kill_9_under_load_loses_no_acknowledged_event(
        database_url: str, app: Flask, clinic: TenantCredentials) -> None:
    """Every acknowledged submission at or above the endpoint's ``min_priority`` is
    delivered after a restart; on SQLite and on PostgreSQL (whichever the run targets)."""
    receiver = Receiver()
    acknowledged: dict[str, str] = {}
    try:
        with served(database_url) as (base, process):
            register(base, clinic, receiver.url, "urgent")
            stop = threading.Event()
            load = threading.Thread(target=post_until, args=([base], clinic, stop, acknowledged))
            load.start()
            time.sleep(3)
            kill_group(process)  # mid-load: requests in flight, deliveries in flight
            stop.set()
            load.join(timeout=30)
        expected = {sid for sid, p in acknowledged.items() if p in AT_OR_ABOVE_URGENT}
        assert len(expected) > 20, "the load did not get going"
        with served(database_url):
            missing = wait_until_delivered(receiver, expected, timeout=40)
        assert missing == set(), f"{len(missing)} of {len(expected)} acknowledged events lost"
        below = {sid for sid, p in acknowledged.items() if p not in AT_OR_ABOVE_URGENT}
        assert not below & delivered_submissions(receiver)
    finally:
        receiver.stop()


def test_two_app_servers_on_postgresql_deliver_1000_events_exactly_once(
        database_url: str, app: Flask, clinic: TenantCredentials) -> None:
    if app_state(app).settings.is_sqlite:
        pytest.skip("several workers share the outbox on PostgreSQL")
    workers: list[int] = []
    receiver = Receiver(observe=lambda client: socket_owner(client[1], workers))
    acknowledged: dict[str, str] = {}
    try:
        with served(database_url) as (first, one), served(database_url) as (second, two):
            workers += [background_worker(one), background_worker(two)]
            register(first, clinic, receiver.url, "routine")
            post_until([first, second], clinic, threading.Event(), acknowledged, limit=1000,
                       threads=8)
            assert len(acknowledged) == 1000
            receiver.wait_for(1000, timeout=40)
            time.sleep(1)  # a duplicate would arrive now
        ids = receiver.ids()
        assert len(ids) == len(set(ids)) == 1000
        assert delivered_submissions(receiver) == set(acknowledged)
        by_worker = Counter(r.note for r in receiver.received)
        assert by_worker[workers[0]] > 0 and by_worker[workers[1]] > 0, by_worker
        assert by_worker[workers[0]] + by_worker[workers[1]] == 1000
    finally:
        receiver.stop()


def background_worker(server: subprocess.Popen[bytes]) -> int:
    """The pid of the ``screening worker`` that ``screening serve`` started."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        for pid in children:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"worker" in arguments:
                return int(pid)
        time.sleep(0.1)
    raise AssertionError("the server started no background worker")


def socket_owner(port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the TCP socket bound to local ``port`` (Linux ``/proc``):
    which worker process sent the request that came from that port."""
    inodes = {fields[9]
              for table in ("/proc/net/tcp", "/proc/net/tcp6")
              for fields in (line.split() for line in Path(table).read_text().splitlines()[1:])
              if int(fields[1].rsplit(":", 1)[1], 16) == port}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    return pid
            except OSError:
                continue
    return None
