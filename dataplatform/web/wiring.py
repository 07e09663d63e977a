"""Django's access to the core: one Pipeline and one HealthChecker per process."""

from __future__ import annotations

import threading

from django.conf import settings

from dataplatform.pipeline.app import Pipeline, PipelineHolder
from dataplatform.pipeline.evaluator_health import EvaluatorHealth
from dataplatform.pipeline.health import HealthChecker
from dataplatform.web.readiness import readiness_parts

_pipelines = PipelineHolder(lambda: Pipeline(settings.PIPELINE_CONFIG))
_lock = threading.Lock()
_health: HealthChecker | None = None
_evaluator_health: EvaluatorHealth | None = None


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


def get_evaluator_health() -> EvaluatorHealth:
    """The process's EvaluatorHealth (the heartbeat's age, cached like the table probes)."""
    global _evaluator_health
    if _evaluator_health is None:
        with _lock:
            if _evaluator_health is None:
                _evaluator_health = EvaluatorHealth(
                    settings.PIPELINE_CONFIG, stale_after_seconds=settings.EVALUATOR_STALE_SECONDS,
                    cache_seconds=settings.HEALTH_CACHE_SECONDS,
                )
    return _evaluator_health


def reset() -> None:
    """Drop the cached objects (tests that point the process at another endpoint)."""
    global _health, _evaluator_health
    _pipelines.set(None)
    with _lock:
        _health = None
        _evaluator_health = None
