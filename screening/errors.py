"""The errors of the service: one exception tree, one ``type`` URI scheme for problems.

Exception tree (every class is raised on purpose by this package)::

    ScreeningError                 root; status 500 "Internal Server Error"
     ├── ConfigError               bad environment at start-up (screening.config.settings)
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

Views and services raise these; ``screening.web.errors`` renders them, with Werkzeug's own
errors and the unexpected ones, in the format of the request's surface (problem+json,
OperationOutcome under ``/fhir``, HTML under ``/console``).

Messages (``detail``, ``errors``) must never contain a submitted value: name the field,
never echo what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Every ``type`` member is this base plus a slug (one scheme for all problems).
PROBLEM_TYPE_BASE = "https://screening.example/problems/"


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
