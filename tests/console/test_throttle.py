"""Sign-in throttling: a fixed window per key, shared through Redis by every app server,
and still counting (per process) when Redis is unreachable."""

from __future__ import annotations

import uuid

from screening.web.console.throttle import SignInThrottle

REDIS_URL = "redis://127.0.0.1:6379/15"  # the tests' Redis database, as in tests/api


def test_attempts_beyond_the_limit_wait_for_the_window() -> None:
    throttle = SignInThrottle("2/minute", None)
    assert throttle.wait_seconds("password", "10.0.0.1", "a@b.example") is None
    assert throttle.wait_seconds("password", "10.0.0.1", "a@b.example") is None
    wait = throttle.wait_seconds("password", "10.0.0.1", "a@b.example")
    assert wait is not None and 1 <= wait <= 60
    assert throttle.wait_seconds("password", "10.0.0.2", "a@b.example") is None


def test_app_servers_share_the_count_through_redis() -> None:
    key = ("password", "10.0.0.9", f"{uuid.uuid4().hex}@b.example")
    first, second = SignInThrottle("2/minute", REDIS_URL), SignInThrottle("2/minute", REDIS_URL)
    assert first.wait_seconds(*key) is None
    assert second.wait_seconds(*key) is None
    assert first.wait_seconds(*key) is not None


def test_an_unreachable_redis_still_counts_in_memory() -> None:
    throttle = SignInThrottle("1/minute", "redis://127.0.0.1:1/0")
    assert throttle.wait_seconds("totp", "user-1") is None
    assert throttle.wait_seconds("totp", "user-1") is not None
