"""The shared cache: Django's RedisCache, except that a Redis outage degrades instead of failing.

Sessions (`cached_db`) and rate-limit counters go through it. Django's `cached_db` store only
guards some of its cache calls, so with Redis down every signed-in request (and logout) would
answer 500. Here the cache API used by sessions (get, set, add, delete, has_key, get_many,
set_many, delete_many, touch) swallows Redis errors: a read is a miss (the session comes from
the database), a write is skipped. `incr` raises `CacheUnavailable`, so a rate limiter knows
its counter is gone (it fails open and says so).

After a failure the cache is skipped for `retry_after_seconds` (one probe per process then),
so a hung Redis costs one socket timeout per window, not one per call. Errors are logged once
per minute per process, with how many were held back.

When Redis answers again after an outage, the cached sessions are dropped (SCAN + DEL of the
`cached_db` keys): a session ended (logout) while Redis was down or hung was deleted from the
database but not from the cache, and must not come back from it. A process that saw a failure
pings Redis every second from a background thread until it answers, so this happens within
about a second of Redis being back, whether or not requests arrive."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib.sessions.backends.cached_db import KEY_PREFIX as SESSION_KEY_PREFIX
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a Redis outage raises: the client's own errors, and socket errors that escape them.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


class CacheUnavailable(Exception):
    """The shared cache could not be reached (or is being skipped after a recent failure)."""


class IntervalLogger:
    """A warning at most once per `interval` seconds per topic, saying how many were held back
    (an outage must not write a line per request)."""

    def __init__(self, log: logging.Logger, interval: float = 60.0) -> None:
        self.log = log
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, topic: str, message: str, *args: Any) -> bool:
        """Log `message % args` unless `topic` was logged within the interval; True if logged."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(topic)
            if last is not None and now - last < self.interval:
                self._held[topic] = self._held.get(topic, 0) + 1
                return False
            held = self._held.pop(topic, 0)
            self._last[topic] = now
        suffix = f" ({held} more since the last report)" if held else ""
        self.log.warning(message + suffix, *args)
        return True


class ResilientRedisCache(RedisCache):
    """RedisCache whose outages read as misses and skipped writes (see the module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        self.retry_after = float(options.pop("retry_after_seconds", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._state = threading.Lock()
        self._skip_until = 0.0  # monotonic; calls before it are not even tried
        self._outage = False  # a call failed and none has succeeded since
        self._watcher: threading.Thread | None = None
        self._warnings = IntervalLogger(logger)

    # -- state ---------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the last call failed (until a call succeeds again)."""
        return not self._outage

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        with self._state:
            self._outage = True
            self._skip_until = time.monotonic() + self.retry_after
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="cache-recovery", daemon=True)
                self._watcher.start()
        self._warnings.warning(
            "cache-down", "shared cache unavailable (%s: %s: %s); serving without it",
            operation, type(exc).__name__, exc,
        )

    def _watch(self) -> None:
        """Ping once a second until Redis answers (then _succeeded drops the cached sessions)."""
        while self._outage:
            time.sleep(1.0)
            try:
                self._cache.get_client(write=True).ping()
            except CACHE_ERRORS:
                continue
            with self._state:
                self._skip_until = 0.0
            self._succeeded()

    def _succeeded(self) -> None:
        if not self._outage:
            return
        with self._state:
            if not self._outage:
                return
            self._outage = False
        logger.warning("shared cache is back; dropping cached sessions written before or during the outage")
        try:
            self.drop_cached_sessions()
        except CACHE_ERRORS as exc:
            self._failed("drop sessions", exc)

    def _guarded(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        if self._skipping():
            return fallback
        try:
            result = call()
        except CACHE_ERRORS as exc:
            self._failed(operation, exc)
            return fallback
        self._succeeded()
        return result

    def _strict(self, operation: str, call: Callable[[], T]) -> T:
        if self._skipping():
            raise CacheUnavailable(f"{operation}: the shared cache failed less than {self.retry_after:g} s ago")
        try:
            result = call()
        except CACHE_ERRORS as exc:
            self._failed(operation, exc)
            raise CacheUnavailable(f"{operation}: {type(exc).__name__}: {exc}") from exc
        self._succeeded()
        return result

    # -- what the outage handling needs ------------------------------------------------

    def ping(self) -> None:
        """One round trip to Redis (readiness); raises CacheUnavailable when it fails. Not
        skipped after a failure: the probe is what notices that Redis is back."""
        try:
            self._cache.get_client(write=True).ping()
        except CACHE_ERRORS as exc:
            self._failed("ping", exc)
            raise CacheUnavailable(f"ping: {type(exc).__name__}: {exc}") from exc
        self._succeeded()

    def drop_cached_sessions(self) -> int:
        """Delete every cached session (they are read again from the database); the count."""
        client = self._cache.get_client(write=True)
        pattern = self.make_key(SESSION_KEY_PREFIX + "*")
        deleted = 0
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
        return deleted

    # -- Django's cache API --------------------------------------------------------------

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guarded("add", lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guarded("get", lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._guarded("set", lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guarded("touch", lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guarded("delete", lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._guarded("get_many", lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guarded("has_key", lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return self._guarded(
            "set_many", lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data)
        )

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._guarded("delete_many", lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """Atomic INCR; ValueError when the key is missing, CacheUnavailable when Redis is."""
        return self._strict("incr", lambda: super(ResilientRedisCache, self).incr(key, delta, version))

    def clear(self) -> bool:
        return self._strict("clear", lambda: super(ResilientRedisCache, self).clear())
