"""Cooperative I/O on one thread: the worker's webhook lanes as greenlets over one selector.

A lane (``Hub.spawn``) runs until it would wait for a socket (``wait_io``) or for a
blocking call it hands to a thread (``in_thread``: a DNS lookup), and yields to the hub;
``Hub.run`` then runs the other lanes that can go on and waits for all their sockets at
once. So every attempt in flight is served by the thread that ticks the outbox.

Why not a thread per lane: each lane's thread blocked on its own socket, and every wait
handed the interpreter lock to another thread and took it back, on the same cores ingest
needs. On one thread an attempt blocks nowhere: waits are batched in one ``select``
(under full ingest the worker's delivery thread blocked 0.1 times per delivery instead of
1.6, and used 5-20 % less CPU per delivery).

Outside a hub (a caller's own thread: a one-off send, the tests of the sender),
``wait_io`` blocks on that one socket and ``in_thread`` calls its function directly, so
the same sending code serves both.
"""

from __future__ import annotations

import logging
import select
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from greenlet import getcurrent, greenlet

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
# Lookups of host names in flight at once (threads started as they are needed). Each may
# take seconds (a clinic's DNS not answering): lookups of one name are shared (``call``),
# so a stalled one holds up one thread, not every lane of its receiver, nor the others'.
BLOCKING_THREADS = 64
# A lane that has run this long since it was resumed lets the others go on at its next
# read (a receiver sending without pause never makes it wait, so it would never yield).
SLICE_S = 0.005
T = TypeVar("T")

log = logging.getLogger("screening.notify")


class _Lane(greenlet):  # type: ignore[misc]
    """A greenlet that knows its hub (``wait_io`` yields to it)."""

    hub: Hub


