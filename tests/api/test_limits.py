"""Rate limits per credential (RATE_LIMIT, REDIS_URL): 429 problem with Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Blueprint, Flask, Response, g
from limits import parse

from screening.web.auth import public
from screening.web.limits import (
    MemoryWindows,
    RateLimits,
    RedisWindows,
    Window,
    _describe_window,
    rate_limits_of,
)

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"

probe = Blueprint("limitprobe", __name__, url_prefix="/limitprobe")


@probe.get("/any")
def any_credential() -> dict[str, str]:
    return {"ok": "yes"}


@probe.get("/open")
@public
def open_to_all() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
def limited_app(make_app: Any) -> Flask:
    return make_app(api_blueprints=[probe], RATE_LIMIT="2/minute")


def statuses(client: Any, path: str, headers: dict[str, str], times: int) -> list[int]:
    return [client.get(path, headers=headers).status_code for _ in range(times)]


def test_third_request_in_a_minute_is_a_429_problem_with_retry_after(
    limited_app: Flask, clinic: Any
) -> None:
    client = limited_app.test_client()
    headers = clinic.headers("clinician")
    allowed = [client.get("/api/v1/limitprobe/any", headers=headers) for _ in range(2)]
    assert [r.status_code for r in allowed] == [200, 200]
    assert all("Retry-After" not in r.headers for r in allowed)  # nothing to wait for
    assert allowed[1].headers["X-RateLimit-Remaining"] == "0"
    response = client.get("/api/v1/limitprobe/any", headers=headers)
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"


def test_each_credential_has_its_own_bucket(limited_app: Flask, clinic: Any) -> None:
    client = limited_app.test_client()
    path = "/api/v1/limitprobe/any"
    assert statuses(client, path, clinic.headers("clinician"), 3) == [200, 200, 429]
    assert statuses(client, path, clinic.headers("admin"), 2) == [200, 200]
    assert statuses(client, path, clinic.headers("intake"), 2) == [200, 200]


def test_anonymous_callers_are_limited_by_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    assert statuses(client, "/api/v1/limitprobe/open", {}, 3) == [200, 200, 429]
    forged = {"Authorization": "Bearer ut_000000000000_" + "A" * 43}
    # An invalid credential does not buy a fresh bucket.
    assert statuses(client, "/api/v1/limitprobe/any", forged, 1) == [429]


def test_rate_limit_off_disables_limiting(make_app: Any, clinic: Any) -> None:
    client = make_app(api_blueprints=[probe], RATE_LIMIT="off").test_client()
    headers = clinic.headers("clinician")
    assert set(statuses(client, "/api/v1/limitprobe/any", headers, 10)) == {200}


@pytest.fixture
def redis_app(make_app: Any) -> Iterator[Flask]:
    app: Flask = make_app(
        api_blueprints=[probe], RATE_LIMIT="2/minute", REDIS_URL=REDIS_TEST_URL
    )
    limits = rate_limits_of(app)
    assert limits is not None
    limits.reset()
    yield app
    limits.reset()


def test_redis_storage_is_shared_by_app_instances(
    redis_app: Flask, make_app: Any, clinic: Any
) -> None:
    """Two app servers on one Redis share a credential's bucket."""
    second: Flask = make_app(
        api_blueprints=[probe], RATE_LIMIT="2/minute", REDIS_URL=REDIS_TEST_URL
    )
    headers = clinic.headers("clinician")
    path = "/api/v1/limitprobe/any"
    assert statuses(redis_app.test_client(), path, headers, 2) == [200, 200]
    assert statuses(second.test_client(), path, headers, 1) == [429]


def test_unreachable_redis_degrades_to_memory_counters(make_app: Any, clinic: Any) -> None:
    app: Flask = make_app(
        api_blueprints=[probe], RATE_LIMIT="2/minute", REDIS_URL="redis://127.0.0.1:1/0"
    )
    client = app.test_client()
    headers = clinic.headers("clinician")
    assert statuses(client, "/api/v1/limitprobe/any", headers, 3) == [200, 200, 429]


