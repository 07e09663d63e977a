"""Fixtures of the alert web tests: the app on fresh DynamoDB Local tables, users per role, a
scheduled dataset registered on the scenario day, and helpers that drive runs and ticks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.evaluator import TickResult, evaluate
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.services import Actor, file_report, run_trigger
from tests.api.conftest import _fresh_throttle_cache, assert_json_error, client_for, make_user, pipeline
from tests.web.page_fixtures import operator_client, viewer_client

__all__ = [
    "_fresh_throttle_cache", "assert_json_error", "client_for", "make_user", "operator_client", "pipeline",
    "viewer_client",
]

DAY = "2026-03-02"  # a Monday
DATASET = "bond-prices"


def at(hhmm: str, day: str = DAY) -> datetime:
    """An instant of the scenario day (UTC)."""
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00").astimezone(UTC)


def scheduled_dataset(
    p: Pipeline, name: str = DATASET, *, registered: str | datetime = "00:00", **schedule: Any
) -> DatasetConfig:
    """Expected by 06:00 UTC (30 min grace), due 08:00 (30 min grace), stuck after 60 min
    without progress, every day; registered at the start of the scenario day (no history)."""
    config = DatasetConfig.model_validate(
        {
            "datasetName": name,
            "locations": [f"s3://bucket/{name}/{{businessDate}}/part-{{part:02d}}.csv"],
            "parts": 2,
            "schedule": {
                "weekdays": [0, 1, 2, 3, 4, 5, 6], "expectedBy": "06:00", "startGraceMinutes": 30,
                "dueBy": "08:00", "dueGraceMinutes": 30, "stuckAfterMinutes": 60, **schedule,
            },
        }
    )
    p.datasets.register(name, registered if isinstance(registered, datetime) else at(registered))
    return p.datasets.put(config)


def trigger(p: Pipeline, name: str = DATASET, day: str = DAY) -> Run:
    run = run_trigger(p, request={"datasetName": name, "businessDate": day}, actor=Actor("test")).run
    p.dispatcher.drain()  # type: ignore[attr-defined]
    return run


def report_all(p: Pipeline, run_id: str, status: str, *, limit: int | None = None) -> None:
    """Walk the run's files (the first `limit`) to `status` through the worker service."""
    steps = {"preprocessed": ("fetched", "verified", "preprocessed"), "failed": ("failed",), "fetched": ("fetched",)}
    files = sorted(p.files.iter_run(run_id), key=lambda f: f.file_id)[:limit]
    for record in files:
        for step in steps[status]:
            error = {"message": "upstream said no"} if step == "failed" else None
            file_report(p, file_id=record.file_id, status=step, error=error, actor=Actor("worker"))


def tick(p: Pipeline, hhmm: str, day: str = DAY) -> TickResult:
    return evaluate(p, now=at(hhmm, day))


@pytest.fixture
def dataset(pipeline: Pipeline) -> DatasetConfig:
    return scheduled_dataset(pipeline)
