"""CloudWatch Embedded Metric Format for the evaluator Lambda (env ``EMF_METRICS=1``). Django-free.

One EMF record per tick, written to stdout (Lambda sends stdout to CloudWatch Logs, which
extracts the metrics: no PutMetricData call, no extra IAM permission). Namespace
``EMF_NAMESPACE`` (default ``RunMonitor``), one dimension: ``Environment``. The values are the
tick's own counts; per-dataset numbers stay in /metrics (no dataset or date dimensions, which
would multiply CloudWatch's custom metrics)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULT_NAMESPACE = "RunMonitor"


def emf_enabled(env: Mapping[str, str] | None = None) -> bool:
    """True when ``EMF_METRICS`` is 1/true/yes/on."""
    value = (os.environ if env is None else env).get("EMF_METRICS", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def tick_metrics(summary: Mapping[str, Any], delivered: Any = None) -> dict[str, tuple[float, str]]:
    """The metrics of one tick: name -> (value, unit), from `TickResult.summary()` and the
    sender's `DeliveryResult` (when the tick delivered)."""
    metrics: dict[str, tuple[float, str]] = {
        "EvaluatorTicks": (1, "Count"),
        "AlertsOpened": (float(summary.get("opened", 0)), "Count"),
        "AlertsResolved": (float(summary.get("resolved", 0)), "Count"),
        "AlertsActive": (float(summary.get("active", 0)), "Count"),
        "TickDuration": (float(summary.get("durationMs", 0)), "Milliseconds"),
        "TickDynamoDBRequests": (float(summary.get("requests", 0)), "Count"),
        "RunsReconciled": (float(summary.get("reconciled", 0)), "Count"),
    }
    outcomes = getattr(delivered, "outcomes", None) or {}
    for outcome in ("sent", "failed", "retried", "skipped"):
        total = sum(n for (_, o), n in outcomes.items() if o == outcome)
        metrics[f"Notifications{outcome.capitalize()}"] = (float(total), "Count")
    return metrics


def emit_tick(summary: Mapping[str, Any], *, environment: str, delivered: Any = None,
              namespace: str | None = None) -> None:
    """Write one EMF record for a tick to stdout (aws-embedded-metrics, Lambda environment)."""
    from aws_embedded_metrics.environment import Environment
    from aws_embedded_metrics.environment.lambda_environment import LambdaEnvironment
    from aws_embedded_metrics.logger.metrics_context import MetricsContext
    from aws_embedded_metrics.logger.metrics_logger import MetricsLogger

    target = LambdaEnvironment()

    # Always the Lambda environment (stdout sink): no probing of EC2 metadata or an agent.
    async def resolve() -> Environment:
        return target

    logger = MetricsLogger(resolve, MetricsContext.empty())
    logger.set_namespace(namespace or os.environ.get("EMF_NAMESPACE", "").strip() or DEFAULT_NAMESPACE)
    logger.set_dimensions({"Environment": environment}, use_default=False)
    for name, (value, unit) in tick_metrics(summary, delivered).items():
        logger.put_metric(name, value, unit)
    logger.set_property("tickId", summary.get("tickId"))
    logger.set_property("evaluatedAt", summary.get("now"))
    logger.flush_sync()
