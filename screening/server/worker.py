"""The background worker (``screening worker``): webhook delivery, escalation, the
sealing of the audit log and, on SQLite, the WAL checkpoint.

A job is a plain function ``job(state: AppState) -> int`` returning the units of work it
did (0: idle). The worker runs every job of ``JOBS`` each tick on its main thread, and the
``PROMPT_JOBS`` (webhook delivery) on a thread of their own, so that a long run of another
job (sealing a flood of audit events) never holds a delivery back; between its ticks that
thread sends the attempts in flight (``DeliveryPool.pump``). Each loop sleeps
``IDLE_SLEEP_S`` when its jobs were idle, and pauses ``BUSY_PAUSE_S`` otherwise. With
``--once`` all jobs run in turn on one thread until idle. SIGTERM (and SIGINT) stop it
after the current ticks; deliveries in flight finish first.

Several workers may run, one per app server, and any may be killed at any moment. On
PostgreSQL they share the work (each job takes its rows with ``FOR UPDATE SKIP LOCKED``
or a conditional ``UPDATE``); on SQLite the worker holding the ``worker`` lease row works
and the others idle until it lapses (``LEASE_S`` after its holder stopped renewing it).
A thread of its own renews the lease (``Lease``), so no job, however long, lets it lapse
while its worker still works.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import update

from screening.notify.delivery import delivery_job, pump_delivery, stop_delivery
from screening.notify.escalation import CHECK_EVERY_S, escalation_job
from screening.server.sealer import SEAL_INTERVAL_SECONDS, seal_job
from screening.storage.db import AppState, utcnow
from screening.storage.models import WorkerLease

Job = Callable[[AppState], int]


def every(seconds: float, job: Job) -> Job:
    """``job``, run at most once every ``seconds`` by this process (idle in between)."""
    last_run: dict[int, float] = {}

    def throttled(state: AppState) -> int:
        key = id(state)
        if time.monotonic() - last_run.get(key, -seconds) < seconds:
            return 0
        last_run[key] = time.monotonic()
        return job(state)

    throttled.__name__ = job.__name__
    return throttled


WAL_CHECKPOINT_INTERVAL_S = 1.0


def wal_checkpoint_job(state: AppState) -> int:
    """SQLite: copies the WAL back into the database file (``Database.checkpoint_wal``),
    which the requests leave to the worker. Upkeep, not work: always returns 0."""
    state.db.checkpoint_wal()
    return 0


JOBS: tuple[Job, ...] = (
    every(CHECK_EVERY_S, escalation_job),
    every(SEAL_INTERVAL_SECONDS, seal_job),
    every(WAL_CHECKPOINT_INTERVAL_S, wal_checkpoint_job),
)
"""The jobs of the main loop, run in this order each tick."""
PROMPT_JOBS: tuple[Job, ...] = (delivery_job,)
"""The jobs of the prompt loop (its own thread): what must not wait behind the others."""

IDLE_SLEEP_S = 0.1
# After a busy tick: a short pause lets events accumulate, so that under load one tick's
# transaction carries many deliveries instead of a few (a tick costs about as much as
# several deliveries, and on SQLite holds the single writer lock ingest needs); well
# inside the one second a crisis event may take to arrive.
BUSY_PAUSE_S = 0.1
LEASE_S = 15
# A worker starts work only while less than this part of the lease has passed since its
# last renewal began: if renewals stall, it stops before its row lets another worker in.
LEASE_HELD_FRACTION = 0.8
LEASE_RETRY_S = 1.0  # how often a worker without the lease tries to take it
PARENT_ENV = "SCREENING_WORKER_PARENT"  # set by ``screening serve``: stop when it dies

log = logging.getLogger("screening.worker")


def hold_lease(state: AppState, holder: str, now: dt.datetime) -> bool:
    """Takes or renews the ``worker`` lease for ``holder``; False while another live
    worker holds it. Always True on PostgreSQL, where workers share the work."""
    if not state.settings.is_sqlite:
        return True
    expires_at = now + dt.timedelta(seconds=LEASE_S)
    with state.db.write_sessions() as session:  # BEGIN IMMEDIATE: one worker at a time
        lease = session.get(WorkerLease, "worker")
        if lease is None:
            session.add(WorkerLease(name="worker", holder=holder, expires_at=expires_at))
        elif lease.holder in (holder, None) or (lease.expires_at or now) <= now:
            lease.holder, lease.expires_at = holder, expires_at
        else:
            return False
        session.commit()
    return True


def release_lease(state: AppState, holder: str) -> None:
    """Gives the lease up at a graceful stop, so another worker takes over at once."""
    if not state.settings.is_sqlite:
        return
    with state.db.write_sessions() as session:
        session.execute(update(WorkerLease)
                        .where(WorkerLease.name == "worker", WorkerLease.holder == holder)
                        .values(holder=None, expires_at=None))
        session.commit()


class Lease:
    """This worker's hold on the SQLite ``worker`` lease, renewed every ``LEASE_S / 3`` by
    a thread of its own (``start``), so that a long job on the main loop never keeps it
    from being renewed. Always held on PostgreSQL, where workers share the work."""

    def __init__(self, state: AppState, holder: str,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.state = state
        self.holder = holder
        self._clock = clock
        self._renewal_began: dt.datetime | None = None  # of the last successful renewal
        self._taken = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def held(self) -> bool:
        """Whether this worker may work now: it holds the lease and less than
        ``LEASE_HELD_FRACTION`` of it has passed since its last renewal began."""
        if not self.state.settings.is_sqlite:
            return True
        began = self._renewal_began
        return began is not None and (
            self._clock() - began < dt.timedelta(seconds=LEASE_S * LEASE_HELD_FRACTION))

    def renew(self) -> bool:
        """Takes or renews the lease once (``hold_lease``); returns ``held()``. A failed
        write (the database busy) leaves the last renewal in force until it runs out."""
        began = self._clock()
        try:
            if hold_lease(self.state, self.holder, began):
                self._renewal_began, self._taken = began, True
            else:
                self._renewal_began = None  # another live worker holds it
        except Exception:
            log.exception("renewing the worker lease failed")
        return self.held()

    def start(self) -> None:
        """Tries to take the lease now, then keeps renewing it (or trying to take it)
        on a thread of its own until ``close``. Nothing to do on PostgreSQL."""
        if not self.state.settings.is_sqlite:
            return
        self.renew()
        self._thread = threading.Thread(target=self._renewing, name="worker-lease",
                                        daemon=True)
        self._thread.start()

    def _renewing(self) -> None:
        while not self._stop.wait(LEASE_S / 3 if self.held()
                                  else min(LEASE_S / 3, LEASE_RETRY_S)):
            self.renew()

    def close(self) -> None:
        """Stops renewing and gives the lease up if this worker ever took it, so another
        worker takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._renewal_began = None
        if self._taken:
            release_lease(self.state, self.holder)