def test_every_counted_response_describes_its_window(limited_app: Flask, clinic: Any) -> None:
    client = limited_app.test_client()
    first = client.get("/api/v1/limitprobe/any", headers=clinic.headers("clinician"))
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert 0 < int(first.headers["X-RateLimit-Reset"]) - time.time() <= 61


def test_the_reset_time_is_not_before_the_window_ends() -> None:
    """X-RateLimit-Reset is whole seconds since the epoch, rounded up like Retry-After:
    a client waiting until then is not refused again."""
    app = Flask(__name__)
    with app.test_request_context():
        g.rate_window = Window(True, 2, 1, 1000.2)
        response = _describe_window(Response())
    assert response.headers["X-RateLimit-Reset"] == "1001"


def test_health_checks_are_never_counted(limited_app: Flask) -> None:
    client = limited_app.test_client()
    assert set(statuses(client, "/health", {}, 5)) == {200}
    assert "X-RateLimit-Remaining" not in client.get("/health").headers
    # The address's own budget is untouched by them.
    assert statuses(client, "/api/v1/limitprobe/open", {}, 3) == [200, 200, 429]


def test_a_worker_counting_alone_does_not_ask_a_dead_redis_on_every_request(
        make_app: Any, clinic: Any) -> None:
    app: Flask = make_app(
        api_blueprints=[probe], RATE_LIMIT="100/minute", REDIS_URL="redis://127.0.0.1:1/0"
    )
    limits = rate_limits_of(app)
    assert limits is not None
    asked: list[int] = []
    original = limits.mode
    limits.mode = lambda: asked.append(1) or original()  # type: ignore[method-assign]
    client = app.test_client()
    assert set(statuses(client, "/api/v1/limitprobe/any", clinic.headers("clinician"),
                        20)) == {200}
    assert len(asked) <= 1  # at most once per RETRY_SHARED_S, not once per request


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_window_in_memory_starts_at_its_first_hit_and_lasts_one_period() -> None:
    clock = _Clock(1000.0)
    windows = MemoryWindows(parse("2/minute"), clock=clock)
    first = windows.count("intake_key:a")
    assert (first.allowed, first.limit, first.remaining, first.reset_at) == (True, 2, 1, 1060.0)
    clock.now = 1030.0
    assert windows.count("intake_key:a")[:3] == (True, 2, 0)
    clock.now = 1059.9
    refused = windows.count("intake_key:a")
    assert (refused.allowed, refused.remaining, refused.reset_at) == (False, 0, 1060.0)
    assert windows.count("intake_key:b").allowed  # another key, its own window
    clock.now = 1060.0
    again = windows.count("intake_key:a")
    assert (again.allowed, again.remaining, again.reset_at) == (True, 1, 1120.0)


def test_windows_in_memory_that_have_ended_are_dropped() -> None:
    clock = _Clock(0.0)
    windows = MemoryWindows(parse("5/minute"), clock=clock)
    for address in range(100):
        windows.count(f"addr:10.0.0.{address}")
    assert len(windows) == 100
    clock.now = 61.0
    windows.count("addr:10.0.1.1")
    assert len(windows) == 1
    windows.reset()
    assert len(windows) == 0


TEST_NAMESPACE = "screening-test"


@pytest.fixture
def redis_windows() -> Iterator[Callable[[str], RedisWindows]]:
    """Windows of the given limit counted in the tests' Redis, in a namespace emptied
    before and after."""
    made: list[RedisWindows] = []

    def factory(limit: str) -> RedisWindows:
        windows = RedisWindows(parse(limit), REDIS_TEST_URL, namespace=TEST_NAMESPACE)
        windows.reset()
        made.append(windows)
        return windows

    yield factory
    for windows in made:
        windows.reset()


