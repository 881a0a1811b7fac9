"""The worker (``screening worker``): its jobs, the SQLite lease that lets one worker work
at a time, the CLI end to end with a real receiver, and a graceful stop on SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from standardwebhooks.webhooks import Webhook

from screening.cli import main
from screening.notify.delivery import delivery_job
from screening.server import worker
from screening.storage.db import AppState, app_state, utcnow
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import submit
from tests.api.test_webhooks_delivery import deliveries, register
from tests.api.webhook_receiver import Receiver


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")
    return lambda *args: CliRunner().invoke(main, list(args))


def test_cli_adds_an_endpoint_queues_a_test_event_and_the_worker_delivers_it(
        cli: Callable[..., Any], clinic: TenantCredentials, app: Flask) -> None:
    receiver = Receiver()
    try:
        added = cli("webhooks", "add", clinic.slug, receiver.url, "--min-priority", "urgent")
        assert added.exit_code == 0, added.output
        secret = added.stdout.strip().splitlines()[-1]
        endpoint_id = added.stdout.split()[1]
        listed = cli("webhooks", "list", clinic.slug)
        assert endpoint_id in listed.stdout and secret not in listed.stdout
        assert cli("webhooks", "test", clinic.slug, endpoint_id).exit_code == 0
        ran = cli("worker", "--once")
        assert ran.exit_code == 0, ran.output
        [got] = receiver.wait_for(1)
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    finally:
        receiver.stop()


def test_cli_refuses_a_private_address_without_the_setting(
        cli: Callable[..., Any], clinic: TenantCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE")
    result = cli("webhooks", "add", clinic.slug, "https://127.0.0.1/hook")
    assert result.exit_code == 1
    assert "url:" in result.stderr and "127.0.0.1" not in result.stderr


def test_a_failing_job_does_not_stop_the_others(app: Flask) -> None:
    ran: list[str] = []

    def broken(state: AppState) -> int:
        raise RuntimeError("boom")

    def working(state: AppState) -> int:
        ran.append("working")
        return 1

    assert worker.tick(app_state(app), (broken, working)) == 1
    assert ran == ["working"]


def test_a_failing_run_of_the_lanes_is_logged_and_the_pause_still_lasts(
        app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A bug in the lanes' loop must not end the thread that ticks the deliveries (nor
    make it spin): the pause is logged and waited out, and the next tick comes."""
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(worker, "pump_delivery", broken)
    started = time.monotonic()
    worker._pause(app_state(app), 0.2, threading.Event(), delivering=True)
    assert time.monotonic() - started >= 0.2
    assert "running the webhook lanes failed" in caplog.text


def test_run_once_stops_when_every_job_is_idle(app: Flask) -> None:
    counts = [2, 1, 0]
    worker.run(app_state(app), once=True, jobs=(lambda state: counts.pop(0),))
    assert counts == []


def test_on_sqlite_one_worker_holds_the_lease_and_the_other_idles(app: Flask) -> None:
    state = app_state(app)
    if not state.settings.is_sqlite:
        pytest.skip("the lease is SQLite's")
    now = utcnow()
    assert worker.hold_lease(state, "a", now)
    assert not worker.hold_lease(state, "b", now)
    assert worker.hold_lease(state, "a", now + dt.timedelta(seconds=5))  # renewed
    assert not worker.hold_lease(state, "b", now + dt.timedelta(seconds=19))
    # a holder that stopped renewing (killed) loses it once it lapses
    assert worker.hold_lease(state, "b", now + dt.timedelta(seconds=21))
    worker.release_lease(state, "b")
    assert worker.hold_lease(state, "a", now)


def test_on_sqlite_a_worker_stops_working_before_its_lease_lets_another_in(app: Flask) -> None:
    state = app_state(app)
    if not state.settings.is_sqlite:
        pytest.skip("the lease is SQLite's")
    start = utcnow()
    now = [start]
    first = worker.Lease(state, "a", clock=lambda: now[0])
    second = worker.Lease(state, "b", clock=lambda: now[0])
    lease = dt.timedelta(seconds=worker.LEASE_S)
    assert first.renew()
    assert not second.renew()
    now[0] = start + lease * 0.79
    assert first.held()
    now[0] = start + lease * 0.8
    assert not first.held()  # it stops working here...
    now[0] = start + lease * 0.99
    assert not second.renew()  # ...while its row still keeps the other out
    now[0] = start + lease
    assert second.renew()
    assert not first.renew()
    # A renewal counts from when it began, not from when its write ended.
    ticks = iter([start + lease * 2, start + lease * 2.85])
    slow = worker.Lease(state, "b", clock=lambda: next(ticks))
    assert not slow.renew()  # its write took most of the lease: not held


