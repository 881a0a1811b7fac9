"""The serving loop (``screening.server.loop_worker``) on a test application, in a thread.

``screening serve`` forks gunicorn workers; here one ``LoopWorker`` serves an application
of the test database on a free port of 127.0.0.1 from a thread of the test process, so a
test can look inside (its committer's batches) and change its settings. Everything else
(sockets, parsing, greenlets, commits) is what the production server runs. ``raw``
exchanges bytes over a socket, for what only the wire shows.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.config import Config

from screening.server.loop_worker import LoopWorker


@dataclass
class Served:
    """A running loop: its worker and where it listens."""

    worker: LoopWorker
    port: int
    listener: socket.socket

    def connect(self, timeout: float = 10) -> socket.socket:
        """A new client connection."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self) -> None:
        """Asks the loop to stop gracefully (as SIGTERM does)."""
        self.worker.alive = False
        os.write(self.worker.PIPE[1], b"\0")


@contextmanager
def serving_loop(app: Flask, start: bool = True, **settings: Any) -> Iterator[Served]:
    """Serves ``app`` until the block ends; ``settings`` are gunicorn settings
    (``keepalive``, ``timeout``, ``worker_connections`` ...). With ``start=False`` the
    caller starts it (``start_loop``), e.g. after queuing connections."""
    config = Config()
    for name, value in settings.items():
        config.set(name, value)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    worker = LoopWorker(0, os.getppid(), [listener], None, config.timeout, config, None)
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    worker.PIPE = [read, write]
    worker.prepare()
    worker.attach(app)
    served = Served(worker, listener.getsockname()[1], listener)
    thread = threading.Thread(target=worker.run, name="serving-loop", daemon=True)
    served.thread = thread  # type: ignore[attr-defined]
    if start:
        thread.start()
    try:
        yield served
    finally:
        if thread.is_alive():
            served.stop()
            thread.join(30)
        assert not thread.is_alive(), "the serving loop did not stop"
        worker.tmp.close()
        listener.close()
        os.close(read)
        os.close(write)


def start_loop(served: Served) -> None:
    """Starts a loop made with ``start=False``."""
    served.thread.start()  # type: ignore[attr-defined]


def request_bytes(method: str, path: str, *, headers: dict[str, str] | None = None,
                  body: bytes = b"", version: str = "1.1") -> bytes:
    """One HTTP request as sent on the wire (``Content-Length`` when there is a body)."""
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Answer:
    """One HTTP response read off a connection."""

    status: int
    headers: dict[str, str]
    body: bytes


class Wire:
    """A client connection that sends raw bytes and reads responses one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Sends ``data`` whole."""
        self.sock.sendall(data)

    def answer(self, *, head_request: bool = False) -> Answer:
        """Reads exactly one response (framed by ``Content-Length``); an interim 1xx
        response is an answer of its own."""
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines)}
        status = int(status_line.split()[1])
        length = 0 if head_request or status < 200 else int(headers.get("content-length", 0))
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Answer(status, headers, body)

    def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection within ``seconds``."""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.1)
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except ConnectionResetError:
                return True
        return False

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server; unread: {self._buffer[:200]!r}")
        self._buffer += chunk
