"""Rate limits per credential: one fixed window per credential (``RATE_LIMIT``, parsed by
the ``limits`` package), counted in memory or in Redis (``REDIS_URL``).

The count runs before the api blueprint authenticates, so its key resolves the bearer
credential itself (``auth.current_credential``, cached for the request): a valid
credential is its own bucket, anything else is keyed by the remote address. Health checks
and the console's static files are never counted. Every counted response says the window
(``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``); a breach answers a 429 problem with
``Retry-After``. A response's own ``Retry-After`` (the 409 of an ``Idempotency-Key`` in
flight) is left as it is.

With ``REDIS_URL`` the counters are shared by every worker and app server; while Redis
does not answer, each worker counts on its own (never: no limit), and asks Redis again at
most every ``RETRY_SHARED_S``. ``mode`` says which holds (``/health/ready`` reports it);
each change is logged once, naming the variable, never its value.

One window for the whole application is counted directly: a general-purpose limiter
extension worked out which limits apply on every request, which cost more than a third
of an ingest request's own CPU (``bench/request_cpu.py``). The windows are counted here
too (``MemoryWindows``, ``RedisWindows``): the ``limits`` package's storages cost a
counted ingest request 61 us more than an uncounted one in memory (a timer thread
started every 10 ms under load to expire keys) and 237-268 us of CPU a count in Redis
(three round trips, each holding up the serving loop).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import redis
from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from screening.config.settings import Settings
from screening.web.auth import Principal, current_credential

KEY_PREFIX = "screening"
OFF, SHARED, PER_WORKER = "off", "shared", "per_worker"
RETRY_SHARED_S = 5.0  # how often a worker counting alone asks Redis again
# A Redis that does not answer must not hold a request (or a readiness probe) for long.
_REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
_EXTENSION = "screening.rate_limits"
_UNCOUNTED_BLUEPRINTS = frozenset({"health"})
_UNCOUNTED_ENDPOINTS = frozenset({"console.static"})

log = logging.getLogger("screening.limits")


class Window(NamedTuple):
    """One count: whether the request may go ahead, what is left, when the window ends
    (seconds since the epoch)."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    def retry_after(self) -> int:
        """Whole seconds until the window ends, at least 1."""
        return max(1, math.ceil(self.reset_at - time.time()))


