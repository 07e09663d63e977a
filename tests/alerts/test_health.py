"""/health/ready and /health/ report the evaluator's last tick: unknown, ok, degraded when stale,
without ever failing readiness."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.evaluator import evaluate
from dataplatform.pipeline.timeutil import utc_now
from dataplatform.web import wiring

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


@pytest.fixture
def fresh_health(pipeline: Pipeline, settings: Any) -> Pipeline:
    settings.HEALTH_CACHE_SECONDS = 0
    settings.EVALUATOR_STALE_SECONDS = 300
    wiring._health = None
    wiring._evaluator_health = None
    return pipeline


def test_never_ticked_is_unknown_and_still_ready(fresh_health: Pipeline) -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["evaluator"] == {"status": "unknown", "lastTickAt": None, "ageSeconds": None}


def test_a_recent_tick_is_ok(fresh_health: Pipeline) -> None:
    evaluate(fresh_health)
    evaluator = Client().get("/health/ready").json()["evaluator"]
    assert evaluator["status"] == "ok"
    assert evaluator["ageSeconds"] < 60


def test_a_stale_tick_is_degraded_but_ready_stays_200(fresh_health: Pipeline) -> None:
    old = utc_now() - timedelta(minutes=20)
    fresh_health.alerts.write_heartbeat(old, {"finishedAt": old})
    response = Client().get("/health/ready")
    assert response.status_code == 200
    assert response.json()["evaluator"]["status"] == "degraded"
    page = Client().get("/health/")
    assert page.status_code == 200
    assert "alert evaluator" in page.content.decode()
    assert "degraded" in page.content.decode()
