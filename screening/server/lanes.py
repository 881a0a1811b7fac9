"""Two lanes for a threaded worker's waiting requests: clinicians before bulk intake.

Under a flood of submissions every thread of a worker is busy ingesting, and requests
waiting for a thread queued in arrival order: a clinician's claim, read or decision
waited behind the worker's whole backlog of submissions. Now a worker's waiting requests
queue in two lanes, *intake* (``POST`` of a submission or a QuestionnaireResponse) and
*interactive* (everything else: clinicians, admins, the console, health checks), and a
free thread takes the oldest interactive request first.

Intake is never starved: while intake waits, at most ``INTERACTIVE_RUN`` interactive
requests are taken in a row before the oldest intake request. A submission (a crisis
one included) is ranked the moment it is stored, and it waits at most that many short
interactive requests longer than it would have.

A request's lane is read from the first bytes of its request line, peeked from the socket
without consuming them (``MSG_PEEK``), or from what the parser already read ahead on a
kept-alive connection. A connection whose bytes have not arrived yet, or a TLS one, goes
to the interactive lane: it is no bulk client's kept-alive connection.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

INTERACTIVE_RUN = 3  # interactive requests taken in a row while intake waits
INTAKE_STARTS = (b"POST /api/v1/submissions ", b"POST /api/v1/submissions?",
                 b"POST /fhir/QuestionnaireResponse ", b"POST /fhir/QuestionnaireResponse?")
_PEEK = max(len(start) for start in INTAKE_STARTS)


def is_intake(request_start: bytes) -> bool:
    """True when a request line beginning with ``request_start`` posts an intake."""
    return request_start.startswith(INTAKE_STARTS)


def request_start(conn: Any) -> bytes:
    """The first bytes of the next request on a gunicorn connection, without consuming
    them; empty when none have arrived or they cannot be peeked (TLS)."""
    parser = conn.parser
    if parser is not None:
        ahead = parser.unreader.buf.getvalue()
        if ahead:
            return bytes(ahead[:_PEEK])
    try:
        return conn.sock.recv(_PEEK, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (OSError, ValueError):  # nothing yet, or an SSL socket (no flags allowed)
        return b""


class _Task:
    __slots__ = ("future", "call", "args")

    def __init__(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.future: Future[Any] = Future()
        self.call, self.args = call, args

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.call(*self.args)
        except BaseException as error:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class LanePool:
    """A fixed pool of threads serving two lanes (see the module docstring); it has the
    ``submit``/``shutdown`` of ``concurrent.futures.ThreadPoolExecutor``."""

    def __init__(self, threads: int, name: str = "request") -> None:
        self._ready = threading.Condition()
        self._interactive: deque[_Task] = deque()
        self._intake: deque[_Task] = deque()
        self._run = 0  # interactive requests taken in a row while intake waited
        self._stopping = False
        self._threads = [threading.Thread(target=self._serve, name=f"{name}-{number}")
                         for number in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[..., Any], *args: Any, intake: bool = False
               ) -> Future[Any]:
        """Queues ``call(*args)`` in its lane; the future holds its outcome."""
        task = _Task(call, args)
        with self._ready:
            if self._stopping:
                raise RuntimeError("cannot schedule new requests after shutdown")
            (self._intake if intake else self._interactive).append(task)
            self._ready.notify()
        return task.future

    def _next(self) -> _Task | None:
        with self._ready:
            while not (self._interactive or self._intake or self._stopping):
                self._ready.wait()
            if self._interactive and (not self._intake or self._run < INTERACTIVE_RUN):
                self._run = self._run + 1 if self._intake else 0
                return self._interactive.popleft()
            if self._intake:
                self._run = 0
                return self._intake.popleft()
            return None  # stopping, and nothing is left

    def _serve(self) -> None:
        while (task := self._next()) is not None:
            task.run()

    def shutdown(self, wait: bool = True) -> None:
        """Stops taking new requests; the threads finish what is queued, then end."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()
