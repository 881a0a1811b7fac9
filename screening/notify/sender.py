"""One delivery attempt: an HTTP/1.1 POST over kept-alive connections pooled per checked
address, no redirects, 10 s in total.

The request goes to an address ``addresses.check_url`` approved: the connection is opened
to that address itself (the URL's host is sent in ``Host`` and, over TLS, as the SNI name
the certificate is verified against), so a name that resolves differently a moment later
cannot steer it elsewhere. A name with several addresses is tried at each in the
resolver's order until one accepts the connection (a receiver whose first address is
down, or an IPv6 address this host cannot reach, still gets its events); an attempt
whose request was sent never goes to a second address. An idle connection is reused only
for an address, port, scheme and host name of a destination that was just checked again.

The 10 s are a deadline for the whole attempt: connecting, the TLS handshake, sending and
every read of the answer each get only what is left of it, so a receiver that dribbles its
answer byte by byte cannot hold an attempt longer. A redirect is never followed: a 3xx is
an ``http_status`` failure like any other non-2xx.

The sockets are non-blocking and every wait goes through ``hub.wait_io``: in the worker
the attempts in flight share the one thread of its hub (``screening.notify.hub``), and a
caller outside a hub simply blocks until its answer or the deadline.

The exchange is written here over the socket (TLS by the standard library's ``ssl``)
rather than through ``http.client``: one POST and its status is a small part of HTTP, and
``http.client`` parsed every answer's headers with the ``email`` package, which was a third
of the background worker's CPU per delivery under load (``bench/webhooks.py``). What an
answer is read by is RFC 9112: the status line (interim 1xx answers skipped), the header
fields, and the body framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the
end of the connection, read (to keep the connection) up to ``MAX_RESPONSE_BYTES`` and
never kept. A connection is kept alive only when the answer allows it and was read to its
exact end.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from screening.notify.addresses import Destination
from screening.notify.hub import READ, WRITE, cooperate, wait_io

TOTAL_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024  # a receiver's answer is read (to keep the connection) but not kept
MAX_HEAD_BYTES = 64 * 1024
# All an answer's bytes (interim answers, head, body and its chunk framing, trailers): a
# receiver sending more is not answering but flooding, and the attempt ends.
MAX_ANSWER_BYTES = 1024 * 1024
MAX_IDLE_PER_ADDRESS = 16
USER_AGENT = "screening-webhooks/1"

_Key = tuple[str, str, int, str]  # scheme, address, port, host name

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_FRAMING_FIELDS = frozenset((b"connection", b"transfer-encoding", b"content-length"))
# A request line or header must not smuggle a line break (nor the target a space).
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_UNSAFE_FIELD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


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


class ProtocolError(ValueError):
    """The receiver's answer is not HTTP/1.1 we can read."""


class _ClosedBeforeAnswer(ConnectionResetError):
    """The connection ended before any byte of the answer (a kept-alive connection the
    receiver had closed meanwhile)."""


