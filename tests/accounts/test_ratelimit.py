"""accounts.ratelimit: rates, fixed windows, both counter stores, failing open."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError

from dataplatform.accounts import ratelimit
from dataplatform.accounts.models import RateCounter
from dataplatform.web.cache import CacheUnavailable


@pytest.mark.parametrize(
    ("text", "limit", "seconds"),
    [("5/min", 5, 60), ("20/m", 20, 60), ("3/sec", 3, 1), ("100/hour", 100, 3600), ("1/day", 1, 86400)],
)
def test_rates_use_drfs_grammar(text: str, limit: int, seconds: int) -> None:
    assert ratelimit.Rate.parse(text) == ratelimit.Rate(limit, seconds)


@pytest.mark.parametrize("text", ["", "five/min", "5/fortnight", "0/min", "-1/min", "5"])
def test_bad_rates_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="a rate"):
        ratelimit.Rate.parse(text)


def test_windows_are_fixed_and_offset_per_key() -> None:
    number, end = ratelimit.window("rl:a", 60, 1_000_000.0)
    assert ratelimit.window("rl:a", 60, end - 0.001) == (number, end)
    assert ratelimit.window("rl:a", 60, end) == (number + 1, end + 60)
    ends = {ratelimit.window(f"rl:{i}", 60, 1_000_000.0)[1] for i in range(50)}
    assert len(ends) > 10  # not every key resets at the same second


@pytest.mark.django_db
def test_database_counters_refuse_past_the_limit_with_the_time_left() -> None:
    verdicts = [ratelimit.hit("test", "alice", "3/min", store=ratelimit.DatabaseCounters()) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.count for v in verdicts] == [1, 2, 3, 4, 5]
    assert all(1 <= v.retry_after <= 60 for v in verdicts)
    assert ratelimit.hit("test", "bob", "3/min", store=ratelimit.DatabaseCounters()).allowed  # own budget
    assert RateCounter.objects.count() == 2


@pytest.mark.django_db
def test_a_new_window_removes_the_counters_of_ended_windows(settings: Any) -> None:
    from datetime import UTC, datetime, timedelta

    RateCounter.objects.create(key="rl:old:1", count=9, expires_at=datetime.now(tz=UTC) - timedelta(minutes=5))
    ratelimit.hit("test", "carol", "3/min", store=ratelimit.DatabaseCounters())
    assert not RateCounter.objects.filter(key="rl:old:1").exists()


# Atomicity across processes: tests/scale/test_served_locally.py (gunicorn's workers on one SQLite
# file). The in-memory test database locks whole tables across threads, so it cannot show it.


def test_cache_counters_count_with_add_and_incr() -> None:
    cache.clear()
    store = ratelimit.CacheCounters()
    assert [ratelimit.hit("c", "erin", "2/min", store=store).allowed for _ in range(3)] == [True, True, False]


class FailingStore:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def incr(self, key: str, *, expires: float) -> int:
        raise self.error


@pytest.mark.parametrize("error", [CacheUnavailable("down"), OperationalError("database is locked")])
def test_a_failing_counter_store_lets_requests_through_and_warns_once(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dataplatform.accounts.ratelimit")
    scope = f"fail-open-{type(error).__name__}"
    verdicts = [ratelimit.hit(scope, "frank", "1/min", store=FailingStore(error)) for _ in range(5)]
    assert all(v.allowed and v.count is None for v in verdicts)
    lines = [r for r in caplog.records if scope in r.getMessage()]
    assert len(lines) == 1
    assert "not enforced" in lines[0].getMessage()


@pytest.mark.django_db
def test_database_counters_store_the_window_end_and_read_back_their_own_rows() -> None:
    from datetime import UTC, datetime

    end = 2_000_000_000.0
    assert ratelimit.DatabaseCounters().incr("rl:plain", expires=end) == 1
    assert ratelimit.DatabaseCounters().incr("rl:plain", expires=end) == 2
    row = RateCounter.objects.get(key="rl:plain")
    assert (row.count, row.expires_at) == (2, datetime.fromtimestamp(end, tz=UTC))


def test_an_sqlite_without_upsert_returning_is_refused_by_the_system_check(monkeypatch: Any, settings: Any) -> None:
    import sqlite3

    from dataplatform.web import checks

    settings.RATE_LIMIT_STORE = "database"
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    assert [m.id for m in checks.check_sqlite_upsert()] == [checks.SQLITE_TOO_OLD]
    settings.RATE_LIMIT_STORE = "cache"  # Redis counts: the SQLite version does not matter
    assert checks.check_sqlite_upsert() == []
