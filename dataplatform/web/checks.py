"""System checks of the deployment: a production process refuses settings that only work locally.

Run by every management command (`check`, `check --deploy`, `migrate`) and by `dataplatform.wsgi`
at import, so gunicorn's workers refuse to boot with them too (gunicorn runs no system checks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

LOCAL_DISPATCHER_IN_PRODUCTION = "dataplatform.E001"
SQLITE_TOO_OLD = "dataplatform.E002"


@checks.register(checks.Tags.compatibility)
def check_dispatcher(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """DISPATCHER=local keeps a trigger's messages in one web worker's memory (no worker ever
    sees them, a restart loses them, while the run says `dispatched`): an error in production."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    if settings.PIPELINE_CONFIG.dispatcher != "local":
        return []
    return [
        checks.Error(
            "DISPATCHER=local in production: triggered files would wait in one web worker's memory, "
            "never reach a worker, and be lost on restart, while their runs show `dispatched`.",
            hint="Set DISPATCHER=sqs and SQS_QUEUE_URL (deploy/stack_env.py prints both from the stack).",
            id=LOCAL_DISPATCHER_IN_PRODUCTION,
        )
    ]


@checks.register(checks.Tags.compatibility)
def check_sqlite_upsert(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The rate-limit counters (accounts.ratelimit.DatabaseCounters) need INSERT ... ON CONFLICT
    ... RETURNING, which SQLite has from 3.35 (Django 5.2 itself accepts 3.31)."""
    import sqlite3

    from django.db import connections

    if settings.RATE_LIMIT_STORE != "database" or connections["default"].vendor != "sqlite":
        return []
    if sqlite3.sqlite_version_info >= (3, 35):
        return []
    return [
        checks.Error(
            f"SQLite {sqlite3.sqlite_version} is too old for the rate-limit counters (3.35 or later needed).",
            hint="Use a Python built with SQLite 3.35+, or set CACHE_URL (Redis) or DATABASE_URL (PostgreSQL).",
            id=SQLITE_TOO_OLD,
        )
    ]


def refuse_unsafe_production() -> None:
    """Raise ImproperlyConfigured when a startup check fails (called by the WSGI entry point)."""
    errors = [message for message in check_dispatcher() if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