class _Reader:
    """The answer's bytes, each read waiting at most for what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.buffer = bytearray()
        self.received = 0  # bytes received in all, for "closed before any answer"

    def fill(self) -> bool:
        """Reads more; False at the end of the stream. What has already arrived is read
        even past the deadline (a hub's thread busy with a tick may resume the lane late):
        only a wait for more ends at the deadline (``_receive``)."""
        try:
            chunk = _receive(self.sock, self.deadline)
        except ConnectionResetError:
            if not self.received:
                raise _ClosedBeforeAnswer("reset before answering") from None
            raise
        self.buffer += chunk
        self.received += len(chunk)
        if self.received > MAX_ANSWER_BYTES:
            raise ProtocolError("an answer longer than any receiver sends")
        return bool(chunk)

    def until(self, pattern: re.Pattern[bytes], limit: int) -> bytes:
        """The bytes up to ``pattern`` (consumed with it)."""
        start = 0
        while (match := pattern.search(self.buffer, start)) is None:
            if len(self.buffer) > limit:
                raise ProtocolError("an answer's head or chunk line is too long")
            start = max(len(self.buffer) - 3, 0)
            if not self.fill():
                if not self.received:
                    raise _ClosedBeforeAnswer("closed before answering")
                raise ProtocolError("the answer ended early")
        data = bytes(self.buffer[:match.start()])
        del self.buffer[:match.end()]
        return data

    def skip(self, size: int) -> None:
        """Consumes exactly ``size`` bytes."""
        while len(self.buffer) < size:
            if not self.fill():
                raise ProtocolError("the answer ended early")
        del self.buffer[:size]

    def skip_to_end(self, limit: int) -> bool:
        """Consumes everything up to the end of the stream; False when more than ``limit``
        bytes came first."""
        while len(self.buffer) <= limit:
            if not self.fill():
                self.buffer.clear()
                return True
        return False


@dataclass(slots=True)
class _Answer:
    status: int
    reusable: bool  # the connection may carry the next request


def _read_answer(reader: _Reader) -> _Answer:
    """Reads one answer to a POST (RFC 9112 §4–§7); its body is discarded."""
    while True:
        lines = _LINE_END.split(reader.until(_HEAD_END, MAX_HEAD_BYTES))
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise ProtocolError("not an HTTP/1.x status line")
        minor, status = int(match[1]), int(match[2])
        if status < 100:
            raise ProtocolError("a status below 100")
        if status >= 200:
            break
        if status == 101:
            raise ProtocolError("a protocol switch nobody asked for")
        # an interim answer (100 Continue, 103 Early Hints): the final one follows
    fields: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and line[:1] not in (b" ", b"\t"):  # (a folded or stray line: not ours)
            name = name.strip().lower()
            if name in _FRAMING_FIELDS:
                fields.setdefault(name, []).append(value.strip())
    connection = {token.strip().lower() for value in fields.get(b"connection", ())
                  for token in value.split(b",")}
    reusable = b"close" not in connection and (minor == 1 or b"keep-alive" in connection)
    if status in (204, 304):
        return _Answer(status, reusable)
    codings = [coding.strip().lower() for value in fields.get(b"transfer-encoding", ())
               for coding in value.split(b",")]
    if codings:
        if codings[-1] == b"chunked":
            return _Answer(status, _skip_chunked(reader) and reusable)
        reader.skip_to_end(MAX_RESPONSE_BYTES)  # framed by the end of the connection
        return _Answer(status, False)
    lengths = set(fields.get(b"content-length", ()))
    if len(lengths) > 1 or not all(value.isdigit() for value in lengths):
        raise ProtocolError("an unreadable Content-Length")
    if lengths:
        length = int(lengths.pop())
        if length > MAX_RESPONSE_BYTES:
            return _Answer(status, False)  # not read: the connection goes
        reader.skip(length)
        return _Answer(status, reusable)
    reader.skip_to_end(MAX_RESPONSE_BYTES)  # framed by the end of the connection
    return _Answer(status, False)


def _skip_chunked(reader: _Reader) -> bool:
    """Consumes a chunked body and its trailer; False (the connection cannot be reused)
    when it is longer than ``MAX_RESPONSE_BYTES``."""
    read = 0
    while True:
        size_field = reader.until(_LINE_END, 1024).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_field):
            raise ProtocolError("an unreadable chunk size")
        size = int(size_field, 16)
        if size == 0:
            while reader.until(_LINE_END, MAX_HEAD_BYTES):
                pass  # trailer fields, up to the empty line
            return True
        read += size
        if read > MAX_RESPONSE_BYTES:
            return False
        reader.skip(size)
        if reader.until(_LINE_END, 2):
            raise ProtocolError("a chunk longer than its size")


def _open(address: str, port: int, connect_by: float) -> socket.socket:
    """A non-blocking TCP connection to ``address`` (an IP address, never a name), opened
    by ``connect_by``; OSError (TimeoutError after that time) when it cannot be."""
    family, kind, protocol, _, where = socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setblocking(False)
        error = sock.connect_ex(where)
        if error == errno.EINPROGRESS:
            wait_io(sock, WRITE, connect_by)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def _handshake(sock: ssl.SSLSocket, deadline: float) -> None:
    """The TLS handshake on a non-blocking socket, by ``deadline``."""
    while True:
        try:
            sock.do_handshake()
            return
        except ssl.SSLWantReadError:
            wait_io(sock, READ, deadline)
        except ssl.SSLWantWriteError:
            wait_io(sock, WRITE, deadline)


def _send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Sends all of ``data`` on a non-blocking socket, by ``deadline``."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except (BlockingIOError, ssl.SSLWantWriteError):
            wait_io(sock, WRITE, deadline)
        except ssl.SSLWantReadError:
            wait_io(sock, READ, deadline)


def _receive(sock: socket.socket, deadline: float) -> bytes:
    """What arrives next on a non-blocking socket (b"" at its end), waiting for it
    until ``deadline``."""
    while True:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError):
            wait_io(sock, READ, deadline)
        except ssl.SSLWantWriteError:
            wait_io(sock, WRITE, deadline)
        else:
            cooperate()  # a receiver that never pauses must not hold the hub's thread
            return data


class _Unreachable(Exception):
    """TCP could not be opened to an address (its cause says why): nothing was sent, so
    the attempt may go to the destination's next checked address."""


class _Connection:
    """A connection to one checked address (never a name to resolve)."""

    def __init__(self, key: _Key, context: ssl.SSLContext | None) -> None:
        self.key, self.context = key, context
        self.sock: socket.socket | None = None

    def connect(self, deadline: float, share: float = 1.0) -> None:
        """Opens the connection (TCP within ``share`` of the time left, then TLS within
        the rest); a failure to open TCP raises ``_Unreachable`` around its cause."""
        _, address, port, host = self.key
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError("the attempt's deadline passed")
        try:
            sock = _open(address, port, now + (deadline - now) * share)
        except OSError as error:
            raise _Unreachable() from error
        if self.context is not None:
            try:
                sock = self.context.wrap_socket(sock, server_hostname=host,
                                                do_handshake_on_connect=False)
                _handshake(sock, deadline)
            except BaseException:
                sock.close()
                raise
        self.sock = sock

    def exchange(self, request: bytes, deadline: float) -> int:
        """Sends ``request`` on the open connection and reads its answer before
        ``deadline``; the status. The connection is closed afterwards unless the answer
        leaves it reusable."""
        sock = self.sock
        assert sock is not None, "connect() first"
        if time.monotonic() >= deadline:  # (a lane resumed late): never send after it
            raise TimeoutError("the attempt's deadline passed")
        try:
            _send_all(sock, request, deadline)
        except (ConnectionResetError, BrokenPipeError) as error:
            raise _ClosedBeforeAnswer("closed before the request was taken") from error
        # The answer cannot be there yet: wait for it rather than try a read that fails.
        wait_io(sock, READ, deadline)
        reader = _Reader(sock, deadline)
        answer = _read_answer(reader)
        if not answer.reusable or reader.buffer:  # bytes beyond the answer: not trusted
            self.close()
        return answer.status

    def idle_and_open(self) -> bool:
        """Whether the idle connection can carry a request: nothing has arrived on it
        since its last answer was read (bytes the receiver sent after that answer would
        be read as the next one's; its end means it was closed)."""
        sock = self.sock
        if sock is None or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return False
        poller = select.poll()  # (select() refuses a descriptor above 1023)
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Sender:
    """Sends attempts over pooled keep-alive connections (one per worker process,
    thread-safe: a connection is used by one thread or lane at a time)."""

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
        connection = self._take_idle(destination)
        reused = connection is not None
        try:
            request = _request(destination, headers, body)
            if connection is None:
                connection = self._connect(destination, deadline)
            try:
                status = connection.exchange(request, deadline)
            except _ClosedBeforeAnswer:
                if not reused:
                    raise
                # The receiver closed the idle connection before this request reached it
                # (no byte of an answer came): the same attempt goes once more, on a new
                # connection to the same address (as browsers do).
                connection.close()
                connection = self._connect_to(connection.key, deadline)
                status = connection.exchange(request, deadline)
        except (_Unreachable, OSError, ValueError) as error:
            if connection is not None:
                connection.close()
            return Outcome(None, _error_class(error))
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

    def _take_idle(self, destination: Destination) -> _Connection | None:
        """A kept-alive connection to one of the destination's checked addresses that
        can carry a request, or None."""
        for address in destination.addresses:
            key = (destination.scheme, address, destination.port, destination.host)
            while (connection := self._take(key)) is not None:
                if connection.idle_and_open():
                    return connection
                connection.close()
        return None

    def _connect(self, destination: Destination, deadline: float) -> _Connection:
        """A new connection to the first of the destination's checked addresses that
        accepts one, in their order (as ``socket.create_connection`` tries a name's):
        each address in turn gets its share of the time left, so one that drops the
        connection silently leaves time for the next. Raises the last ``_Unreachable``."""
        addresses = destination.addresses
        for index, address in enumerate(addresses):
            key = (destination.scheme, address, destination.port, destination.host)
            try:
                return self._connect_to(key, deadline, share=1 / (len(addresses) - index))
            except _Unreachable:
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("a destination has at least one address")

    def _connect_to(self, key: _Key, deadline: float, share: float = 1.0) -> _Connection:
        """A new connection to the address of ``key`` (``_Connection.connect``)."""
        connection = _Connection(key, self._context if key[0] == "https" else None)
        connection.connect(deadline, share)
        return connection

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


def _error_class(error: BaseException) -> str:
    """The ``Outcome.error`` of an attempt that got no answer: ``timeout``,
    ``connection_refused``, ``tls`` or ``connection_error``."""
    if isinstance(error, _Unreachable) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return "tls"
    return "connection_error"


def _request(destination: Destination, headers: dict[str, str], body: bytes) -> bytes:
    """The request's bytes: a POST of ``body`` as JSON with ``headers`` (the delivery's
    own fields: Host, Content-Type, Content-Length and User-Agent are the request's);
    ValueError for a target or field that would break the request's framing."""
    lines = [f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if _UNSAFE_FIELD.search(name) or _UNSAFE_FIELD.search(value) or ":" in name:
            raise ValueError("a header field holds a control character")
        lines.append(f"{name}: {value}")
    return (_request_head(destination.scheme, destination.host, destination.port,
                          destination.target)
            + ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


@functools.lru_cache(maxsize=1024)
def _request_head(scheme: str, host: str, port: int, target: str) -> bytes:
    """The request line and the fields every request to a destination carries (built
    once per destination: they are the same on every attempt)."""
    default = 443 if scheme == "https" else 80
    # A name in its ASCII (IDNA) form, as it was resolved and is sent as the SNI name.
    host = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    if port != default:
        host = f"{host}:{port}"
    if _UNSAFE_TARGET.search(target):
        raise ValueError("the request target holds a control character or a space")
    if _UNSAFE_FIELD.search(host):
        raise ValueError("a header field holds a control character")
    return (f"POST {target} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nUser-Agent: {USER_AGENT}\r\n"
            ).encode("latin-1")
