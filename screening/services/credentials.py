"""Bearer secrets: ``<kind>_<public_id>_<secret>``, stored only as ``sha256(secret)``.

``kind`` is ``ik`` (intake key) or ``ut`` (user API token); ``public_id`` is 12 hex
characters naming the row; ``secret`` is ``secrets.token_urlsafe(32)`` (32 random bytes).
A lookup by ``public_id`` followed by ``hmac.compare_digest`` of the hashes keeps the
comparison constant-time; an unknown id still runs a compare (``DUMMY_HASH``) so response
time says nothing about which ids exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

INTAKE_KEY = "ik"
USER_TOKEN = "ut"
KINDS = (INTAKE_KEY, USER_TOKEN)
SECRET_BYTES = 32
PUBLIC_ID_HEX_CHARS = 12

_TOKEN_PATTERN = re.compile(r"^(ik|ut)_([0-9a-f]{12})_([A-Za-z0-9_-]{43,128})$")

DUMMY_HASH = hashlib.sha256(b"no such credential").hexdigest()


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A freshly generated credential: ``token`` is shown once, ``secret_hash`` is stored."""

    kind: str
    public_id: str
    token: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """The parts of a well-formed bearer token."""

    kind: str
    public_id: str
    secret: str


def new_public_id() -> str:
    """A random public id (12 hex characters)."""
    return secrets.token_hex(PUBLIC_ID_HEX_CHARS // 2)


def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256 as hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def generate(kind: str) -> NewSecret:
    """A new credential of ``kind`` (``ik`` or ``ut``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown credential kind {kind!r}")
    public_id = new_public_id()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewSecret(kind, public_id, f"{kind}_{public_id}_{secret}", hash_secret(secret))


def parse(token: str) -> ParsedToken | None:
    """Splits a bearer token into its parts, or ``None`` when it is not well-formed."""
    match = _TOKEN_PATTERN.match(token)
    if match is None:
        return None
    kind, public_id, secret = match.groups()
    return ParsedToken(kind, public_id, secret)


def matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time check of ``secret`` against a stored hash; ``None`` (unknown id) still
    costs one comparison against ``DUMMY_HASH`` and is never a match."""
    candidate = hash_secret(secret)
    equal = hmac.compare_digest(candidate, stored_hash or DUMMY_HASH)
    return equal and stored_hash is not None
