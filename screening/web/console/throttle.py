"""Sign-in throttling: a fixed window per (address, e-mail) for passwords and per account
for TOTP codes, in memory or in Redis (``REDIS_URL``), like the API's limits.

It is a budget apart from the API's rate limit on purpose (it counts the same way, with
``screening.web.limits.RateLimits``): the API's budget is per credential and can be
switched off (``RATE_LIMIT=off``), while guessing passwords and codes must always be
slowed down (``CONSOLE_LOGIN_LIMIT``). Nobody is locked out: a
refused attempt waits for the window to pass. Keys hold hashes, never an e-mail address.
"""

from __future__ import annotations

import hashlib

from screening.web.limits import RateLimits

NAMESPACE = "screening-console"


class SignInThrottle:
    """Counts attempts per key and says how long to wait once the limit is reached; the
    counting (Redis, and memory while Redis does not answer) is the API's
    ``RateLimits``, in a namespace of its own."""

    def __init__(self, limit: str, storage_uri: str | None):
        self._limits = RateLimits(limit, storage_uri, namespace=NAMESPACE)

    def wait_seconds(self, *parts: str) -> int | None:
        """Counts one attempt for the key made of ``parts``: None when it may go ahead,
        else the seconds until the window ends (for ``Retry-After``)."""
        key = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        window = self._limits.count(key)
        return None if window.allowed else window.retry_after()
