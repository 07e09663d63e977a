"""Fixed-window rate limits whose counters are atomic across worker processes and instances.

One counter per (scope, who, window). Where it lives (settings.RATE_LIMIT_STORE):

- `cache` (with CACHE_URL, i.e. Redis): `add(key, 0, ttl)` (SET NX EX) then `incr(key)` (INCR),
  both atomic in Redis, so every worker of every instance counts on the same number.
- `database` (no shared cache): a RateCounter row created or incremented by one statement,
  `INSERT ... ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count` (SQLite 3.35+
  and PostgreSQL both have it; the ORM cannot say "increment and give me the new value" in one
  statement, so it is raw SQL through Django's cursor, with the table and column names taken from
  the model). The database serialises the increments (SQLite: one writer at a time; PostgreSQL:
  the row lock), so the local default holds its limits across gunicorn's workers too. Django's
  DatabaseCache would not: its `incr` is a read followed by a write. One statement instead of an
  ORM update and read-back in a transaction: ~0.1 ms instead of ~1.3 ms per API call here.

Windows are fixed (up to 2 x the limit can pass around a window boundary, as with any fixed
window); each key's windows are offset by a hash of the key so they do not all reset at once.
The window number is part of the key, so a counter never outlives its window's meaning.

A counter store that fails lets the request through (fail open: a Redis or database outage must
not lock everyone out) and logs a warning, at most once a minute per scope."""

from __future__ import annotations

import hashlib
import logging
import math
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connections, router
from django.http import HttpRequest

from dataplatform.accounts.models import RateCounter
from dataplatform.web.cache import CACHE_ERRORS, CacheUnavailable, IntervalLogger

logger = logging.getLogger(__name__)
_warnings = IntervalLogger(logger)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    """`limit` requests per `seconds`."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'N/sec', 'N/min', 'N/hour' or 'N/day' (DRF's grammar: the period's first letter counts)."""
        return _parse(text)


@lru_cache(maxsize=64)
def _parse(text: str) -> Rate:
    number, _, period = text.strip().partition("/")
    try:
        limit = int(number)
        seconds = PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ValueError(f"a rate is 'N/sec', 'N/min', 'N/hour' or 'N/day', got {text!r}") from None
    if limit < 1:
        raise ValueError(f"a rate allows at least 1 request, got {text!r}")
    return Rate(limit, seconds)


@dataclass(frozen=True)
class Verdict:
    """The answer for one request: allowed or not, the count so far in this window (None when
    the counter store failed and the request was let through), and seconds until the window ends."""

    allowed: bool
    count: int | None
    limit: int
    retry_after: int


class CounterStore(Protocol):
    def incr(self, key: str, *, expires: float) -> int:
        """Add 1 to `key` (created at 0, gone after the unix time `expires`); the new count."""


class CacheCounters:
    """Counters in a Django cache whose add and incr are atomic (Redis; locmem within a process)."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    def incr(self, key: str, *, expires: float) -> int:
        cache = caches[self.alias]
        ttl = max(1, math.ceil(expires - time.time()))
        cache.add(key, 0, timeout=ttl)
        try:
            return int(cache.incr(key))
        except ValueError:  # evicted between add and incr: start it again
            cache.add(key, 0, timeout=ttl)
            return int(cache.incr(key))


class DatabaseCounters:
    """Counters as RateCounter rows in the auth database (see the module docstring)."""

    def incr(self, key: str, *, expires: float) -> int:
        connection = connections[router.db_for_write(RateCounter)]
        quote = connection.ops.quote_name
        meta = RateCounter._meta
        table, key_col, count_col, expires_col = (
            quote(meta.db_table), *(quote(meta.get_field(name).column) for name in ("key", "count", "expires_at"))
        )
        expires_at = connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(expires, tz=UTC))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({key_col}, {count_col}, {expires_col}) VALUES (%s, 1, %s) "  # noqa: S608 - names from the model
                f"ON CONFLICT ({key_col}) DO UPDATE SET {count_col} = {table}.{count_col} + 1 "
                f"RETURNING {count_col}",
                [key, expires_at],
            )
            count = int(cursor.fetchone()[0])
        if count == 1:
            # A new window began: the counters of windows that ended go.
            RateCounter.objects.filter(expires_at__lt=datetime.now(tz=UTC) - timedelta(seconds=1)).delete()
        return count


def counter_store() -> CounterStore:
    """The configured store (settings.RATE_LIMIT_STORE: 'cache' or 'database')."""
    return CacheCounters() if settings.RATE_LIMIT_STORE == "cache" else DatabaseCounters()


def window(key: str, seconds: int, now: float) -> tuple[int, float]:
    """(number, end as unix time) of the fixed window of `key` that holds `now`."""
    offset = zlib.crc32(key.encode()) % seconds
    number = int((now - offset) // seconds)
    return number, offset + (number + 1) * seconds


def counter_key(scope: str, who: str) -> str:
    """The window-less part of a counter key (who is hashed: any text, fixed length)."""
    return f"rl:{scope}:{hashlib.sha256(who.encode()).hexdigest()[:32]}"


def hit(scope: str, who: str, rate: Rate | str, *, store: CounterStore | None = None) -> Verdict:
    """Count one request of `who` against `rate` in `scope`; allowed while the count is within it."""
    rate = Rate.parse(rate) if isinstance(rate, str) else rate
    base = counter_key(scope, who)
    now = time.time()
    number, end = window(base, rate.seconds, now)
    retry_after = max(1, math.ceil(end - now))
    try:
        count = (store or counter_store()).incr(f"{base}:{number}", expires=end + 1)
    except (CacheUnavailable, DatabaseError, *CACHE_ERRORS) as exc:
        _warnings.warning(
            f"rate-limit-{scope}",
            "rate limit %s not enforced, counter store unavailable (%s: %s): letting requests through",
            scope, type(exc).__name__, exc,
        )
        return Verdict(True, None, rate.limit, 0)
    return Verdict(count <= rate.limit, count, rate.limit, retry_after)


def seconds_left(scope: str, who: str, rate: Rate | str) -> float:
    """Seconds until the current window of (scope, who) ends (tests and Retry-After)."""
    rate = Rate.parse(rate) if isinstance(rate, str) else rate
    now = time.time()
    return window(counter_key(scope, who), rate.seconds, now)[1] - now


def client_address(request: HttpRequest | Any) -> str:
    """The client's address as TrustedProxyMiddleware left it in REMOTE_ADDR."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")
