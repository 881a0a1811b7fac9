"""Reading JSON request bodies: media type, size and syntax, as problems."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from screening.errors import BadRequest, UnsupportedMediaType


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The parsed JSON body of the request.

    415 unless the media type is ``application/json`` (or ``+json``); 413 above
    ``MAX_CONTENT_LENGTH``, whether ``Content-Length`` says so or a chunked body runs
    past it; 400 when the body is not valid JSON (``NaN``/``Infinity`` and absurd nesting
    included).
    """
    if not request.is_json:
        raise UnsupportedMediaType("The request body must be application/json.")
    raw = request.get_data(cache=True)
    if _chunked_past_the_limit(len(raw)):
        raise RequestEntityTooLarge()
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None


def _chunked_past_the_limit(read: int) -> bool:
    """Whether a body without ``Content-Length`` goes on past ``MAX_CONTENT_LENGTH``.

    Werkzeug stops reading such a body quietly at the limit (a longer ``Content-Length``
    is refused before reading), so a truncated body would otherwise reach the JSON parser.
    One more byte from the server's own stream tells a body that ends there from one that
    goes on.
    """
    limit = request.max_content_length
    if limit is None or read < limit or request.content_length is not None:
        return False
    return bool(request.environ["wsgi.input"].read(1))
