"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread.

It records every request (headers, body, arrival time) and answers from a script: each
entry is a status code, or ``("sleep", seconds)`` to answer 200 only after that long (a
receiver too slow for the sender's timeout); when the script runs out it answers
``default``. ``stop()`` closes the port (a receiver that is down), ``start()`` opens the
same port again. ``observe``, when given, is called with each request's client address
while the request is open, and what it returns is kept with the request (``note``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver got it."""

    headers: dict[str, str]
    body: bytes
    arrived: float  # time.time()
    note: Any = None

    @property
    def json(self) -> Any:
        """The body, parsed."""
        return orjson.loads(self.body)


class Receiver:
    """See the module docstring."""

    def __init__(self, script: list[Any] | None = None, default: int = 200,
                 observe: Callable[[tuple[str, int]], Any] | None = None) -> None:
        self.script = list(script or [])
        self.observe = observe
        self.default = default
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        """The URL to register."""
        return f"http://127.0.0.1:{self.port}/hooks/screening"

    def start(self) -> None:
        """Listens (on the same port as before, after ``stop``)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                note = receiver.observe(self.client_address) if receiver.observe else None
                with receiver._lock:
                    receiver.received.append(Received(
                        {k.lower(): v for k, v in self.headers.items()}, body, arrived, note))
                    step = receiver.script.pop(0) if receiver.script else receiver.default
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                self.send_response(step)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Closes the port: attempts meet a refused connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        """The ``webhook-id`` of every request, in arrival order."""
        with self._lock:
            return [r.headers["webhook-id"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Waits until ``count`` requests arrived; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} of {count} deliveries arrived")
