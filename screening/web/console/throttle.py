"""Sign-in throttling: a fixed window per (address, e-mail) for passwords and per account
for TOTP codes, in memory or in Redis (``REDIS_URL``), like the API's limits.

It is separate from the API limiter (``screening.web.limits``) on purpose: the API's budget is
per credential and can be switched off (``RATE_LIMIT=off``), while guessing passwords and
codes must always be slowed down (``CONSOLE_LOGIN_LIMIT``). Nobody is locked out: a
refused attempt waits for the window to pass. Keys hold hashes, never an e-mail address.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

NAMESPACE = "screening-console"
log = logging.getLogger("screening.console")


class SignInThrottle:
    """Counts attempts per key and says how long to wait once the limit is reached."""

    def __init__(self, limit: str, storage_uri: str | None):
        self.item: RateLimitItem = parse(limit)
        self._primary: Storage = storage_from_string(storage_uri or "memory://")
        self._fallback: Storage | None = MemoryStorage() if storage_uri else None

    def wait_seconds(self, *parts: str) -> int | None:
        """Counts one attempt for the key made of ``parts``: None when it may go ahead,
        else the seconds until the window ends (for ``Retry-After``)."""
        key = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        try:
            return self._count(self._primary, key)
        except Exception:
            if self._fallback is None:
                raise
            # A Redis outage degrades to per-process counting, never to no limit.
            log.warning("sign-in throttle storage unreachable; counting in memory")
            return self._count(self._fallback, key)

    def _count(self, storage: Storage, key: str) -> int | None:
        limiter = FixedWindowRateLimiter(storage)
        if limiter.hit(self.item, NAMESPACE, key):
            return None
        reset_at = limiter.get_window_stats(self.item, NAMESPACE, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))
