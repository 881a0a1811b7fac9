"""The serving loop: a gunicorn worker that serves its requests from one thread.

Each web worker process runs one loop (``LoopWorker``): it waits for its sockets, reads and
parses requests (``screening.server.http11``), runs each request in a greenlet, and
answers. A request runs until it is done or reaches the durable commit of its unit of
work (``GroupCommitter.submit``); the loop then runs the other requests that are ready,
commits everything the waiting ones queued in one transaction (one fsync on SQLite, one
pipelined round trip on PostgreSQL) and resumes each of them. So requests that arrive
together share a commit, no request answers before its rows are durable, and no thread
hands the interpreter to another on the way: the threaded workers this replaces spent
half of a submission's CPU on thread switches and the waits around them.

Rate limits shared in Redis are counted the same way: a request waits at its count
until nothing else can run, then the loop counts every waiting request in one round trip
(``RateLimits.count_many``) and resumes each, so a turn pays one wait for Redis, not one
per request.

On SQLite, where one writer at a time commits, a batch whose writer lock is taken (the
other worker processes commit too) does not hold up the loop: a thread queues for the
lock in the kernel while the loop serves what arrives meanwhile (those requests join
the batch), and the loop commits the moment the lock is its.

Clinicians' requests start before bulk intake (a ``POST`` of a submission or a
QuestionnaireResponse): between two requests the loop takes in what has arrived on its
connections, so a claim on an open connection waits for at most the request in progress;
one on a new connection (a proxy without upstream keep-alive) first waits for the turn
in progress to end (``TURN_S``). Intake is never starved: while it waits, clinicians'
requests go first for at most ``INTERACTIVE_SHARE`` of the loop's time.

A request's work holds the loop while it runs. The few views whose work may take long
without the database (an argon2 password check, DNS resolution, a shadow run over many
submissions) are marked ``off_the_loop`` (``screening.web.offload``) and run on a small
thread pool (``offload``) while the loop goes on serving.

Connections: at most ``worker_connections`` per process, taken (up to
``ACCEPTS_PER_TURN``) at the start of a turn, never between two requests of one: a
process busy with its clients leaves new ones to an idle process, so a few kept-alive
clients (a proxy's pool, an EHR's connections) spread over the processes instead of all
landing on the first to poll. Kept alive ``keepalive`` seconds between requests; a
request must arrive whole, and an answer be read, within ``timeout`` seconds. A
connection that closes first sends its answers, then its FIN, and drops what the client
still sends until the client closes or falls silent for ``LINGER_S`` (within ``timeout``
in all), so a client still sending a refused body reads its answer instead of a reset.
On SIGTERM the loop stops accepting, finishes the requests it has, sends their answers
and lets lingering closes finish (within ``graceful_timeout``) and exits.
"""

from __future__ import annotations

import contextvars
import errno
import gc
import logging
import os
import selectors
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any

from flask import Flask
from greenlet import getcurrent, greenlet
from gunicorn.workers import base

from screening.app import MAX_BODY_BYTES
from screening.server import http11
from screening.server.gunicorn_errors import answer_for, problem_bytes
from screening.storage.db import app_state
from screening.storage.group_commit import MAX_BATCH, GroupCommitter, PendingWrite
from screening.storage.writers import Held, WritersLock
from screening.web import auth
from screening.web import offload as offloading
from screening.web.limits import RateLimits, Window, rate_limits_of

log = logging.getLogger("screening.server")