@pytest.fixture
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_TEST_URL)


def the_one_key(client: redis.Redis) -> bytes:
    """The one key the test namespace holds (its name is the counter's business)."""
    [key] = client.keys(f"{TEST_NAMESPACE}/*")
    return key  # type: ignore[no-any-return]


def test_a_window_in_redis_starts_at_its_first_hit_and_lasts_one_period(
        redis_windows: Callable[[str], RedisWindows]) -> None:
    windows = redis_windows("2/minute")
    (first,) = windows.count(["intake_key:a"])
    assert (first.allowed, first.limit, first.remaining) == (True, 2, 1)
    assert 59 < first.reset_at - time.time() <= 60
    (second,) = windows.count(["intake_key:a"])
    assert second[:3] == (True, 2, 0)
    (refused,) = windows.count(["intake_key:a"])
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert refused.reset_at <= first.reset_at + 0.01  # the same window
    assert windows.count(["intake_key:b"])[0].allowed  # another key, its own window


def test_a_key_in_redis_left_without_expiry_gets_one(
        redis_windows: Callable[[str], RedisWindows], redis_client: redis.Redis) -> None:
    windows = redis_windows("2/minute")
    windows.count(["intake_key:a"])
    key = the_one_key(redis_client)
    redis_client.set(key, 5)  # e.g. written by hand, no TTL
    (window,) = windows.count(["intake_key:a"])
    assert (window.allowed, window.remaining) == (False, 0)
    assert 0 < redis_client.pttl(key) <= 60_000
    assert 59 < window.reset_at - time.time() <= 60
    windows.reset()
    assert redis_client.keys(f"{TEST_NAMESPACE}/*") == []


def test_requests_counted_together_in_redis_count_in_the_order_given(
        redis_windows: Callable[[str], RedisWindows]) -> None:
    windows = redis_windows("3/minute")
    counted = windows.count(["intake_key:a", "intake_key:b", "intake_key:a",
                             "intake_key:a", "intake_key:a"])
    assert [(w.allowed, w.remaining) for w in counted] == [
        (True, 2), (True, 2), (True, 1), (True, 0), (False, 0)]
    assert len({round(w.reset_at) for w in counted}) == 1
    (next_a,) = windows.count(["intake_key:a"])  # the same window goes on
    assert (next_a.allowed, next_a.remaining) == (False, 0)


def test_a_count_in_redis_does_not_extend_its_window(
        redis_windows: Callable[[str], RedisWindows], redis_client: redis.Redis) -> None:
    windows = redis_windows("2/minute")
    windows.count(["intake_key:a"])
    key = the_one_key(redis_client)
    redis_client.pexpire(key, 30_000)  # as if half the window had passed
    (window,) = windows.count(["intake_key:a"])
    assert 0 < redis_client.pttl(key) <= 30_000
    assert window.reset_at - time.time() <= 30


def test_requests_counted_together_while_redis_does_not_answer_count_in_memory() -> None:
    limits = RateLimits("2/minute", "redis://127.0.0.1:1/0")
    counted = limits.count_many(["intake_key:a", "intake_key:a", "intake_key:a"])
    assert [(w.allowed, w.remaining) for w in counted] == [(True, 1), (True, 0), (False, 0)]
    assert limits.mode() == "per_worker"


def test_a_changed_limit_does_not_inherit_the_old_limits_windows_in_redis(
        redis_windows: Callable[[str], RedisWindows]) -> None:
    """A deploy from RATE_LIMIT=1000/day to 100/minute: a credential that made 150
    requests today must not be refused for the rest of the day (Retry-After: 86400)."""
    daily, minute = redis_windows("1000/day"), redis_windows("100/minute")  # both empty
    for _ in range(150):
        daily.count(["intake_key:a"])
    (window,) = minute.count(["intake_key:a"])
    assert (window.allowed, window.remaining) == (True, 99)
    assert window.reset_at - time.time() <= 60
