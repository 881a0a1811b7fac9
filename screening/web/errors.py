"""The one error renderer: every error response of the application, in three formats.

Views and services raise ``screening.errors`` exceptions; Werkzeug raises its own
``HTTPException`` (unknown route, 405, 413, 429 ...); anything else is unexpected. Each
becomes one ``Problem`` (status, title, detail, slug, headers and the members beyond the
standard five, such as ``errors``: field path -> messages), and ``render`` writes it in the
format of the surface the request is on:

- under ``/fhir``: a FHIR ``OperationOutcome`` (``screening.web.fhir.outcome.from_problem``);
- under ``/console``: the console's HTML error page;
- anywhere else: ``application/problem+json`` (RFC 9457).

Status and headers (``Allow``, ``Retry-After``, ``WWW-Authenticate``) are the same in every
format. A problem without a ``detail`` (Werkzeug's errors, the unexpected 500) gets a fixed,
value-free sentence per status in the words of its format. Messages never contain a
submitted value: they name the field, never echo what was sent.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from screening.errors import ScreeningError, problem_type
from screening.storage.unit_of_work import rollback_request
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.outcome import from_problem

PROBLEM_MIMETYPE = "application/problem+json"
FHIR_PATH = "/fhir"
CONSOLE_PATH = "/console"
CONSOLE_ERROR_TEMPLATE = "console/error.html"

log = logging.getLogger("screening.errors")

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

# The sentence of a problem without a detail, per format (Werkzeug's descriptions vary
# between versions; these do not). Machines read the API's, people the console's.
_DEFAULT_DETAIL = "The request could not be served."
_API_DETAILS = {
    404: "No resource at this path.",
    405: "This method is not allowed on this resource; see the Allow header.",
    413: "The request body is larger than the limit.",
    429: "Too many requests for this credential; see the Retry-After header.",
    500: "An unexpected error occurred.",
}
_CONSOLE_DETAILS = {
    400: "The form was not accepted: it was missing its security token or had expired. "
         "Go back, reload the page and try again.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What was sent is larger than the limit.",
    429: "Too many attempts. Wait a minute, then try again.",
    500: "Something went wrong on our side. Nothing was changed.",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One error to answer, whatever the format. ``detail`` ``None`` means the format's
    fixed sentence for ``status``; ``extra`` holds the members beyond the standard five
    (``errors``: field path -> messages; ``issue``: a FHIR resource's located issues)."""

    status: int
    title: str
    detail: str | None = None
    slug: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_error(cls, error: ScreeningError) -> Problem:
        """The problem of an error this package raised on purpose."""
        return cls(error.status, error.title, error.detail, error.slug, error.headers,
                   error.extra_members())

    @classmethod
    def of_http(cls, error: HTTPException) -> Problem:
        """The problem of a Werkzeug error: its status and headers, never its body."""
        original = error.get_response()
        status = original.status_code
        kept = {name: value for name, value in original.headers.items()
                if name.lower() not in {"content-type", "content-length"}}
        return cls(status, HTTP_STATUS_CODES.get(status, "Error"), headers=kept)

    def to_json(self, instance: str) -> dict[str, Any]:
        """The ``application/problem+json`` body, ``instance`` naming the occurrence."""
        return {
            "type": problem_type(self.slug or _HTTP_SLUGS.get(self.status,
                                                              f"http-{self.status}")),
            "title": self.title,
            "status": self.status,
            "detail": self.detail or _API_DETAILS.get(self.status, _DEFAULT_DETAIL),
            "instance": instance,
            **self.extra,
        }


def render(problem: Problem) -> Response:
    """The response of ``problem`` in the format of the request's surface."""
    if under(request.path, FHIR_PATH):
        body = json.dumps(from_problem(problem.to_json(request.path)))
        response = Response(body, status=problem.status, mimetype=FHIR_JSON)
    elif under(request.path, CONSOLE_PATH):
        response = Response(_console_page(problem), status=problem.status,
                            mimetype="text/html")
    else:
        body = json.dumps(problem.to_json(request.path))
        response = Response(body, status=problem.status, mimetype=PROBLEM_MIMETYPE)
    for name, value in problem.headers.items():
        response.headers.add(name, value)
    return response


def _console_page(problem: Problem) -> str:
    # People read the status's reason phrase, not the problem's title.
    status = problem.status
    detail = problem.detail or _CONSOLE_DETAILS.get(status, _DEFAULT_DETAIL)
    return render_template(CONSOLE_ERROR_TEMPLATE, status=status,
                           title=HTTP_STATUS_CODES.get(status, "Error"), detail=detail)


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it (``/console``, ``/console/queue``)."""
    return path == prefix or path.startswith(prefix + "/")


def _handle_screening_error(error: ScreeningError) -> Response:
    if error.status >= 500:
        rollback_request()
    return render(Problem.of_error(error))


def _handle_http_exception(error: HTTPException) -> Response:
    return render(Problem.of_http(error))


def _handle_unexpected(error: Exception) -> Response:
    """500 without internals. The log names the exception class and the stack only: the
    message of e.g. a database error can quote the submitted values."""
    rollback_request()
    log.error(
        "unhandled exception",
        extra={
            "exc_type": f"{type(error).__module__}.{type(error).__qualname__}",
            "stack": "".join(traceback.format_tb(error.__traceback__)),
        },
    )
    return render(Problem(500, "Internal Server Error", slug="internal-error"))


def init_app(app: Flask) -> None:
    """Registers the three handlers that render every error of the application."""
    app.register_error_handler(ScreeningError, _handle_screening_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