INTAKE_PATHS = ("/api/v1/submissions", "/fhir/QuestionnaireResponse")
ACCEPTS_PER_TURN = 4  # spreads a burst of new connections over the worker processes
OFFLOAD_THREADS = 2
READ_SIZE = 65536
# While intake waits, clinicians' requests go first for at most this share of the loop's
# time (after a burst of up to INTERACTIVE_BURST_S): a clinician waits for at most a
# request or two, and intake keeps the rest. A clinician's request costs several intake
# requests' work (the full record, its audit event, 2-5 ms of CPU under load): at half
# the loop, two clinicians working flat out on a worker that intake keeps saturated
# waited on the credit more often than not (bench/mixed.py, PostgreSQL: queue p50 9-19 ms).
INTERACTIVE_SHARE = 0.75
INTERACTIVE_BURST_S = 0.02
_CREDIT_PER_INTAKE_S = INTERACTIVE_SHARE / (1 - INTERACTIVE_SHARE)
BATCH_WAIT_S = 0.01  # a batch is committed once its first request has waited this long
# A turn starts requests for this long, then ends: the loop's chores (heartbeat, timeouts,
# the turn's shared credential lookups) come around even under a flood.
TURN_S = 0.02
POLL_S = 0.001  # between two requests, the loop takes in what has arrived this often
# A connection that closes while its client may still be sending (a body past the limit,
# a refused request) sends its answer and FIN, then drops what arrives until nothing has
# for this long (and for ``timeout`` at most in all) before it closes: closing with unread
# data would reset the connection, and the client would lose the answer (a lingering
# close, RFC 9112 §9.6). A client on a slow link may take longer than this to send the
# rest of its body: each read starts the wait anew.
LINGER_S = 2.0
# A thread that has waited for the writer lock (or an offloaded job) takes the
# interpreter back from the busy loop within this, not CPython's default 5 ms.
SWITCH_INTERVAL_S = 0.0005
# What accept(2) reports of a connection that failed while it waited to be accepted
# (Linux passes its network errors on; see the man page): that one client's, not ours.
_LOST_BEFORE_ACCEPT = frozenset({
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN, errno.ENETUNREACH,
    errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENOPROTOOPT, errno.EOPNOTSUPP})


def _waiting_since(conn: http11.Connection) -> int:
    return conn.waiting_since


def is_intake(request: http11.Request) -> bool:
    """True for a bulk intake request: ``POST`` of a submission or QuestionnaireResponse."""
    if request.intake is None:
        request.intake = request.method == "POST" and \
            request.target.split(b"?", 1)[0].decode("latin-1") in INTAKE_PATHS
    return request.intake


class _RequestGreenlet(greenlet):  # type: ignore[misc]
    """The greenlet one request runs in."""

    intake = False  # whether the request is bulk intake (``is_intake``)


_Deferred = tuple[GroupCommitter, PendingWrite[Any], greenlet]  # a request at its commit
_Counting = tuple[RateLimits, str, _RequestGreenlet]  # a request at its rate-limit count


