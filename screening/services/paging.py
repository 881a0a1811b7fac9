"""Keyset pagination: page sizes, opaque cursors and query-parameter checks.

A cursor is the sort key of the last item of a page, as URL-safe base64 of a small JSON
array (e.g. ``["2026-11-21T10:00:00.123456+00:00", "7f0c…"]``). It is opaque to callers;
anything that does not decode to the expected shape is answered 422 naming ``cursor``.
Cursors hold sort keys only (times, ids, sequence numbers), never patient data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from screening.errors import Unprocessable

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 512

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def invalid(parameter: str, message: str) -> Unprocessable:
    """A 422 naming one query parameter."""
    return Unprocessable({parameter: [message]}, "A query parameter is invalid.")


def parse_limit(raw: str | None) -> int:
    """The page size: ``DEFAULT_LIMIT`` when absent, else a decimal integer 1..200."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid("limit", f"Must be an integer from 1 to {MAX_LIMIT}.")
    return int(raw)


def parse_choice(parameter: str, raw: str | None, choices: Sequence[str]) -> str | None:
    """An optional filter that must be one of ``choices``."""
    if raw is None:
        return None
    if raw not in choices:
        raise invalid(parameter, f"Must be one of: {', '.join(choices)}.")
    return raw


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor for a sort key (datetimes become ISO strings)."""
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None, shape: Sequence[Callable[[Any], Any]]) -> tuple[Any, ...] | None:
    """The sort key in a cursor, each member converted by ``shape`` (e.g. ``as_time``,
    ``as_str``, ``as_int``); None when no cursor was given. 422 naming ``cursor`` when it
    cannot be read."""
    if raw is None:
        return None
    try:
        if not raw or len(raw) > MAX_CURSOR_CHARS:
            raise ValueError("cursor length")
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        values = json.loads(decoded)
        if not isinstance(values, list) or len(values) != len(shape):
            raise ValueError("cursor shape")
        return tuple(convert(value) for convert, value in zip(shape, values, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "Not a cursor given by this list.") from None


def as_time(value: Any) -> dt.datetime:
    """A cursor member that must be an aware ISO 8601 datetime."""
    if not isinstance(value, str):
        raise TypeError("time expected")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("aware time expected")
    return moment


def as_str(value: Any) -> str:
    """A cursor member that must be a short string (an id)."""
    if not isinstance(value, str) or len(value) > 64:
        raise TypeError("id expected")
    return value


def as_int(value: Any) -> int:
    """A cursor member that must be an integer (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("integer expected")
    return value


def paginate(rows: list[T], limit: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """Cut ``rows`` (fetched with ``limit + 1``) to a page; the extra row tells whether a
    next page exists, and the last kept row's ``key`` becomes its cursor."""
    if len(rows) <= limit:
        return Page(rows, None)
    kept = rows[:limit]
    return Page(kept, encode_cursor(key(kept[-1])))