def test_on_sqlite_a_main_job_longer_than_the_lease_keeps_it(
        make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = app_state(make_app()), app_state(make_app())
    if not first.settings.is_sqlite:
        pytest.skip("the lease is SQLite's")
    monkeypatch.setattr(worker, "LEASE_S", 1.5)
    in_long_job, long_job_done = threading.Event(), threading.Event()
    first_ticks: list[float] = []
    second_ticks: list[float] = []

    def long_job(state: AppState) -> int:  # sealing a flood of audit events, say
        if not in_long_job.is_set():
            in_long_job.set()
            time.sleep(3 * worker.LEASE_S)
            long_job_done.set()
        return 0

    def counting(ticks: list[float]) -> worker.Job:
        return lambda state: ticks.append(time.monotonic()) or 0

    stop_first, stop_second = threading.Event(), threading.Event()
    workers = [
        threading.Thread(target=worker.run, args=(first,), kwargs={
            "stop": stop_first, "jobs": (long_job,), "prompt_jobs": (counting(first_ticks),)}),
        threading.Thread(target=worker.run, args=(second,), kwargs={
            "stop": stop_second, "jobs": (counting(second_ticks),),
            "prompt_jobs": (counting(second_ticks),)}),
    ]
    workers[0].start()
    try:
        assert in_long_job.wait(30)
        workers[1].start()
        assert long_job_done.wait(30)
        assert second_ticks == []  # never while the first holds the lease
        assert first_ticks  # which still delivers meanwhile
        stop_first.set()
        workers[0].join(30)
        deadline = time.monotonic() + 10
        while not second_ticks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second_ticks  # it takes over once the first stops
    finally:
        stop_first.set()
        stop_second.set()
        for thread in workers:
            if thread.ident is not None:  # started
                thread.join(30)


def test_on_postgresql_every_worker_works(app: Flask) -> None:
    state = app_state(app)
    if state.settings.is_sqlite:
        pytest.skip("PostgreSQL workers share the work")
    assert worker.hold_lease(state, "a", utcnow())
    assert worker.hold_lease(state, "b", utcnow())
    first, second = worker.Lease(state, "a"), worker.Lease(state, "b")
    first.start()
    second.start()
    assert first.held() and second.held()
    first.close()
    second.close()


def wait_until_it_catches_sigterm(process: subprocess.Popen[bytes]) -> None:
    """Until the worker has installed its SIGTERM handler (``SigCgt`` in /proc): a fixed
    pause is too short on a loaded machine, where starting Python takes seconds."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None
        status = Path(f"/proc/{process.pid}/status").read_text()
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.1)
    raise TimeoutError("the worker never installed its SIGTERM handler")


def test_sigterm_stops_the_worker_gracefully(database_url: str, app: Flask) -> None:
    environment = {**os.environ, "DATABASE_URL": database_url}
    process = subprocess.Popen([sys.executable, "-m", "screening", "worker"], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_it_catches_sigterm(process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
        assert process.returncode == 0, stderr.decode()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_without_a_prompt_thread_the_main_loop_reads_answers_while_idle(
        make_app: Callable[..., Flask], clinic: TenantCredentials) -> None:
    """``run(..., prompt_jobs=())`` with the delivery job among the main loop's: the lanes
    are that loop's, so its idle pauses run them too (an answer that comes after the
    first pause is not left unread until a later event makes a tick busy)."""
    app = make_app(WEBHOOK_ALLOW_PRIVATE="1")
    client = app.test_client()
    slow = Receiver(script=[("sleep", 0.5)])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(app_state(app),), kwargs={
        "stop": stop, "jobs": (delivery_job,), "prompt_jobs": ()})
    try:
        register(client, clinic, slow.url)
        submit(client, clinic, routed("critical"))
        thread.start()
        deadline = time.monotonic() + 5
        while [d.state for d in deliveries(app)] != ["delivered"]:
            assert time.monotonic() < deadline, [d.state for d in deliveries(app)]
            time.sleep(0.05)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(30)
        slow.stop()