def tick(state: AppState, jobs: tuple[Job, ...] = JOBS) -> int:
    """Runs every job once; returns the work they did. A failing job is logged and
    counted idle: the others still run."""
    done = 0
    for job in jobs:
        try:
            done += job(state)
        except Exception:
            log.exception("worker job %s failed", job.__name__)
    return done


def run(state: AppState, *, once: bool = False, stop: threading.Event | None = None,
        jobs: tuple[Job, ...] = JOBS, prompt_jobs: tuple[Job, ...] = PROMPT_JOBS) -> None:
    """Runs the jobs until ``stop`` is set (or, with ``once``, until they are idle)."""
    stop = stop or threading.Event()
    parent = os.environ.get(PARENT_ENV)
    lease = Lease(state, f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    finished = threading.Event()
    prompt: threading.Thread | None = None
    if once:
        jobs, prompt_jobs = prompt_jobs + jobs, ()
    lease.start()
    if prompt_jobs:
        prompt = threading.Thread(target=_prompt_loop, name="worker-prompt", daemon=True,
                                  args=(state, prompt_jobs, lease, finished))
        prompt.start()
    try:
        while not stop.is_set():
            if parent and str(os.getppid()) != parent:
                break
            # without a prompt thread, the deliveries (if any) are this thread's: its
            # every pause, idle too, runs their lanes (else an answer waits for a busy tick)
            if not lease.held():
                if once:
                    break
                _pause(state, IDLE_SLEEP_S, stop, delivering=prompt is None)
                continue
            if tick(state, jobs):
                _pause(state, BUSY_PAUSE_S, stop, delivering=prompt is None)
                continue
            if once:
                break
            _pause(state, IDLE_SLEEP_S, stop, delivering=prompt is None)
    finally:
        finished.set()
        if prompt is not None:
            prompt.join()
        else:  # the deliveries (if any) were this thread's
            stop_delivery(state)  # the lease is still renewed while attempts in flight end
        lease.close()


def _pause(state: AppState, seconds: float, stop: threading.Event, *, delivering: bool
           ) -> None:
    """Waits ``seconds`` (less once ``stop`` is set); on the thread that ticks the
    deliveries, their attempts in flight are sent and answered meanwhile."""
    if not delivering:
        stop.wait(seconds)
        return
    started = time.monotonic()
    try:
        pump_delivery(state, seconds, stop)
    except Exception:  # a bug in the lanes' loop: the worker goes on, and so do its ticks
        log.exception("running the webhook lanes failed")
        stop.wait(max(seconds - (time.monotonic() - started), 0.0))


def _prompt_loop(state: AppState, jobs: tuple[Job, ...], lease: Lease,
                 finished: threading.Event) -> None:
    """Runs ``jobs`` while ``lease`` is held, until ``finished`` is set; then lets the
    attempts in flight end (their lanes run on this thread)."""
    try:
        while not finished.is_set():
            if not lease.held():
                _pause(state, IDLE_SLEEP_S, finished, delivering=True)
                continue
            busy = tick(state, jobs)
            _pause(state, BUSY_PAUSE_S if busy else IDLE_SLEEP_S, finished, delivering=True)
    finally:
        stop_delivery(state)


@contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set ``stop`` (the worker ends after its current
    tick); the previous handlers are restored afterwards."""
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