class Hub:
    """Lanes on the thread that calls ``run``: spawn them, then run until they are done
    or a time is reached. Not thread-safe: one thread spawns and runs (``in_thread``
    hands work to other threads and wakes the hub when it is done)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._starting: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._ready: deque[tuple[_Lane, bool]] = deque()  # (lane, its wait timed out)
        self._waiting: dict[_Lane, tuple[float, socket.socket]] = {}  # deadline, socket
        self._in_threads: dict[_Lane, Future[Any]] = {}
        self._shared: dict[Hashable, Future[Any]] = {}  # calls in flight, by ``shared``
        self._yielded: list[_Lane] = []  # lanes that let the others go on (``cooperate``)
        self._resumed_at = 0.0  # when the running lane was resumed
        self._loop: greenlet | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._selector.register(self._wake_read, READ, None)
        self.lanes = 0  # spawned and not finished

    def spawn(self, function: Callable[..., Any], *args: Any) -> None:
        """Starts ``function(*args)`` as a lane at the next ``run``."""
        self._starting.append((function, args))
        self.lanes += 1

    def run(self, until: float) -> None:
        """Runs the lanes until none is left or ``until`` (``time.monotonic()``) passes;
        a lane whose wait passed its deadline is resumed with ``TimeoutError``. A socket
        found ready counts as ready even when its deadline passed meanwhile (the hub's
        thread was busy): what arrived in time is read."""
        self._loop = getcurrent()
        while True:
            while self._starting:
                function, args = self._starting.popleft()
                lane = _Lane(self._body(function, args), parent=self._loop)
                lane.hub = self
                self._ready.append((lane, False))
            while self._ready:
                lane, timed_out = self._ready.popleft()
                self._resumed_at = time.monotonic()
                lane.switch(timed_out)
            if not self.lanes:
                return
            now = time.monotonic()
            if now >= until:
                return
            deadlines = [deadline for deadline, _ in self._waiting.values()]
            timeout = 0.0 if self._yielded else min([until, *deadlines]) - now
            for key, _ in self._selector.select(max(timeout, 0.0)):
                if key.data is None:
                    self._woken()
                    continue
                lane = key.data
                self._selector.unregister(key.fileobj)
                del self._waiting[lane]
                self._ready.append((lane, False))
            now = time.monotonic()
            for lane, (deadline, sock) in list(self._waiting.items()):
                if deadline <= now:
                    self._selector.unregister(sock)
                    del self._waiting[lane]
                    self._ready.append((lane, True))
            # after the lanes the select found ready: the others had their turn first
            self._ready.extend((lane, False) for lane in self._yielded)
            self._yielded.clear()

    def _body(self, function: Callable[..., Any], args: tuple[Any, ...]
              ) -> Callable[[bool], None]:
        def lane(_: bool) -> None:
            try:
                function(*args)
            except Exception:  # a bug in the lane: the others go on
                log.exception("a webhook lane failed")
            finally:
                self.lanes -= 1
        return lane

    def _woken(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except BlockingIOError:
            pass
        for lane, future in list(self._in_threads.items()):
            if future.done():
                del self._in_threads[lane]
                self._ready.append((lane, False))
        for key, future in list(self._shared.items()):
            if future.done():
                del self._shared[key]

    def _wake(self, _: Future[Any] | None = None) -> None:
        try:
            self._wake_write.send(b"\0")
        except (BlockingIOError, OSError):  # already woken (full), or closing
            pass

    def wait(self, sock: socket.socket, events: int, deadline: float) -> None:
        """From a lane: yields until ``sock`` is ready for ``events`` (``READ`` or
        ``WRITE``); ``TimeoutError`` once ``deadline`` passes first."""
        lane = getcurrent()
        self._selector.register(sock, events, lane)
        self._waiting[lane] = (deadline, sock)
        assert self._loop is not None
        if self._loop.switch():
            raise TimeoutError("the attempt's deadline passed")

    def cooperate(self) -> None:
        """From a lane: when it has run ``SLICE_S`` since it was resumed, lets the other
        lanes (and the sockets they wait for) have their turn before it goes on."""
        if time.monotonic() - self._resumed_at < SLICE_S:
            return
        self._yielded.append(getcurrent())
        assert self._loop is not None
        self._loop.switch()

    def call(self, function: Callable[..., T], *args: Any, shared: Hashable | None = None
             ) -> T:
        """From a lane: ``function(*args)`` on one of the hub's threads, the lane waiting
        (the hub runs the others meanwhile). Lanes calling with the same ``shared`` key
        while one such call is in flight wait for that call (its result or exception)."""
        future = self._shared.get(shared) if shared is not None else None
        if future is None or future.done():
            if self._threads is None:
                self._threads = ThreadPoolExecutor(BLOCKING_THREADS,
                                                   thread_name_prefix="webhook-lookup")
            future = self._threads.submit(function, *args)
            if shared is not None:
                self._shared[shared] = future
            future.add_done_callback(self._wake)
        self._in_threads[getcurrent()] = future
        assert self._loop is not None
        self._loop.switch()
        return future.result()

    def close(self) -> None:
        """Closes the selector and the threads (after ``run`` has seen every lane end)."""
        if self._threads is not None:
            self._threads.shutdown()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


def _hub() -> Hub | None:
    return getattr(getcurrent(), "hub", None)


def wait_io(sock: socket.socket, events: int, deadline: float) -> None:
    """Waits until the non-blocking ``sock`` is ready for ``events`` (``READ`` or
    ``WRITE``), or raises ``TimeoutError`` at ``deadline``: in a lane, by yielding to its
    hub; elsewhere by blocking this thread."""
    hub = _hub()
    if hub is not None:
        hub.wait(sock, events, deadline)
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the attempt's deadline passed")
    poller = select.poll()  # (select() refuses a descriptor above 1023)
    poller.register(sock, select.POLLIN if events == READ else select.POLLOUT)
    if not poller.poll(remaining * 1000):
        raise TimeoutError("the attempt's deadline passed")


def cooperate() -> None:
    """In a lane that has run for a while without waiting (a receiver sending without
    pause), lets the others go on; elsewhere nothing."""
    hub = _hub()
    if hub is not None:
        hub.cooperate()


def in_thread(function: Callable[..., T], *args: Any, shared: Hashable | None = None) -> T:
    """``function(*args)``, which may block for long (a DNS lookup): in a lane on one of
    its hub's threads while the hub serves the other lanes, shared with the lanes calling
    with the same ``shared`` key meanwhile (``Hub.call``); elsewhere directly."""
    hub = _hub()
    if hub is None:
        return function(*args)
    return hub.call(function, *args, shared=shared)
