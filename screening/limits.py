"""Rate limits per credential (Flask-Limiter), in memory or in Redis (``REDIS_URL``).

The limiter runs before the api blueprint authenticates, so its key function resolves the
bearer credential itself (``auth.current_credential``, cached for the request): a valid
credential is its own bucket, anything else is keyed by the remote address. Health checks
are never limited. A breach answers a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter import Limiter

from screening.auth import Principal, current_credential
from screening.config import Settings

KEY_PREFIX = "screening"


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
    """Installs the limiter unless ``RATE_LIMIT`` is ``off``; returns it (or ``None``)."""
    if settings.rate_limit is None:
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
    )
    limiter.request_filter(_is_health_check)
    # Flask runs after_request hooks in reverse order of registration: the limiter's own
    # hook, which puts its window's Retry-After on every response (overwriting a view's),
    # runs between these two. Only a 429 is the limiter's to time; any other response
    # keeps the Retry-After its view set (the 409 of an Idempotency-Key in flight), or none.
    app.after_request(_restore_own_retry_after)
    limiter.init_app(app)
    app.after_request(_remember_own_retry_after)
    return limiter


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
