"""The parts of readiness that are Django's: the auth database and the shared cache.

Each answers "ok" or a short word; the core's HealthChecker runs them beside the DynamoDB
reads, within the same time budget, in its own threads (so a hung database or Redis holds one
of those threads, never a request)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connections

from dataplatform.web.cache import CacheUnavailable


def database_ready() -> str:
    """One `SELECT 1` on the auth database (users, sessions, tokens)."""
    connection = connections["default"]
    try:
        # This thread's connection outlives requests: drop it if it broke or aged out.
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        connection.close()
        return "unavailable"
    return "ok"


def cache_ready() -> str:
    """One PING to the shared cache."""
    try:
        caches["default"].ping()  # type: ignore[attr-defined]
    except CacheUnavailable:
        return "unavailable"
    return "ok"


def readiness_parts() -> tuple[dict[str, Callable[[], str]], frozenset[str]]:
    """(checks, optional ones): the database always; the cache when one is shared (CACHE_URL).
    The app serves without the cache (sessions from the database, rate limits open), so a cache
    outage makes readiness `degraded`, not `unavailable`."""
    parts: dict[str, Callable[[], str]] = {"database": database_ready}
    if settings.CACHE_URL:
        parts["cache"] = cache_ready
    return parts, frozenset({"cache"})