class MemoryWindows:
    """Fixed windows counted in this process, as Redis counts them: a key's window starts
    at its first hit and lasts the limit's period. Ended windows are dropped once a
    period (keys of anonymous callers are their addresses: unbounded otherwise)."""

    def __init__(self, item: RateLimitItem, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._amount = item.amount
        self._seconds = float(item.get_expiry())
        self._windows: dict[str, list[float]] = {}  # key -> [ends at, hits]
        self._next_sweep = 0.0
        self._lock = threading.Lock()  # views off the loop run on threads

    def count(self, key: str) -> Window:
        """Counts one request for ``key``."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or window[0] <= now:
                if now >= self._next_sweep:
                    self._drop_ended(now)
                window = self._windows[key] = [now + self._seconds, 0]
            window[1] += 1
            ends_at, hits = window
        return Window(hits <= self._amount, self._amount, max(0, self._amount - int(hits)),
                      ends_at)

    def _drop_ended(self, now: float) -> None:
        self._next_sweep = now + self._seconds
        for key in [key for key, (ends_at, _) in self._windows.items() if ends_at <= now]:
            del self._windows[key]

    def __len__(self) -> int:
        """How many keys' windows are kept."""
        return len(self._windows)

    def reset(self) -> None:
        """Forgets every count."""
        with self._lock:
            self._windows.clear()


class RedisWindows:
    """Fixed windows counted in Redis, shared by every worker and app server. One script
    call counts any number of requests: for each key it adds that key's requests,
    starts the key's window at its first hit (``PEXPIRE``) and returns the total with the
    time left, in one round trip. (The ``limits`` package's Redis storage took three round
    trips a request, 237-268 us of CPU against 82-90 for one request here, while the
    serving loop waited.)"""

    _SCRIPT = """
local counted = {}
for i, key in ipairs(KEYS) do
  local hits = redis.call('INCRBY', key, ARGV[i + 1])
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    left = tonumber(ARGV[1])
  end
  counted[#counted + 1] = hits
  counted[#counted + 1] = left
end
return counted
"""

    def __init__(self, item: RateLimitItem, url: str, namespace: str) -> None:
        self._amount = item.amount
        self._period_ms = int(item.get_expiry() * 1000)
        # The limit is part of the key, as it was in the ``limits`` package's keys: a
        # changed RATE_LIMIT (or workers of two deploys side by side) must not count on in
        # another limit's window, e.g. a day-long one with more hits than a minute allows.
        self._scope = f"{namespace}/"
        self._prefix = f"{self._scope}{item.amount}/{item.multiples}/{item.GRANULARITY.name}/"
        self._client = redis.Redis.from_url(url, **_REDIS_OPTIONS)
        self._script = self._client.register_script(self._SCRIPT)

    def count(self, keys: Sequence[str]) -> list[Window]:
        """Counts one request for each of ``keys`` (a key may come several times: its
        requests count in that order); raises when Redis does not answer."""
        requests = Counter(keys)
        answer = self._script(keys=[self._prefix + key for key in requests],
                              args=[self._period_ms, *requests.values()])
        now = time.time()
        totals = {key: (answer[2 * i], now + answer[2 * i + 1] / 1000)
                  for i, key in enumerate(requests)}
        seen: Counter[str] = Counter()
        windows = []
        for key in keys:
            seen[key] += 1
            total, reset_at = totals[key]
            hits = total - requests[key] + seen[key]
            windows.append(Window(hits <= self._amount, self._amount,
                                  max(0, self._amount - hits), reset_at))
        return windows

    def answers(self) -> bool:
        """Whether Redis answers now."""
        try:
            return bool(self._client.ping())
        except Exception:  # unreachable, refused, timed out: the same to the caller
            return False

    def reset(self) -> None:
        """Forgets every count of this namespace."""
        for key in self._client.scan_iter(match=self._scope + "*", count=1000):
            self._client.delete(key)


class CountBatcher(Protocol):
    """Who counts the requests of a turn together (the serving loop)."""

    def defer_count(self, limits: RateLimits, key: str) -> Window | None:
        """Returns ``key``'s window once the turn's requests are counted
        (``RateLimits.count_many``), or None: the caller is not one of its requests."""
        ...


class RateLimits:
    """``limit`` per key and fixed window, counted in Redis at ``redis_url`` (falling back
    to memory while it does not answer) or in memory; keys live in ``namespace``. The API's
    limit, and the console's sign-in throttle (``screening.web.console.throttle``).

    Where the serving loop runs, it is the ``batcher`` of the API's limits: the requests
    it serves together are counted in Redis with one round trip, not one each."""

    def __init__(self, limit: str, redis_url: str | None = None,
                 namespace: str = KEY_PREFIX) -> None:
        self.item: RateLimitItem = parse(limit)
        self.batcher: CountBatcher | None = None
        self._memory = MemoryWindows(self.item)
        self._shared = RedisWindows(self.item, redis_url, namespace) if redis_url else None
        self._reachable = True
        self._asked_at = time.monotonic()
        self._lock = threading.Lock()

    def count(self, key: str) -> Window:
        """Counts one request for ``key``."""
        if self._shared is not None and self._shared_answers():
            batcher = self.batcher
            window = batcher.defer_count(self, key) if batcher is not None else None
            return window if window is not None else self.count_many([key])[0]
        return self._memory.count(key)

    def count_many(self, keys: Sequence[str]) -> list[Window]:
        """Counts one request for each of ``keys``, in one round trip to Redis while it
        answers, else in memory."""
        if self._shared is not None and self._shared_answers():
            try:
                return self._shared.count(keys)
            except Exception:  # Redis went away: count here rather than not at all
                self._set_reachable(False)
        return [self._memory.count(key) for key in keys]

    def _shared_answers(self) -> bool:
        if self._reachable:
            return True
        with self._lock:
            due = time.monotonic() - self._asked_at >= RETRY_SHARED_S
            if due:
                self._asked_at = time.monotonic()
        return self.mode() == SHARED if due else False

    def mode(self) -> str:
        """``shared`` (Redis answers now) or ``per_worker`` (in memory)."""
        if self._shared is None:
            return PER_WORKER
        reachable = self._shared.answers()
        self._set_reachable(reachable)
        return SHARED if reachable else PER_WORKER

    def _set_reachable(self, reachable: bool) -> None:
        with self._lock:
            changed, self._reachable = reachable != self._reachable, reachable
            self._asked_at = time.monotonic()
        if changed and not reachable:
            log.warning("REDIS_URL does not answer: rate limits are counted per worker")
        elif changed:
            log.info("REDIS_URL answers again: rate limits are shared")

    def reset(self) -> None:
        """Forgets every count, in Redis too (the tests start each from zero)."""
        self._memory.reset()
        if self._shared is not None:
            self._shared.reset()


def rate_limit_key() -> str:
    """The bucket of the current request: ``<kind>:<credential id>`` or ``addr:<ip>``."""
    if request.headers.get("Authorization"):
        credential = current_credential()
        if isinstance(credential, Principal):
            return f"{credential.kind}:{credential.id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def init_app(app: Flask, settings: Settings) -> RateLimits | None:
    """Counts every request unless ``RATE_LIMIT`` is ``off``; returns the limits (or
    ``None``). Call after ``auth.init_app`` (the key reads the request's credential).

    With ``REDIS_URL``, Redis is asked once at once, so an unreachable one is logged at
    start-up rather than at the first request."""
    if settings.rate_limit is None:
        app.extensions[_EXTENSION] = None
        return None
    rate_limits = RateLimits(settings.rate_limit, settings.redis_url)
    app.extensions[_EXTENSION] = rate_limits
    rate_limits.mode()
    app.before_request(_count_request)
    app.after_request(_describe_window)
    return rate_limits


def rate_limits_of(app: Flask) -> RateLimits | None:
    """The application's ``RateLimits``, or None when ``RATE_LIMIT`` is ``off``."""
    limits: RateLimits | None = app.extensions[_EXTENSION]
    return limits


def mode(app: Flask) -> str:
    """``off`` (no rate limit), ``shared`` (counters in Redis, answering now) or
    ``per_worker`` (in memory: no ``REDIS_URL``, or Redis does not answer)."""
    limits = rate_limits_of(app)
    return OFF if limits is None else limits.mode()


def _count_request() -> None:
    g.pop("rate_window", None)  # an app context can outlive one request
    if request.blueprint in _UNCOUNTED_BLUEPRINTS or request.endpoint in _UNCOUNTED_ENDPOINTS:
        return
    limits = rate_limits_of(current_app)
    assert limits is not None  # the hook is installed only with limits
    window = g.rate_window = limits.count(rate_limit_key())
    if not window.allowed:
        raise TooManyRequests(retry_after=window.retry_after())


def _describe_window(response: Response) -> Response:
    window: Window | None = g.pop("rate_window", None)
    if window is not None:
        response.headers["X-RateLimit-Limit"] = str(window.limit)
        response.headers["X-RateLimit-Remaining"] = str(window.remaining)
        # Rounded up, as Retry-After is: the window has ended by then, not a second before.
        response.headers["X-RateLimit-Reset"] = str(math.ceil(window.reset_at))
    return response
