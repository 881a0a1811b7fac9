"""One delivery attempt over HTTP/1.1 with the standard library's ``http.client``: kept-alive
connections pooled per checked address, no redirects, 10 s in total.

The request goes to the address ``addresses.check_url`` approved: the connection is opened
to that address itself (the URL's host is sent in ``Host`` and, over TLS, as the SNI name
the certificate is verified against), so a name that resolves differently a moment later
cannot steer it elsewhere. An idle connection is reused only for the same address, port,
scheme and host name, i.e. for a destination that was just checked again.

The 10 s are a deadline for the whole attempt: connecting, the TLS handshake, sending and
every read of the answer each get only what is left of it, so a receiver that dribbles its
answer byte by byte cannot hold an attempt longer. ``http.client`` never follows a
redirect: a 3xx is an ``http_status`` failure like any other non-2xx.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from screening.notify.addresses import Destination

TOTAL_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024  # a receiver's answer is read (to keep the connection) but not kept
MAX_IDLE_PER_ADDRESS = 16
USER_AGENT = "screening-webhooks/1"

_Key = tuple[str, str, int, str]  # scheme, address, port, host name


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: the HTTP status (None without a response) and, unless it
    delivered, a short error class (``timeout``, ``connection_refused``, ``tls``,
    ``connection_error``, ``http_status``)."""

    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.error is None


class _Deadline(io.RawIOBase):
    """The socket's reading side for ``http.client``: each read waits at most for what is
    left of the attempt's deadline. (A ``SocketIO`` underneath, so the socket stays open
    for the answer when ``http.client`` hands the connection over to it.)"""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the attempt's deadline passed")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _SocketView:
    """What ``http.client`` sees of the socket while it reads an answer: the socket, whose
    reading side keeps to the attempt's deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Deadline(self.sock, self.deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class _Connection(http.client.HTTPConnection):
    """A connection to one checked address (never a name to resolve)."""

    def __init__(self, key: _Key, context: ssl.SSLContext | None) -> None:
        _, address, port, host = key
        super().__init__(address, port)
        self.key, self.tls_host, self.context = key, host, context
        self.deadline = 0.0
        self._socket: socket.socket | None = None

    def connect(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the attempt's deadline passed")
        sock = socket.create_connection((self.host, self.port), timeout=remaining)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context is not None:
            try:
                sock.settimeout(max(self.deadline - time.monotonic(), 0.001))
                sock = self.context.wrap_socket(sock, server_hostname=self.tls_host)
            except BaseException:
                sock.close()
                raise
        self._socket = sock
        self.sock = sock

    def post(self, target: str, headers: dict[str, str], body: bytes, deadline: float
             ) -> http.client.HTTPResponse:
        """Sends one POST and reads the status line and headers before ``deadline``."""
        self.deadline = deadline
        if self.sock is None:
            self.connect()
        sock = self._socket
        if sock is None:
            raise ConnectionResetError("the connection is closed")
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self.request("POST", target, body, headers)
        # http.client reads the answer from ``self.sock``: a view carrying the deadline.
        self.sock = _SocketView(sock, deadline)
        try:
            return self.getresponse()
        finally:
            if self.sock is not None:  # None: the answer closed the connection
                self.sock = sock

    def close(self) -> None:
        super().close()
        self._socket = None


class Sender:
    """Sends attempts over pooled keep-alive connections (one per worker process,
    thread-safe: a connection is used by one thread at a time)."""

    def __init__(self, timeout: float = TOTAL_TIMEOUT_S,
                 context: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        # Certificates and host names are verified (the default context's CA store; tests
        # pass a context trusting their own CA).
        self._context = context or ssl.create_default_context()
        self._idle: dict[_Key, list[_Connection]] = {}
        self._lock = threading.Lock()

    def send(self, destination: Destination, headers: dict[str, str], body: bytes) -> Outcome:
        """POSTs ``body`` to ``destination``; any 2xx within the timeout delivers."""
        deadline = time.monotonic() + self.timeout
        key = (destination.scheme, destination.address, destination.port, destination.host)
        request_headers = {**headers, "Host": _host_header(destination),
                           "Content-Type": "application/json", "User-Agent": USER_AGENT}
        connection = self._take(key)
        reused = connection is not None
        if connection is None:
            connection = self._new(key)
        try:
            try:
                status = _exchange(connection, destination.target, request_headers, body,
                                   deadline)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                if not reused:
                    raise
                # The receiver closed the idle connection before this request reached it:
                # the same attempt goes once more, on a new connection (as browsers do).
                connection.close()
                connection = self._new(key)
                status = _exchange(connection, destination.target, request_headers, body,
                                   deadline)
        except TimeoutError:
            connection.close()
            return Outcome(None, "timeout")
        except ConnectionRefusedError:
            connection.close()
            return Outcome(None, "connection_refused")
        except (ssl.SSLError, ssl.CertificateError):
            connection.close()
            return Outcome(None, "tls")
        except (OSError, http.client.HTTPException, ValueError):
            connection.close()
            return Outcome(None, "connection_error")
        self._give_back(connection)
        if 200 <= status < 300:
            return Outcome(status, None)
        return Outcome(status, "http_status")

    def close(self) -> None:
        """Closes the pooled connections."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _new(self, key: _Key) -> _Connection:
        return _Connection(key, self._context if key[0] == "https" else None)

    def _take(self, key: _Key) -> _Connection | None:
        with self._lock:
            connections = self._idle.get(key)
            return connections.pop() if connections else None

    def _give_back(self, connection: _Connection) -> None:
        if connection.sock is None:  # the answer asked to close, or was not read to its end
            return
        with self._lock:
            connections = self._idle.setdefault(connection.key, [])
            if len(connections) < MAX_IDLE_PER_ADDRESS:
                connections.append(connection)
                return
        connection.close()


def _exchange(connection: _Connection, target: str, headers: dict[str, str], body: bytes,
              deadline: float) -> int:
    """One request and its answer (read up to ``MAX_RESPONSE_BYTES``); the status."""
    response = connection.post(target, headers, body, deadline)
    read = 0
    while read < MAX_RESPONSE_BYTES and not response.isclosed():
        chunk = response.read(min(16 * 1024, MAX_RESPONSE_BYTES - read))
        if not chunk:
            break
        read += len(chunk)
    if not response.isclosed():  # a longer answer than we read: the connection cannot be reused
        connection.close()
    return response.status


def _host_header(destination: Destination) -> str:
    default = 443 if destination.scheme == "https" else 80
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    return host if destination.port == default else f"{host}:{destination.port}"

