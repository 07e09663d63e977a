"""Django's access to the core: one Pipeline and one HealthChecker per process."""

from __future__ import annotations

import threading

from django.conf import settings

from dataplatform.pipeline.app import Pipeline, PipelineHolder
from dataplatform.pipeline.health import HealthChecker
from dataplatform.web.readiness import readiness_parts

_pipelines = PipelineHolder(lambda: Pipeline(settings.PIPELINE_CONFIG))
_lock = threading.Lock()
_health: HealthChecker | None = None


def get_pipeline() -> Pipeline:
    """The process's Pipeline (settings.PIPELINE_CONFIG)."""
    return _pipelines.get()


def get_health_checker() -> HealthChecker:
    """The process's HealthChecker: both tables, the auth database and (with CACHE_URL) the
    shared cache; its answer is cached for HEALTH_CACHE_SECONDS."""
    global _health
    if _health is None:
        with _lock:
            if _health is None:
                parts, optional = readiness_parts()
                _health = HealthChecker(
                    settings.PIPELINE_CONFIG,
                    cache_seconds=settings.HEALTH_CACHE_SECONDS,
                    parts=parts,
                    optional=optional,
                )
    return _health


def reset() -> None:
    """Drop the cached objects (tests that point the process at another endpoint)."""
    global _health
    _pipelines.set(None)
    with _lock:
        _health = None
