"""Errors the HTTP server answers itself, as problem details like every other error.

gunicorn refuses some requests before the application sees them (a header or request line
above its limits, a request that is not valid HTTP/1.1) and answers them with its own HTML
page, which quotes the offending input. ``ProblemThreadWorker`` and ``ProblemSyncWorker``
are gunicorn's threaded and sync workers answering those with ``application/problem+json``
instead: a fixed, value-free
``detail`` per status, ``instance`` naming the occurrence by its request id (the request's
path may be what was refused), and one log line naming the error class, never the input.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
import uuid
from ssl import SSLError
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from screening.server.lanes import LanePool, is_intake, request_start
from screening.web.errors import PROBLEM_MIMETYPE, Problem

log = logging.getLogger("screening.server")

# (exception classes, status, title, slug, detail), first match wins. The response-header
# errors come first: they subclass the request-header ones but are the application's fault.
_ANSWERS: tuple[tuple[tuple[type[BaseException], ...], int, str, str, str], ...] = (
    ((http.InvalidResponseHeader, http.InvalidResponseHeaderName, http.ConfigurationProblem),
     500, "Internal Server Error", "internal-error", "An unexpected error occurred."),
    ((http.LimitRequestHeaders,), 431, "Request Header Fields Too Large",
     "header-fields-too-large", "A request header, or the headers together, exceed the limit."),
    ((http.LimitRequestLine,), 414, "URI Too Long", "uri-too-long",
     "The request line is longer than the limit."),
    ((http.UnsupportedTransferCoding,), 501, "Not Implemented", "not-implemented",
     "The request's transfer coding is not supported."),
    ((http.ExpectationFailed,), 417, "Expectation Failed", "expectation-failed",
     "The request's Expect header cannot be met."),
    ((http.ForbiddenProxyRequest, SSLError), 403, "Forbidden", "forbidden",
     "The request was refused."),
    ((http.ParseException,), 400, "Bad Request", "bad-request",
     "The request is not valid HTTP/1.1."),
)
_UNEXPECTED = (500, "Internal Server Error", "internal-error", "An unexpected error occurred.")


def answer_for(error: BaseException) -> tuple[int, str, str, str]:
    """Status, title, problem slug and detail for an error the server met."""
    for classes, *answer in _ANSWERS:
        if isinstance(error, classes):
            status, title, slug, detail = answer
            return int(status), str(title), str(slug), str(detail)
    return _UNEXPECTED


def problem_bytes(status: int, title: str, slug: str, detail: str, request_id: str) -> bytes:
    """The whole HTTP/1.1 response: problem details, then the connection closes."""
    problem = Problem(status, title, detail, slug)
    body = json.dumps(problem.to_json(f"urn:uuid:{uuid.UUID(request_id)}")).encode()
    head = (f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MIMETYPE}\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            f"X-Request-ID: {request_id}\r\n\r\n")
    return head.encode("ascii") + body


class ProblemErrors:
    """A gunicorn worker mixin: the server's own error responses are problem details."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any,
                     exc: BaseException) -> None:
        status, title, slug, detail = answer_for(exc)
        request_id = uuid.uuid4().hex
        fields = {"request_id": request_id, "status": status,
                  "exc_type": f"{type(exc).__module__}.{type(exc).__qualname__}"}
        if status >= 500:
            fields["stack"] = "".join(traceback.format_tb(exc.__traceback__))
            log.error("request failed in the HTTP server", extra=fields)
        else:
            log.warning("request refused by the HTTP server", extra=fields)
        try:
            util.write_nonblock(client, problem_bytes(status, title, slug, detail, request_id))
        except OSError:
            pass  # the client is gone; nothing to answer


class ProblemThreadWorker(ProblemErrors, ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker whose own error responses are problem details, and
    whose waiting requests queue in two lanes, clinicians' before bulk intake
    (``screening.server.lanes``)."""

    def get_thread_pool(self) -> LanePool:
        return LanePool(self.cfg.threads)

    def enqueue_req(self, conn: Any) -> None:
        future = self.tpool.submit(self.handle, conn, intake=is_intake(request_start(conn)))
        future.add_done_callback(
            lambda done: self.method_queue.defer(self.finish_request, conn, done))


class ProblemSyncWorker(ProblemErrors, SyncWorker):  # type: ignore[misc]
    """gunicorn's ``sync`` worker (one request at a time) whose own error responses are
    problem details."""
