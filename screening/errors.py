"""Errors as RFC 9457 problem details: one error path for the whole service.

Exception tree (every class is raised on purpose by this package)::

    ScreeningError                 root; status 500 "Internal Server Error"
     ├── ConfigError               bad environment at start-up (screening.config)
     ├── BadRequest                400 malformed request (e.g. body is not valid JSON)
     ├── Unauthorized              401 missing, invalid or revoked bearer credential
     ├── Forbidden                 403 valid credential without the right
     ├── NotFound                  404 no such object *in the caller's clinic*
     ├── Conflict                  409 state conflict (duplicate, lease held, in flight)
     ├── PreconditionFailed        412 stale ``If-Match``
     ├── PayloadTooLarge           413 body above the limit
     ├── UnsupportedMediaType      415 body is not ``application/json``
     ├── Unprocessable             422 well-formed but invalid; carries ``errors``
     ├── PreconditionRequired      428 ``If-Match`` missing
     └── ServiceUnavailable        503 a dependency (the database) is unreachable

Views and services raise these; ``init_app`` registers the only handlers that render them.
Werkzeug's ``HTTPException`` (404 unknown route, 405, 413, 429 ...) is rendered from
``e.get_response()`` so headers such as ``Allow`` and ``Retry-After`` survive. Any other
exception rolls the request's sessions back and answers a 500 that names nothing internal.

Messages (``detail``, ``errors``) must never contain a submitted value: name the field,
never echo what was sent.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

#: Every ``type`` member is this base plus a slug (one scheme for all problems).
PROBLEM_TYPE_BASE = "https://screening.example/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

log = logging.getLogger("screening.errors")
_ROLLBACK = "screening.errors.rollback"  # app.extensions key of init_app's ``rollback``

# Slugs for the HTTP statuses Werkzeug raises on its own (routing, limits, body size).
_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


class ScreeningError(Exception):
    """Root of every error this package raises on purpose.

    Subclasses set ``status``, ``title`` and ``slug``; instances carry a ``detail`` that is
    safe to show to the caller and optional extra response ``headers``.
    """

    status = 500
    title = "Internal Server Error"
    slug = "internal-error"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers: dict[str, str] = dict(headers or {})

    def extra_members(self) -> dict[str, Any]:
        """Problem members beyond the standard five (overridden by ``Unprocessable``)."""
        return {}


class BadRequest(ScreeningError):
    """400: the request cannot be parsed (e.g. malformed JSON)."""

    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ScreeningError):
    """401: missing, malformed, unknown, revoked or disabled bearer credential."""

    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(ScreeningError):
    """403: the credential is valid but does not grant this action."""

    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ScreeningError):
    """404: no such object, or it belongs to another clinic (never say which)."""

    status, title, slug = 404, "Not Found", "not-found"


class Conflict(ScreeningError):
    """409: the request conflicts with the current state (duplicate, held lease...)."""

    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(ScreeningError):
    """412: ``If-Match`` does not match the current ``ETag``."""

    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(ScreeningError):
    """413: the body is above the configured limit."""

    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(ScreeningError):
    """415: the body is not of the media type the endpoint accepts."""

    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class Unprocessable(ScreeningError):
    """422: well-formed but invalid; ``errors`` maps field paths to messages."""

    status, title, slug = 422, "Unprocessable Content", "validation-failed"

    def __init__(
        self,
        errors: Mapping[str, Sequence[str]],
        detail: str = "The request body failed validation.",
    ):
        super().__init__(detail)
        self.errors = {path: list(messages) for path, messages in errors.items()}

    def extra_members(self) -> dict[str, Any]:
        """Adds ``errors`` (field path -> messages) to the problem."""
        return {"errors": self.errors}


class PreconditionRequired(ScreeningError):
    """428: the request must be conditional (``If-Match``)."""

    status, title, slug = 428, "Precondition Required", "precondition-required"


class ServiceUnavailable(ScreeningError):
    """503: a dependency the request needs is unreachable."""

    status, title, slug = 503, "Service Unavailable", "service-unavailable"


def problem_type(slug: str) -> str:
    """The ``type`` URI of a problem slug."""
    return PROBLEM_TYPE_BASE + slug


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """Builds an ``application/problem+json`` response for the current request."""
    body = {
        "type": problem_type(slug or _HTTP_SLUGS.get(status, f"http-{status}")),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **(extra or {}),
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_screening_error(error: ScreeningError) -> Response:
    if error.status >= 500:
        _rollback_request_sessions()
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        headers=error.headers,
        extra=error.extra_members(),
    )


def _handle_http_exception(error: HTTPException) -> Response:
    """Keeps Werkzeug's status and headers (``Allow``, ``Retry-After``), swaps the body."""
    original = error.get_response()
    status = original.status_code
    response = problem_response(
        status,
        HTTP_STATUS_CODES.get(status, "Error"),
        _http_detail(status),
    )
    for name, value in original.headers.items():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers.add(name, value)
    return response


def _http_detail(status: int) -> str:
    """A fixed, value-free sentence per status (Werkzeug's descriptions may vary)."""
    return {
        404: "No resource at this path.",
        405: "This method is not allowed on this resource; see the Allow header.",
        413: "The request body is larger than the limit.",
        429: "Too many requests for this credential; see the Retry-After header.",
    }.get(status, "The request could not be served.")


def _handle_unexpected(error: Exception) -> Response:
    """500 without internals. The log names the exception class and the stack only: the
    message of e.g. a database error can quote the submitted values."""
    _rollback_request_sessions()
    log.error(
        "unhandled exception",
        extra={
            "exc_type": f"{type(error).__module__}.{type(error).__qualname__}",
            "stack": "".join(traceback.format_tb(error.__traceback__)),
        },
    )
    return problem_response(500, "Internal Server Error", "An unexpected error occurred.")


def _rollback_request_sessions() -> None:
    current_app.extensions[_ROLLBACK]()


def init_app(app: Flask, rollback: Callable[[], None]) -> None:
    """Registers the three handlers that render every error of the application;
    ``rollback`` undoes the request's database work before a 500 answers."""
    app.extensions[_ROLLBACK] = rollback
    app.register_error_handler(ScreeningError, _handle_screening_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
