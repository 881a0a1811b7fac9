"""Reading JSON request bodies: media type, size and syntax, as problems."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge

from screening.errors import BadRequest, UnsupportedMediaType

# orjson reads an integer beyond 64 bits as a float, where ``json`` keeps the integer
# (and validation then names it out of range, not of the wrong type); and it reads nesting
# up to 1,024 levels deep, ``json`` as deep as the interpreter's recursion limit allows
# from where it is called. So a body with a run of 19 or more digits anywhere, or that
# opens many arrays or objects in all (as any deeply nested one does), is left to ``json``,
# which decides it as it always did. One ``translate`` shows both (a regular expression
# looking for the digits alone costs more than parsing the body).
_SHAPES = bytes(ord("0") if chr(i).isdigit() and i < 128 else ord("[") if chr(i) in "[{"
                else ord(" ") for i in range(256))
_LONG_NUMBER = b"0" * 19
_MANY_OPENINGS = 256


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The parsed JSON body of the request.

    415 unless the media type is ``application/json`` (or ``+json``); 413 above
    ``MAX_CONTENT_LENGTH``, whether ``Content-Length`` says so or a chunked body runs
    past it; 400 when the body is not valid JSON (``NaN``/``Infinity`` and absurd nesting
    included).
    """
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    if not current.is_json:
        raise UnsupportedMediaType("The request body must be application/json.")
    raw = current.get_data(cache=True)
    if current.content_length is None and _chunked_past_the_limit(current, len(raw)):
        raise RequestEntityTooLarge()
    return parse(raw)


def parse(raw: bytes) -> Any:
    """``raw`` parsed exactly as ``json.loads`` (with ``NaN``/``Infinity`` refused) parses
    it; 400 when that fails.

    orjson parses the common body several times faster; whatever it refuses (invalid
    JSON, but also UTF-16, a byte order mark, lone surrogates, deep nesting) and any body
    with a number orjson would read differently goes to ``json``, which decides."""
    shapes = raw.translate(_SHAPES)
    if shapes.count(b"[") < _MANY_OPENINGS and _LONG_NUMBER not in shapes:
        try:
            return orjson.loads(raw)
        except (ValueError, RecursionError):
            pass
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None


def _chunked_past_the_limit(current: Request, read: int) -> bool:
    """Whether a body without ``Content-Length`` goes on past ``MAX_CONTENT_LENGTH``.

    Werkzeug stops reading such a body quietly at the limit (a longer ``Content-Length``
    is refused before reading), so a truncated body would otherwise reach the JSON parser.
    One more byte from the server's own stream tells a body that ends there from one that
    goes on.
    """
    limit = current.max_content_length
    if limit is None or read < limit:
        return False
    return bool(current.environ["wsgi.input"].read(1))
