"""The access log counts every DynamoDB call of a request, including those its services make
on the shared task pool's threads."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from dataplatform.pipeline import metrics
from dataplatform.pipeline.app import Pipeline
from tests.api.conftest import seed_run

FILES = 40


@pytest.mark.django_db
def test_access_log_counts_every_call_of_a_parallel_retry(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], caplog: pytest.LogCaptureFixture
) -> None:
    assert pipeline.config.worker_threads == 16  # the file moves run on 16 pool threads
    run = seed_run(pipeline, files=FILES, fail=FILES)
    caplog.set_level(logging.INFO, logger="dataplatform.access")
    with metrics.scope() as seen:
        response = client_for("operator").post(f"/api/v1/runs/{run.run_id}/retry/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["retried"] == FILES
    # One conditional move per file, plus the run's own calls: the run read, the failed-files
    # Query, the run commit, the audit record and its id noted on the run (for live pages).
    assert seen.operations == {"GetItem": 1, "Query": 1, "UpdateItem": FILES + 2, "PutItem": 1}
    [line] = [r for r in caplog.records if r.name == "dataplatform.access"]
    assert line.dynamodb_calls == FILES + 5  # type: ignore[attr-defined]


def test_plain_log_lines_carry_the_access_fields_for_a_person_at_the_terminal() -> None:
    from dataplatform.web.logs import PlainFormatter

    record = logging.LogRecord("dataplatform.access", logging.INFO, __file__, 1, "request", (), None)
    record.request_id = "abc"
    record.method, record.path, record.status = "GET", "/runs/", 500
    record.token = "s3cr3t"
    line = PlainFormatter().format(record)
    assert "INFO dataplatform.access [abc] request" in line
    assert 'method="GET" path="/runs/" status=500' in line  # "request" alone told nothing
    assert "s3cr3t" not in line
