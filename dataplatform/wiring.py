"""Django's access to the core: one Pipeline and one HealthChecker per process."""

from __future__ import annotations

import threading

from django.conf import settings

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.health import HealthChecker

_lock = threading.Lock()
_pipeline: Pipeline | None = None
_health: HealthChecker | None = None


def get_pipeline() -> Pipeline:
    global _pipeline
    if _pipeline is None:
        with _lock:
            if _pipeline is None:
                _pipeline = Pipeline(settings.PIPELINE_CONFIG)
    return _pipeline


def get_health_checker() -> HealthChecker:
    global _health
    if _health is None:
        with _lock:
            if _health is None:
                _health = HealthChecker(settings.PIPELINE_CONFIG, cache_seconds=settings.HEALTH_CACHE_SECONDS)
    return _health


def reset() -> None:
    """Drop the cached objects (tests that point the process at another endpoint)."""
    global _pipeline, _health
    with _lock:
        _pipeline = None
        _health = None
