"""Errors the HTTP server answers itself, as problem details like every other error.

The serving loop (``screening.server.loop_worker``) refuses some requests before the
application sees them (a header or request line above its limits, a request that is not
valid HTTP/1.1), raising gunicorn's own error classes for them. ``answer_for`` maps each
to its status, and ``problem_bytes`` answers it as ``application/problem+json``: a fixed,
value-free ``detail`` per status, ``instance`` naming the occurrence by its request id
(the request's path may be what was refused). The log line names the error class, never
the input.
"""

from __future__ import annotations

import json
import uuid
from ssl import SSLError

from gunicorn.http import errors as http

from screening.web.errors import PROBLEM_MIMETYPE, Problem

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