class LoopWorker(base.Worker):  # type: ignore[misc]
    """gunicorn worker: the serving loop (see the module docstring)."""

    def init_process(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.prepare()
        super().init_process()  # loads the application, then runs the loop

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.attach(self.wsgi)
        # What the application built at start-up lives as long as the process: out of
        # the collector's sight, a full collection no longer walks it. Such a collection
        # stopped the loop for 45-70 ms, every request of the process waiting.
        gc.collect()
        gc.freeze()

    def prepare(self) -> None:
        """Sets up the loop's state (before the application is attached)."""
        self._selector = selectors.DefaultSelector()
        self._connections: dict[int, http11.Connection] = {}
        self._deferred: list[_Deferred] = []
        self._deferred_since = 0.0  # when the first of them began to wait
        self._counting: list[_Counting] = []
        self._counting_since = 0.0
        self._turn_ends = 0.0  # after this, a turn starts no more requests (_serve_ready)
        self._next_poll = 0.0  # when _serve_ready next takes in what has arrived
        # How long clinicians' requests may still go first while intake waits (seconds).
        self._interactive_credit = INTERACTIVE_BURST_S
        self._awaiting_lock: set[GroupCommitter] = set()  # a thread queues for its lock
        self._lock_waiter = ThreadPoolExecutor(1, thread_name_prefix="writer-lock")
        self._done: SimpleQueue[Callable[[], None]] = SimpleQueue()  # from the threads
        self._in_offload = 0
        self._pool: ThreadPoolExecutor | None = None
        self._touched: dict[http11.Connection, None] = {}  # in order; to serve or send
        self._dates = http11.DateCache()
        self._checked_this_turn: dict[str, Any] = {}  # credentials looked up this turn
        self.linger_s = LINGER_S

    def attach(self, app: Any) -> None:
        """Serves the WSGI application ``app``. The service's own: its database's
        committer defers to this loop, and its views marked ``off_the_loop`` run on this
        loop's threads."""
        self.wsgi = app
        if isinstance(app, Flask) and "screening" in app.extensions:
            app_state(app).db.committer.batcher = self
            limits = rate_limits_of(app)
            if limits is not None:
                limits.batcher = self
            app.extensions[offloading.EXTENSION] = self.offload
            app.extensions[auth.CHECKED_THIS_TURN] = self._checked_this_turn

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        self._hub = getcurrent()
        # gunicorn's own pipe (non-blocking, and the wake-up fd of its signal handlers)
        # also wakes the loop when an offloaded job is done.
        self._wake_read, self._wake_write = self.PIPE
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        for listener in self.sockets:
            listener.setblocking(False)
            self._selector.register(listener, selectors.EVENT_READ, listener)
        self._listening = True
        host, port = self.sockets[0].getsockname()[:2] if self.sockets else ("", 0)
        self._server = (str(host), str(port))
        self._base_environ = {
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": _ErrorLog(), "wsgi.multithread": False,
            "wsgi.multiprocess": self.cfg.workers > 1, "wsgi.run_once": False,
            "wsgi.input_terminated": True, "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "screening",
        }
        self._limits = http11.Limits(self.cfg.limit_request_line or 1 << 30,
                                     self.cfg.limit_request_fields or 1 << 30,
                                     self.cfg.limit_request_field_size or 1 << 30,
                                     MAX_BODY_BYTES)
        next_chores = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= next_chores:  # once a second, not every turn: each is a syscall
                next_chores = now + 1.0
                self.notify()  # the heartbeat gunicorn's master watches
                if self.ppid != os.getppid():
                    log.info("the master process is gone; stopping")
                    self.alive = False  # nor may a closing connection resume accepting
                    break
                self._close_stale(now)
            self._turn(timeout=0.0 if self._touched else 1.0)
            if self.nr >= self.max_requests:
                log.info("served max_requests; restarting")
                self.alive = False
        self._stop()

    def _turn(self, timeout: float) -> None:
        """One turn: wait for sockets, read, serve what is complete, commit, answer."""
        events = self._selector.select(timeout)
        self._checked_this_turn.clear()
        self._turn_ends = time.monotonic() + TURN_S
        self._handle(events)
        self._serve_ready()
        self._send_touched()

    def _poll(self) -> None:
        """Takes in what has arrived since, without waiting (between two requests); new
        connections wait for the next turn."""
        self._handle(self._selector.select(0), accept=False)

    def _handle(self, events: list[tuple[selectors.SelectorKey, int]], *,
                accept: bool = True) -> None:
        for key, mask in events:
            data = key.data
            if data is None:
                self._wake()
            elif isinstance(data, http11.Connection):
                if mask & selectors.EVENT_READ:
                    self._read(data)
                if mask & selectors.EVENT_WRITE:
                    self._touched[data] = None
            elif accept:
                self._accept(data)

    def _serve_ready(self) -> None:
        """Runs every request that can run until each is done or waits (for its commit, or
        for a thread), commits what the waiting ones queued and resumes them, and so on
        until nothing more can be done this turn. Between two requests it takes in what
        has arrived on its connections (every ``POLL_S`` at most): a clinician's request
        that comes during a turn of intake starts next, not after the turn (on a new
        connection: at the next turn). Within each kind, connections take
        turns: the one whose next request has waited longest goes first, so a client
        pipelining many requests does not keep the others waiting. After ``TURN_S`` the
        turn starts no more requests; the next turn follows at once."""
        while True:
            ready = [conn for conn in self._touched if conn.requests and not conn.busy]
            if (not ready or self._counts_are_due()) and self._count_deferred():
                continue
            if (not ready or self._batch_is_due()) and self._commit_deferred():
                continue
            now = time.monotonic()
            if not ready or now >= self._turn_ends:
                return
            if now >= self._next_poll:
                self._next_poll = now + POLL_S
                self._poll()
                continue
            self._serve_round(ready)

    def _serve_round(self, ready: list[http11.Connection]) -> None:
        """Starts the next request of each ready connection, in waiting order: clinicians'
        first, unless intake waits too and they have used their share of the loop's time
        lately (``INTERACTIVE_SHARE``). Returns early when it is time to take in what has
        arrived."""
        interactive = sorted((c for c in ready if not is_intake(c.requests[0])),
                             key=_waiting_since)
        intake = sorted((c for c in ready if is_intake(c.requests[0])), key=_waiting_since)
        for conn in interactive:
            if intake and self._interactive_credit <= 0:
                break
            self._charge(False, self._start(conn, conn.requests.popleft()), bool(intake))
            if time.monotonic() >= self._next_poll:
                return
        for conn in intake:
            self._charge(True, self._start(conn, conn.requests.popleft()), True)
            if time.monotonic() >= self._next_poll:
                return

    def _charge(self, intake: bool, spent: float, intake_waits: bool) -> None:
        """Accounts ``spent`` seconds of a request's work on the loop: a clinician's
        request that went first while intake waited uses credit, intake earns it."""
        if intake:  # earns clinicians time to go first again
            self._interactive_credit = min(
                INTERACTIVE_BURST_S, self._interactive_credit + spent * _CREDIT_PER_INTAKE_S)
        elif intake_waits:
            self._interactive_credit -= spent

    def _start(self, conn: http11.Connection, request: http11.Request) -> float:
        """Runs ``request`` until it is done or waits; the seconds that took."""
        conn.busy = True
        self.nr += 1
        started = time.perf_counter()
        running = _RequestGreenlet(self._respond)
        running.intake = is_intake(request)
        running.switch(conn, request)
        return time.perf_counter() - started

    def _counts_are_due(self) -> bool:
        """Whether the requests waiting for their rate-limit count are to be counted
        before serving more (under a flood that never lets up)."""
        return len(self._counting) >= MAX_BATCH or bool(
            self._counting and time.monotonic() - self._counting_since > BATCH_WAIT_S)

    def _count_deferred(self) -> bool:
        """Counts the rate limits of the requests waiting for them, in one call of each
        ``RateLimits`` (one round trip to Redis), and resumes each of them, clinicians'
        first; False when none waits."""
        if not self._counting:
            return False
        waiting, self._counting = self._counting, []
        by_limits: dict[int, list[_Counting]] = {}
        for entry in waiting:
            by_limits.setdefault(id(entry[0]), []).append(entry)
        resumes: list[tuple[_RequestGreenlet, Window | None, BaseException | None]] = []
        for entries in by_limits.values():
            try:
                windows = entries[0][0].count_many([key for _, key, _ in entries])
            except Exception as error:  # a bug: each of these requests fails with it
                resumes += [(request, None, error) for _, _, request in entries]
            else:
                resumes += [(request, window, None) for (_, _, request), window
                            in zip(entries, windows, strict=True)]
        intake_waits = any(request.intake for request, _, _ in resumes)
        resumes.sort(key=lambda resume: resume[0].intake)
        for request, window, error in resumes:
            started = time.perf_counter()
            if error is not None:
                request.throw(error)  # returns when it is done or waits again
            else:
                request.switch(window)
            self._charge(request.intake, time.perf_counter() - started, intake_waits)
        return True

    def _batch_is_due(self) -> bool:
        """Whether the waiting requests' batch is full, or its first request has waited
        long enough, to commit before serving more (under a flood that never lets up)."""
        return len(self._deferred) >= MAX_BATCH or bool(
            self._deferred and time.monotonic() - self._deferred_since > BATCH_WAIT_S)

    def _commit_deferred(self) -> bool:
        """Commits what the waiting requests queued (at most ``MAX_BATCH`` requests) and
        resumes each of them; False when there was nothing to commit, or when SQLite's
        writer lock is taken (another process is committing): then a thread queues for it
        (``_await_lock``) and the loop goes on serving, the batch growing meanwhile."""
        if not self._deferred:
            return False
        committer = self._deferred[0][0]
        writers = committer.writers
        held = None
        if writers is not None:
            if committer in self._awaiting_lock:
                return False
            held = writers.attempt(batch=True)
            if held is None:
                self._await_lock(committer, writers)
                return False
        self._write_batch(committer, held)
        return True

    def _take_batch(self, committer: GroupCommitter) -> list[_Deferred]:
        """The next batch (at most ``MAX_BATCH``) of requests waiting on ``committer``."""
        batch = [entry for entry in self._deferred if entry[0] is committer][:MAX_BATCH]
        taken = {id(entry) for entry in batch}
        self._deferred = [entry for entry in self._deferred if id(entry) not in taken]
        return batch

    def _write_batch(self, committer: GroupCommitter, held: Held | None) -> None:
        """Writes the next batch's rows (holding ``held``, SQLite's writer lock, which it
        gives back) and resumes its requests."""
        batch = self._take_batch(committer)
        try:
            committer.write([item for _, item, _ in batch])
        finally:
            if held is not None:
                held.release()
        for _, _, request in batch:
            request.switch()  # returns when it is done or waits again

    def _await_lock(self, committer: GroupCommitter, writers: WritersLock) -> None:
        """Has the waiter thread queue for SQLite's writer lock on the loop's behalf, as a
        single writer does: announced, so other processes' batches do not take it before
        this one, and woken by the kernel the moment it is free. The loop commits as soon
        as it hears; a request of the loop that opens a write transaction meanwhile waits
        for that acquisition rather than behind it (``WritersLock.take_for``)."""
        self._awaiting_lock.add(committer)
        owner = threading.get_ident()
        taken = writers.take_for(owner)
        self._lock_waiter.submit(writers.wait_taken, owner)
        taken.add_done_callback(lambda done: self._notify_loop(
            lambda: self._lock_arrived(committer, done)))

    def _lock_arrived(self, committer: GroupCommitter, taken: Future[Held]) -> None:
        self._awaiting_lock.discard(committer)
        error = taken.exception()
        if error is None:
            self._write_batch(committer, taken.result())
            return
        for _, item, request in self._take_batch(committer):  # no lock: nothing written
            item.error, item.done = error, True
            request.switch()

    # -- what requests call ------------------------------------------------------------

    def defer(self, committer: GroupCommitter, item: PendingWrite[Any]) -> bool:
        """``Batcher.defer``: a request waits here for the turn's commit."""
        current = getcurrent()
        if not isinstance(current, _RequestGreenlet):
            return False
        if not self._deferred:
            self._deferred_since = time.monotonic()
        self._deferred.append((committer, item, current))
        self._hub.switch()
        return True

    def defer_count(self, limits: RateLimits, key: str) -> Window | None:
        """``CountBatcher.defer_count``: a request waits here for the turn's count."""
        current = getcurrent()
        if not isinstance(current, _RequestGreenlet):
            return None
        if not self._counting:
            self._counting_since = time.monotonic()
        self._counting.append((limits, key, current))
        window: Window = self._hub.switch()
        return window

    def offload(self, work: Callable[[], Any]) -> Any:
        """Runs ``work`` on one of the loop's threads (with the request's context) while
        the loop serves other requests; returns its result or raises its error. Called
        outside a request, it runs ``work`` at once."""
        current = getcurrent()
        if not isinstance(current, _RequestGreenlet):
            return work()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(OFFLOAD_THREADS, thread_name_prefix="offload")
        self._in_offload += 1
        self._pool.submit(self._run_offloaded, current, contextvars.copy_context(), work)
        result, error = self._hub.switch()
        if error is not None:
            raise error
        return result

    def _run_offloaded(self, waiting: greenlet, context: contextvars.Context,
                       work: Callable[[], Any]) -> None:
        outcome: tuple[Any, BaseException | None]
        try:
            outcome = (context.run(work), None)
        except BaseException as error:  # handed to the request, which raises it
            outcome = (None, error)

        def resume() -> None:
            self._in_offload -= 1
            waiting.switch(outcome)  # returns when it is done or waits again

        self._notify_loop(resume)

    def _notify_loop(self, call: Callable[[], None]) -> None:
        """From a thread: ``call`` runs on the loop at its next turn."""
        self._done.put(call)
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the loop is being woken anyway

    def _wake(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        self._run_done()

    def _run_done(self) -> None:
        """Runs what the threads handed back to the loop (``_notify_loop``)."""
        while not self._done.empty():
            self._done.get()()

    # -- one request -------------------------------------------------------------------

    def _respond(self, conn: http11.Connection, request: http11.Request) -> None:
        """Runs the application for ``request`` and queues the answer on ``conn``."""
        try:
            answer = self._call_application(conn, request)
        except Exception as error:
            answer = _problem(error)
            request.keep_alive = False
        if not request.keep_alive:
            conn.closing = True
            conn.requests.clear()
            conn.refusal = None
        conn.answered(answer)
        self._send(conn)  # now, not at the end of the turn: the others' work is not its
        self._touched[conn] = None

    def _call_application(self, conn: http11.Connection, request: http11.Request) -> bytes:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        written: list[bytes] = []
        environ = http11.environ(request, conn.peer, self._server, self._base_environ)
        result = self.wsgi(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        if not self.alive:  # stopping: the client takes its next request elsewhere
            request.keep_alive = False
        return http11.response_bytes(request, status, headers, b"".join(written),
                                     self._dates.now())

    # -- sockets -----------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        if not self.alive:  # SIGTERM came while the loop waited: left to the other processes
            return
        for _ in range(ACCEPTS_PER_TURN):
            if len(self._connections) >= self.worker_connections:
                self._pause_accepting()
                return
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("cannot accept a connection now: %s", error.strerror)
                    return
                if error.errno in _LOST_BEFORE_ACCEPT:
                    continue  # that client is gone; the next one may be waiting
                raise
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = http11.Connection(sock, peer, self._limits)
            self._connections[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    @property
    def worker_connections(self) -> int:
        """Connections one process holds at most."""
        return int(self.cfg.worker_connections)

    def _pause_accepting(self) -> None:
        if self._listening:
            for listener in self.sockets:
                self._selector.unregister(listener)
            self._listening = False

    def _resume_accepting(self) -> None:
        if not self._listening and self.alive:
            for listener in self.sockets:
                self._selector.register(listener, selectors.EVENT_READ, listener)
            self._listening = True

    def _read(self, conn: http11.Connection) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if conn.busy or conn.requests or conn.out:
                conn.closing = True  # the client half-closed: answer what it asked, close
                self._touched[conn] = None
                if not conn.ended and conn.sock.fileno() >= 0:
                    conn.ended = True  # its end stays readable: no longer waited for
                    if conn.watching_writes:
                        self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
                    else:
                        self._selector.unregister(conn.sock)
            else:
                self._close(conn)
            return
        if conn.closing:
            if conn.lingering_until:  # the client is still sending: wait on for it
                conn.lingering_until = min(time.monotonic() + self.linger_s,
                                           conn.lingering_ends)
            return  # a body past the limit, or after an error: not read any further
        try:
            conn.feed(data)
        except Exception as error:  # a request refused before the application
            conn.refuse(_problem(error))
        self._touched[conn] = None

    def _send_touched(self) -> None:
        touched, self._touched = self._touched, {}
        for conn in touched:
            self._send(conn)
            if conn.requests and not conn.busy and conn.sock.fileno() >= 0:
                self._touched[conn] = None  # left for the next turn

    def _send(self, conn: http11.Connection) -> None:
        """Sends what ``conn`` has to send, as much as its socket takes now; watches it for
        writing while some is left; closes it if it is closing once every request that
        came before is answered and all is sent."""
        if conn.sock.fileno() < 0:
            return
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(conn)
                return
            del conn.out[:sent]
            conn.last_active = time.monotonic()
        if conn.out:
            self._watch_writes(conn, True)
        elif conn.closing and not (conn.busy or conn.requests):
            self._linger(conn)
        else:
            self._watch_writes(conn, False)

    def _linger(self, conn: http11.Connection) -> None:
        """Closes ``conn``, whose answers are all sent: at once when the client has
        ended its side, else after its FIN, once the client closes too or sends nothing
        for ``linger_s`` (``timeout`` at most in all); ``_read`` drops what arrives
        meanwhile."""
        if conn.lingering_until:
            return
        if conn.ended:
            self._close(conn)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        now = time.monotonic()
        conn.lingering_until = now + self.linger_s
        conn.lingering_ends = now + max(self.cfg.timeout, self.linger_s)
        self._watch_writes(conn, False)

    def _watch_writes(self, conn: http11.Connection, watch: bool) -> None:
        if conn.watching_writes != watch:
            if conn.ended:  # watched for writing only, while some is left to send
                if watch:
                    self._selector.register(conn.sock, selectors.EVENT_WRITE, conn)
                else:
                    self._selector.unregister(conn.sock)
            else:
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if watch else 0)
                self._selector.modify(conn.sock, events, conn)
            conn.watching_writes = watch

    def _close(self, conn: http11.Connection) -> None:
        if conn.sock.fileno() < 0:
            return
        conn.requests.clear()
        self._connections.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.sock.close()
        self._resume_accepting()

    def _close_stale(self, now: float) -> None:
        """Closes connections idle past ``keepalive``, requests that have not arrived
        whole within ``timeout`` of their first byte, and answers the client has not read
        for ``timeout``."""
        timeout = self.cfg.timeout
        for conn in list(self._connections.values()):
            if conn.lingering_until:
                stale = now >= conn.lingering_until
            elif conn.idle:
                stale = now - conn.last_active > self.cfg.keepalive
            elif conn.out:
                stale = now - conn.last_active > timeout
            else:
                stale = conn.receiving and not conn.busy and now - conn.began > timeout
            if stale:
                self._close(conn)

    def _stop(self) -> None:
        """Graceful stop: no new connections; the requests already here are served and
        answered, and lingering closes finish, within ``graceful_timeout``; then every
        connection closes (a client still sending into one closed at once would read a
        reset instead of its answer)."""
        self._pause_accepting()
        # Requests that have arrived are taken in first: a connection taken at the start of
        # the last turn is read only at the next, and closed unread, its client would read
        # a reset instead of the answer to a request it has sent.
        self._poll()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and (
                self._in_offload or self._deferred or self._counting
                or any(conn.busy or conn.requests or conn.out or conn.lingering_until
                       for conn in self._connections.values())):
            self.notify()
            self._turn(timeout=0.0 if self._touched else 0.1)
            self._close_stale(time.monotonic())  # lingering closes that are over
        for conn in list(self._connections.values()):
            self._close(conn)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._lock_waiter.shutdown(wait=True)
        self._run_done()  # a writer lock that came after the last turn is given back
        self._selector.close()


def _problem(error: BaseException) -> bytes:
    """The problem-details answer to ``error``, met by the server itself (a request it
    refused, or an error that escaped the application), and its one log line: the
    error's class, never the input; the stack too for a 5xx."""
    status, title, slug, detail = answer_for(error)
    request_id = uuid.uuid4().hex
    fields = {"request_id": request_id, "status": status,
              "exc_type": f"{type(error).__module__}.{type(error).__qualname__}"}
    if status >= 500:
        fields["stack"] = "".join(traceback.format_tb(error.__traceback__))
        log.error("request failed in the HTTP server", extra=fields)
    else:
        log.warning("request refused by the HTTP server", extra=fields)
    return problem_bytes(status, title, slug, detail, request_id)


class _ErrorLog:
    """``wsgi.errors``: what the application writes there goes to the server's log."""

    def write(self, text: str) -> None:
        if text.strip():
            log.error(text.rstrip())

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

