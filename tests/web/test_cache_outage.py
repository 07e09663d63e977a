"""The shared cache's outages degrade: reads miss, writes are skipped, counters say so, one log
line per minute; cached_db sessions keep working from the database. A closed port plays a Redis
that is down (the real Redis outage: tests/scale/test_scale_out.py)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import caches

from dataplatform.pipeline.engine import free_port
from dataplatform.web.cache import CacheUnavailable, ResilientRedisCache


def down_cache(**options: Any) -> ResilientRedisCache:
    params = {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2, **options}}
    return ResilientRedisCache(f"redis://127.0.0.1:{free_port()}/0", params)


def test_reads_miss_and_writes_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dataplatform.web.cache")
    cache = down_cache()
    assert cache.get("k", "fallback") == "fallback"
    cache.set("k", 1)
    assert cache.add("k", 1) is False
    assert cache.delete("k") is False
    assert cache.get_many(["a", "b"]) == {}
    assert "k" not in cache
    assert not cache.available
    warnings = [r for r in caplog.records if "shared cache unavailable" in r.getMessage()]
    assert len(warnings) == 1  # an outage is one line per minute, not one per call


def test_counters_raise_so_rate_limits_know_they_are_open() -> None:
    cache = down_cache()
    with pytest.raises(CacheUnavailable):
        cache.incr("counter")
    with pytest.raises(CacheUnavailable):
        cache.ping()


def test_after_a_failure_calls_are_skipped_for_a_while() -> None:
    cache = down_cache(socket_connect_timeout=1.0, socket_timeout=1.0, retry_after_seconds=30)
    cache.get("k")  # the failure (connection refused) starts the pause
    started = time.monotonic()
    for _ in range(50):
        cache.get("k")
    assert time.monotonic() - started < 0.5


@pytest.mark.django_db
def test_cached_db_sessions_work_from_the_database_while_the_cache_is_down(settings: Any) -> None:
    settings.CACHES = {"default": {
        "BACKEND": "dataplatform.web.cache.ResilientRedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    assert isinstance(caches["default"], ResilientRedisCache)
    store = SessionStore()
    store["who"] = "ivan"
    store.create()  # exists() and set() go to the cache: no error
    key = store.session_key
    assert SessionStore(key).load() == {"who": "ivan"}  # a miss, then the database
    SessionStore(key).delete()  # logout: the database row goes, the cache delete is skipped
    assert not Session.objects.filter(session_key=key).exists()
    assert SessionStore(key).load() == {}
