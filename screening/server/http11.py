"""HTTP/1.1 for the serving loop: one client connection's requests in, responses out.

Requests are parsed by llhttp (the ``httptools`` binding, the parser of Node.js), which
frames bodies (``Content-Length`` or chunked), refuses what RFC 9112 forbids (both
framings at once, duplicate lengths, bare CR line ends, unknown versions) and tells
keep-alive. This module adds gunicorn's limits (request line, number and size of header
fields) and RFC 9112's rule for ``Host`` (required in HTTP/1.1, at most one, a host),
reads a body only up to the application's limit plus one byte (the application answers
413 and the connection closes unread), answers ``Expect: 100-continue``, and builds the
WSGI environ and the response bytes. Errors met here are answered as problem
details by the caller (``screening.server.gunicorn_errors``), never echoing the input.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import socket
import time
from collections import deque
from collections.abc import Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools
from gunicorn.http import errors as http

NO_BODY_STATUSES = frozenset({204, 304})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# RFC 9112 §3.2: ``Host = uri-host [ ":" port ]`` (RFC 3986 §3.2.2: an IP literal in
# brackets, or a reg-name of unreserved, percent-encoded and sub-delims characters, which
# may be empty). ``%`` only begins a percent-encoded octet; what is in brackets is an IPv6
# address (checked by ``ipaddress``) or an IPvFuture.
_HOST_VALUE = re.compile(
    rb"(?:\[(?P<literal>[^\]]*)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)"
    rb"(?::[0-9]*)?")
_IPV6_CHARACTERS = re.compile(rb"[0-9A-Fa-f:.]+")
_IP_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")


class Limits:
    """What one request may hold: gunicorn's ``limit_request_*`` settings, and the body
    size past which the rest of a body is not read."""

    __slots__ = ("line", "fields", "field_size", "body")

    def __init__(self, line: int, fields: int, field_size: int, body: int) -> None:
        self.line, self.fields, self.field_size, self.body = line, fields, field_size, body


_ticks = itertools.count()  # orders when connections' next requests began to wait


class Request:
    """One parsed request."""

    __slots__ = ("method", "target", "version", "headers", "body", "keep_alive",
                 "cut_short", "intake")

    def __init__(self, method: str, target: bytes, version: str,
                 headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool,
                 cut_short: bool) -> None:
        self.method, self.target, self.version = method, target, version
        self.headers, self.body, self.keep_alive = headers, body, keep_alive
        self.cut_short = cut_short  # the body went past the limit and was not read whole
        self.intake: bool | None = None  # bulk intake? (the serving loop decides, once)


class _BodyPastLimit(Exception):
    """Stops the parser once a body has passed the limit: the request is answered with
    what was read, and the connection closes."""


class Connection:
    """A client connection: bytes in, parsed requests queued in order, response bytes
    out. At most one of its requests is served at a time (``busy``), so responses go out
    in the order the requests came (HTTP/1.1 pipelining)."""

    def __init__(self, sock: socket.socket, peer: Any, limits: Limits) -> None:
        self.sock = sock
        self.peer = peer
        self.limits = limits
        self.requests: deque[Request] = deque()
        self.out = bytearray()
        self.busy = False
        self.waiting_since = 0  # a tick: when its next request began to wait its turn
        self.watching_writes = False  # the loop waits for the socket to take more of out
        self.ended = False  # the client has shut its side: nothing more to read
        self.closing = False  # close once ``out`` is sent
        self.lingering_until = 0.0  # closing: all is sent, what arrives is dropped till then
        self.lingering_ends = 0.0  # however long the client goes on sending, no later
        self.refusal: bytes | None = None  # the answer to a refused request, sent last
        self.last_active = time.monotonic()  # last bytes received or sent
        self.began = 0.0  # when the request being received began to arrive
        self._parser = httptools.HttpRequestParser(self)
        self._in_message = False
        self._messages = 0  # requests begun on this connection
        # What a request may hold besides its body: its line and header fields, as
        # gunicorn bounds the buffer it reads them into.
        self._framing_limit = limits.line + limits.fields * (limits.field_size + 2) + 4
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._framing = 0  # bytes of the request that were not its body
        self._head_done = False  # the header section has ended: trailers may follow

    def refuse(self, answer: bytes) -> None:
        """A request was refused before the application (``answer``): it is sent after
        the answers to the requests before it, and the connection closes."""
        self.closing = True
        if self.busy or self.requests:
            self.refusal = answer
        else:
            self.out += answer

    def answered(self, answer: bytes) -> None:
        """Queues the answer to the request being served, and the refusal that waited
        for it once no request is left."""
        self.out += answer
        self.busy = False
        if self.requests:
            self.waiting_since = next(_ticks)  # a pipelined request waits from now
        if self.refusal is not None and not self.requests:
            self.out += self.refusal
            self.refusal = None

    @property
    def idle(self) -> bool:
        """Nothing received of a next request, nothing being served or sent."""
        return not (self._in_message or self.busy or self.requests or self.out)

    @property
    def receiving(self) -> bool:
        """Part of a request has arrived, not all of it."""
        return self._in_message

    def feed(self, data: bytes) -> None:
        """Parses ``data``; complete requests are queued in ``requests``. Raises a gunicorn
        ``http`` error for a request that is refused before the application sees it."""
        self.last_active = time.monotonic()
        messages, body_size = self._messages, self._body_size
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if isinstance(cause, _BodyPastLimit):
                return
            if isinstance(cause, http.ParseException):
                raise cause from None
            raise
        except httptools.HttpParserUpgrade:
            # An upgrade (h2c, websocket) is not offered: the request is served as plain
            # HTTP/1.1 and the connection closes after it.
            self._in_message = False
            self.closing = True
        except httptools.HttpParserError:
            raise http.ParseException() from None
        if self._in_message and self._messages == messages:
            # llhttp hands over a header or trailer field only once it ends, buffering
            # it until then (copying it whole at each read): what arrives of a request
            # besides its body is bounded here as it arrives (the read in which the
            # request began is not counted).
            self._framing += len(data) - (self._body_size - body_size)
            if self._framing > self._framing_limit:
                raise http.LimitRequestHeaders("the request's header section is too large")

    # -- llhttp callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._messages += 1
        self.began = time.monotonic()
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.line:
            raise http.LimitRequestLine(len(self._url), self.limits.line)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_done:
            return  # a trailer field, never merged into the header fields (RFC 9110 §6.5.1)
        if len(self._headers) >= self.limits.fields:
            raise http.LimitRequestHeaders("too many header fields")
        if len(name) + len(value) + 2 > self.limits.field_size:
            raise http.LimitRequestHeaders("a header field is too large")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._check_host()
        if self._declared_length() > self.limits.body:
            # Answered at once (the application refuses it by its Content-Length); the
            # body is never read and the connection closes.
            self._complete(cut_short=True)
            raise _BodyPastLimit()
        expect = [value for name, value in self._headers if name.lower() == b"expect"]
        if not expect:
            return
        if len(expect) > 1 or expect[0].strip().lower() != b"100-continue":
            raise http.ExpectationFailed("unsupported expectation")
        if self._parser.get_http_version() == "1.1" and not (self.busy or self.requests):
            # Not behind another request's answer still to come: an interim answer must
            # not overtake it. Such a client sends its body after its own short wait.
            self.out += _CONTINUE

    def on_body(self, chunk: bytes) -> None:
        self._body.append(chunk)
        self._body_size += len(chunk)
        if self._body_size > self.limits.body:
            self._complete(cut_short=True)
            raise _BodyPastLimit()

    def on_message_complete(self) -> None:
        self._complete(cut_short=False)

    # -- helpers ------------------------------------------------------------------------

    def _check_host(self) -> None:
        """RFC 9112 §3.2: an HTTP/1.1 request without Host, and any request with more
        than one Host field line or a Host value that is not a host, is refused (400)."""
        hosts = [value for name, value in self._headers if name.lower() == b"host"]
        if len(hosts) > 1 or (not hosts and self._parser.get_http_version() == "1.1"):
            raise http.InvalidHeader("Host")
        if hosts and not _is_host(hosts[0].strip(b" \t")):
            raise http.InvalidHeader("Host")

    def _declared_length(self) -> int:
        for name, value in self._headers:
            if name.lower() == b"content-length":
                return int(value)  # llhttp has checked it is digits, and only one
        return 0

    def _complete(self, *, cut_short: bool) -> None:
        body = b"".join(self._body)[: self.limits.body + 1]
        keep_alive = not cut_short and not self.closing and self._parser.should_keep_alive()
        if not (self.requests or self.busy):
            self.waiting_since = next(_ticks)
        self.requests.append(Request(
            self._parser.get_method().decode("ascii"), self._url,
            self._parser.get_http_version(), self._headers, body, keep_alive, cut_short))
        self._in_message = False
        self._reset()
        if cut_short:
            self.closing = True


def _is_host(value: bytes) -> bool:
    """Whether ``value`` is ``uri-host [ ":" port ]`` (RFC 9112 §3.2, RFC 3986 §3.2.2)."""
    match = _HOST_VALUE.fullmatch(value)
    if match is None:
        return False
    literal = match["literal"]
    if literal is None or _IP_FUTURE.fullmatch(literal):
        return True
    if not _IPV6_CHARACTERS.fullmatch(literal):
        return False  # (``ipaddress`` would take a zone, "%eth0", which RFC 3986 does not)
    try:
        ipaddress.IPv6Address(literal.decode("ascii"))
    except ValueError:
        return False
    return True


def environ(request: Request, peer: Any, server: tuple[str, str],
            base: dict[str, Any]) -> dict[str, Any]:
    """The WSGI environ of ``request`` (PEP 3333) on top of ``base`` (the server's
    constant keys). Header fields whose names hold ``_`` are dropped, as gunicorn does:
    ``X_Forwarded_For`` must not pass for ``X-Forwarded-For``; a target in absolute form
    gives ``HTTP_HOST`` its host. Raises a gunicorn ``http`` error for a request target
    that is not a URL."""
    try:
        url = httptools.parse_url(request.target) if request.target != b"*" else None
    except httptools.HttpParserInvalidURLError:
        # llhttp lets through some targets that are not URLs (``CONNECT host:port``, a
        # port past 65535): the client's error, 400, not the server's.
        raise http.InvalidRequestLine("invalid request target") from None
    path = url.path if url is not None and url.path else b"/"
    query = url.query if url is not None and url.query else b""
    result = dict(base)
    result.update({
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": request.target.decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": server[1],
        "REMOTE_ADDR": peer[0] if isinstance(peer, tuple) else str(peer),
        "REMOTE_PORT": str(peer[1]) if isinstance(peer, tuple) else "",
        "wsgi.input": _Body(request.body),
    })
    for raw_name, raw_value in request.headers:
        name = raw_name.decode("latin-1").upper()
        if "_" in name:
            continue
        value = raw_value.decode("latin-1").strip(" \t")
        if name == "CONTENT-TYPE":
            result["CONTENT_TYPE"] = value
        elif name == "CONTENT-LENGTH":
            result["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.replace("-", "_")
            result[key] = f"{result[key]},{value}" if key in result else value
    if url is not None and url.host:
        # RFC 9112 §3.2.2: a target in absolute form names the host; Host is ignored.
        host = url.host.decode("latin-1")
        host = f"[{host}]" if ":" in host else host
        host = host if url.port is None else f"{host}:{url.port}"
        # User information in an http(s) URI is an error (RFC 9110 §4.2.4); llhttp takes
        # an IPv6 zone ("[fe80::1%eth0]"), which no Host field may hold.
        if url.userinfo is not None or not _is_host(host.encode("latin-1")):
            raise http.InvalidRequestLine("invalid request target")
        result["HTTP_HOST"] = host
    return result


class _Body:
    """``wsgi.input``: the request body, already read whole (``BytesIO`` without the
    copy on every ``read``)."""

    __slots__ = ("_data", "_at")

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int | None = -1) -> bytes:
        start = self._at
        end = len(self._data) if size is None or size < 0 else min(start + size,
                                                                     len(self._data))
        self._at = end
        return self._data[start:end] if start or end != len(self._data) else self._data

    def readline(self, size: int | None = -1) -> bytes:
        start = self._at
        newline = self._data.find(b"\n", start)
        end = len(self._data) if newline < 0 else newline + 1
        if size is not None and size >= 0:
            end = min(end, start + size)
        self._at = end
        return self._data[start:end]

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self) -> Any:
        return iter(self.readlines())


class DateCache:
    """The ``Date`` header value (RFC 9110 §6.6.1), formatted once per second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        """Today's IMF-fixdate, e.g. ``Mon, 07 Dec 2026 11:05:30 GMT``."""
        second = int(time.time())
        if second != self._second:
            self._second, self._value = second, formatdate(second, usegmt=True)
        return self._value


def response_bytes(request: Request, status: str, headers: Iterable[tuple[str, str]],
                   body: bytes, date: str) -> bytes:
    """The whole HTTP/1.1 response: status line, the application's header fields (plus
    ``Date``, ``Content-Length`` when the application gave none, and ``Connection``),
    body. The application's header values are checked for line breaks by Werkzeug."""
    code = int(status[:3])
    lines = [f"HTTP/1.1 {status}\r\nDate: {date}\r\n"]
    has_length = False
    for name, value in headers:
        if not has_length and name.lower() == "content-length":
            has_length = True
        lines.append(f"{name}: {value}\r\n")
    if not has_length and code not in NO_BODY_STATUSES and not 100 <= code < 200 \
            and request.method != "HEAD":
        lines.append(f"Content-Length: {len(body)}\r\n")
    if not request.keep_alive:
        lines.append("Connection: close\r\n")
    elif request.version == "1.0":
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    head = "".join(lines).encode("latin-1")
    if request.method == "HEAD" or code in NO_BODY_STATUSES:
        return head
    return head + body
