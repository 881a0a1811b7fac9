"""Rate limits per credential (Flask-Limiter), in memory or in Redis (``REDIS_URL``).

The limiter runs before the api blueprint authenticates, so its key function resolves the
bearer credential itself (``auth.current_credential``, cached for the request): a valid
credential is its own bucket, anything else is keyed by the remote address. Health checks
are never limited. A breach answers a 429 problem with ``Retry-After``.

With ``REDIS_URL`` the counters are shared by every worker and app server; while Redis
does not answer, each worker counts on its own. ``mode`` says which holds (``/health/ready``
reports it), and the fall back is logged once, naming the variable, never its value.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, Response, g, request
from flask_limiter import Limiter

from screening.config.settings import Settings
from screening.web.auth import Principal, current_credential

KEY_PREFIX = "screening"
OFF, SHARED, PER_WORKER = "off", "shared", "per_worker"
# A Redis that does not answer must not hold a request (or a readiness probe) for long.
_REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
_EXTENSION = "screening.rate_limits"

log = logging.getLogger("screening.limits")


def rate_limit_key() -> str:
    """The bucket of the current request: ``<kind>:<credential id>`` or ``addr:<ip>``."""
    if request.headers.get("Authorization"):
        credential = current_credential()
        if isinstance(credential, Principal):
            return f"{credential.kind}:{credential.id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _is_health_check() -> bool:
    return request.blueprint == "health"


def init_app(app: Flask, settings: Settings) -> Limiter | None:
    """Installs the limiter unless ``RATE_LIMIT`` is ``off``; returns it (or ``None``).

    With ``REDIS_URL``, Redis is asked once at once, so an unreachable one is logged at
    start-up rather than at the first request."""
    if settings.rate_limit is None:
        app.extensions[_EXTENSION] = _Counters(limited=False)
        return None
    limiter = Limiter(
        key_func=rate_limit_key,
        # One budget per credential across all routes, not one per route.
        application_limits=[settings.rate_limit],
        storage_uri=settings.redis_url or "memory://",
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix=KEY_PREFIX,
        # A Redis outage degrades to per-worker counters instead of failing requests.
        in_memory_fallback_enabled=settings.redis_url is not None,
        storage_options=_REDIS_OPTIONS if settings.redis_url else {},
    )
    limiter.request_filter(_is_health_check)
    # Flask runs after_request hooks in reverse order of registration: the limiter's own
    # hook, which puts its window's Retry-After on every response (overwriting a view's),
    # runs between these two. Only a 429 is the limiter's to time; any other response
    # keeps the Retry-After its view set (the 409 of an Idempotency-Key in flight), or none.
    app.after_request(_restore_own_retry_after)
    limiter.init_app(app)
    app.after_request(_remember_own_retry_after)
    counters = _Counters(limited=True, redis=limiter if settings.redis_url else None)
    app.extensions[_EXTENSION] = counters
    counters.mode()
    return limiter


def mode(app: Flask) -> str:
    """``off`` (no rate limit), ``shared`` (counters in Redis, answering now) or
    ``per_worker`` (in memory: no ``REDIS_URL``, or Redis does not answer)."""
    counters: _Counters = app.extensions[_EXTENSION]
    return counters.mode()


class _Counters:
    """Where the counters are, and whether the fall back to memory was logged already."""

    def __init__(self, *, limited: bool, redis: Limiter | None = None) -> None:
        self.limited = limited
        self.redis = redis
        self.reachable = True
        self.lock = threading.Lock()

    def mode(self) -> str:
        if not self.limited:
            return OFF
        if self.redis is None:
            return PER_WORKER
        try:
            reachable = bool(self.redis.storage.check())
        except Exception:  # check() of a storage should not raise; unreachable if it does
            reachable = False
        with self.lock:
            changed, self.reachable = reachable != self.reachable, reachable
        if changed and not reachable:
            log.warning("REDIS_URL does not answer: rate limits are counted per worker")
        elif changed:
            log.info("REDIS_URL answers again: rate limits are shared")
        return SHARED if reachable else PER_WORKER


def _remember_own_retry_after(response: Response) -> Response:
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _restore_own_retry_after(response: Response) -> Response:
    if response.status_code != 429:
        own = g.pop("own_retry_after", None)
        if own is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = own
    return response
