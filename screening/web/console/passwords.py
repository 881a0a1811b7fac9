"""Console passwords: argon2id hashes (argon2-cffi).

Parameters: the OWASP Password Storage Cheat Sheet's first argon2id configuration
(m = 19 MiB, t = 2, p = 1), about 50 ms here; sign-in is also throttled and needs a TOTP
code. Hashes made with other parameters are redone at the next successful sign-in.

Only the hash is stored. ``verify`` costs one argon2 verification whether or not the
account exists (``None`` is checked against a dummy hash), so response time does not tell
which e-mail addresses have an account.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_CHARS = 12
MAX_CHARS = 1024

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def policy_errors(password: str) -> list[str]:
    """Why ``password`` may not be used (empty when it may). Length only: NIST SP 800-63B
    §5.1.1 advises against composition rules."""
    if len(password) < MIN_CHARS:
        return [f"Use at least {MIN_CHARS} characters."]
    if len(password) > MAX_CHARS:
        return [f"Use at most {MAX_CHARS} characters."]
    return []


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) to store."""
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no such account")


def verify(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; ``None`` never matches but costs
    the same work."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(stored_hash)
