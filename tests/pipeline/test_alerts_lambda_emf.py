"""The evaluator Lambda: each tick evaluates then delivers (attempt outcomes counted for
/metrics), and with EMF_METRICS=1 writes one CloudWatch Embedded Metric Format record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.emf import emf_enabled

EVENT = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "time": "2026-03-02T07:00:00Z"}


@pytest.fixture
def p(moto_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    monkeypatch.delenv("EMAIL_HOST", raising=False)
    moto_pipeline.datasets.register("fx-rates", datetime(2026, 3, 1, tzinfo=UTC))
    moto_pipeline.datasets.put(DatasetConfig.model_validate(
        {"datasetName": "fx-rates", "locations": ["s3://bucket/fx/{businessDate}.csv"],
         "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "06:00", "since": "2026-03-02"}}
    ))
    lambda_handler.set_pipeline(moto_pipeline)
    yield moto_pipeline
    lambda_handler.set_pipeline(None)


def _emf_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_emf_record_per_tick_when_enabled(p: Pipeline, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EMF_METRICS", "1")
    monkeypatch.setenv("EMF_NAMESPACE", "RunMonitorTest")
    summary = lambda_handler.alerts_lambda_handler(EVENT, None)
    (record,) = _emf_lines(capsys.readouterr().out)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "RunMonitorTest"
    assert directive["Dimensions"] == [["Environment"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"AlertsOpened", "AlertsActive", "TickDuration", "NotificationsSent"} <= names
    assert record["Environment"] == p.config.environment.value
    assert record["AlertsOpened"] == summary["opened"] == 1
    assert record["tickId"] == summary["tickId"]


def test_no_emf_without_the_setting(p: Pipeline, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("EMF_METRICS", raising=False)
    lambda_handler.alerts_lambda_handler(EVENT, None)
    assert _emf_lines(capsys.readouterr().out) == []
    assert not emf_enabled({"EMF_METRICS": "0"})
    assert emf_enabled({"EMF_METRICS": "true"})


def test_the_lambda_tick_delivers_and_counts_outcomes(p: Pipeline) -> None:
    p.channels.create({"kind": "email", "name": "oncall", "to": ["oncall@example.com"]}, actor="test")
    lambda_handler.alerts_lambda_handler(EVENT, None)
    # No EMAIL_HOST in the Lambda: the attempt fails (and is retried later), and is counted.
    (counter,) = p.alerts.snapshot()["notifications"]
    assert counter == {"channelKind": "email", "outcome": "retried", "count": 1}
