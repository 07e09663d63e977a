"""Configuration of the core, read from environment variables (no Django needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .models import Environment


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class PipelineConfig:
    run_table: str = "RunTable"
    file_table: str = "FileTable"
    dataset_table: str = "DatasetTable"
    audit_table: str = "AuditTable"
    alert_table: str = "AlertTable"
    notification_table: str = "NotificationTable"
    channel_table: str = "ChannelTable"
    environment: Environment = Environment.STAGING
    region: str = "us-east-1"
    endpoint_url: str | None = None
    # Local default only; deployments set CURSOR_SECRET or DJANGO_SECRET_KEY.
    cursor_secret: str = "local-development-cursor-secret"  # noqa: S105
    # Direct construction (tests, scripts on a loaded local engine) keeps roomier timeouts;
    # deployments read DYNAMODB_* from the environment (from_env: 1 s, 3 s, 2 attempts).
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3
    max_pool_connections: int = 32
    worker_threads: int = 16
    dispatcher: str = "local"
    queue_url: str | None = None
    evaluator_window_days: int = 7
    evaluator_reconcile_budget: int = 20
    # A run in flight whose files made no progress for this long shows as stalled (re-dispatch).
    stalled_after_minutes: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineConfig:
        env = os.environ if env is None else env
        environment = env.get("ENVIRONMENT", "staging").strip() or "staging"
        try:
            env_value = Environment(environment)
        except ValueError as exc:
            raise ValueError(f"ENVIRONMENT must be 'staging' or 'prod', got {environment!r}") from exc
        dispatcher = env.get("DISPATCHER", "local").strip() or "local"
        if dispatcher not in {"local", "sqs"}:
            raise ValueError(f"DISPATCHER must be 'local' or 'sqs', got {dispatcher!r}")
        queue_url = env.get("SQS_QUEUE_URL", "").strip() or None
        if dispatcher == "sqs" and not queue_url:
            raise ValueError("DISPATCHER=sqs needs SQS_QUEUE_URL")
        threads = _int(env, "PIPELINE_WORKER_THREADS", 16, 1, 256)
        return cls(
            run_table=env.get("RUN_TABLE_NAME", "").strip() or "RunTable",
            file_table=env.get("FILE_TABLE_NAME", "").strip() or "FileTable",
            dataset_table=env.get("DATASET_TABLE_NAME", "").strip() or "DatasetTable",
            audit_table=env.get("AUDIT_TABLE_NAME", "").strip() or "AuditTable",
            alert_table=env.get("ALERT_TABLE_NAME", "").strip() or "AlertTable",
            notification_table=env.get("NOTIFICATION_TABLE_NAME", "").strip() or "NotificationTable",
            channel_table=env.get("CHANNEL_TABLE_NAME", "").strip() or "ChannelTable",
            environment=env_value,
            region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
            endpoint_url=env.get("DYNAMODB_ENDPOINT_URL", "").strip() or None,
            cursor_secret=env.get("CURSOR_SECRET", "").strip()
            or env.get("DJANGO_SECRET_KEY", "").strip()
            or "local-development-cursor-secret",
            # Deployed budget of one call against a hung store: 2 x (1 + 3) s plus backoff.
            connect_timeout=_float(env, "DYNAMODB_CONNECT_TIMEOUT", 1.0),
            read_timeout=_float(env, "DYNAMODB_READ_TIMEOUT", 3.0),
            max_attempts=_int(env, "DYNAMODB_MAX_ATTEMPTS", 2, 1, 10),
            max_pool_connections=max(threads * 2, 10),
            worker_threads=threads,
            dispatcher=dispatcher,
            queue_url=queue_url,
            evaluator_window_days=_int(env, "EVALUATOR_WINDOW_DAYS", 7, 1, 31),
            evaluator_reconcile_budget=_int(env, "EVALUATOR_RECONCILE_BUDGET", 20, 0, 1000),
            stalled_after_minutes=_int(env, "RUN_STALLED_MINUTES", 30, 1, 10080),
        )
