"""Reading JSON request bodies: media type, size and syntax, as problems."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from screening.errors import BadRequest, UnsupportedMediaType


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The parsed JSON body of the request.

    415 unless the media type is ``application/json`` (or ``+json``); 413 above
    ``MAX_CONTENT_LENGTH`` (raised by Werkzeug while reading); 400 when the body is not
    valid JSON (``NaN``/``Infinity`` and absurd nesting included).
    """
    if not request.is_json:
        raise UnsupportedMediaType("The request body must be application/json.")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None
