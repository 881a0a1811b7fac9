"""Request ids, one-JSON-object-per-line logs and security headers.

Every request gets an id: an incoming ``X-Request-ID`` is honoured when it is a sane token
(at most 64 characters of ``[A-Za-z0-9._-]``), otherwise a uuid4 hex is generated. It is
echoed in the ``X-Request-ID`` response header and carried by every log line. The access
line logs the path without its query string and never a body.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import traceback
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from screening.storage.ids import uuid4_hex

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_EXTRA_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "clinic_id",
    "principal",
    "exc_type",
    "stack",
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

# Headers a view may send itself, e.g. the review console's policy that allows its own
# stylesheet and script; every other security header is always the one above.
VIEW_MAY_SET = frozenset({"Content-Security-Policy"})
# The WSGI environ key of the incoming request id (what ``request.headers`` reads).
_REQUEST_ID_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
# Lower-case names of every header ``_finish_request`` sets: when a response carries none
# of them yet (nearly always), they are appended instead of replaced one by one.
_OWN_HEADERS = frozenset(name.lower() for name in (REQUEST_ID_HEADER, *SECURITY_HEADERS))

access_log = logging.getLogger("screening.access")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ts, level, logger, msg, request_id and the
    request fields given as ``extra``. An exception is logged by class and stack only,
    because its message may quote submitted values."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _current_request_id(),
        }
        payload.update({k: getattr(record, k) for k in _EXTRA_FIELDS if hasattr(record, k)})
        if record.exc_info and record.exc_info[0] is not None:
            payload["exc_type"] = record.exc_info[0].__qualname__
            payload["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(payload, default=str)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at emit time (gunicorn and pytest swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break a request
            self.handleError(record)


def configure_logging(level: str) -> None:
    """Sends the ``screening`` loggers to stderr as JSON lines at ``level``."""
    logger = logging.getLogger("screening")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    # psycopg may log a server error's text, whose DETAIL line can quote a failing row.
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)


def _current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def incoming_request_id(value: str | None) -> str:
    """The caller's request id when sane, else a new uuid4 hex."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def new_request_id() -> str:
    """A new request id: a random uuid4 in hex."""
    return uuid4_hex()


def _start_request() -> None:
    g.request_id = incoming_request_id(request.environ.get(_REQUEST_ID_ENVIRON))
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or new_request_id()
    headers = response.headers
    if _OWN_HEADERS.isdisjoint([name.lower() for name, _ in headers]):
        headers.add(REQUEST_ID_HEADER, request_id)
        for name, value in SECURITY_HEADERS.items():
            headers.add(name, value)
    else:
        headers[REQUEST_ID_HEADER] = request_id
        for name, value in SECURITY_HEADERS.items():
            if name in VIEW_MAY_SET and name in headers:
                continue
            headers[name] = value
    if access_log.isEnabledFor(logging.INFO):
        _log_access(request_id, response.status_code)
    return response


def _log_access(request_id: str, status: int) -> None:
    principal = g.get("principal")
    started = g.get("request_started", time.perf_counter())
    access_log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "clinic_id": principal.clinic_id if principal else None,
            "principal": principal.kind if principal else None,
        },
    )


def init_app(app: Flask, log_level: str) -> None:
    """Configures JSON logging and the request-id and header hooks; call it before any
    other extension so its ``before_request`` runs first."""
    configure_logging(log_level)
    app.before_request(_start_request)
    app.after_request(_finish_request)
