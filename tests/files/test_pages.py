"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.states import FileStatus
from tests.web.factories import file_ids, make_run
from tests.web.page_fixtures import htmx

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_file_page_and_retry(operator_client: Client, pipeline: Pipeline, settings: object) -> None:
    run = make_run(pipeline, files=2, done=1, failed=1)
    done_id = file_ids(pipeline, run.run_id, FileStatus.PREPROCESSED)[0]
    body = html(operator_client.get(f"/files/{done_id}/"))
    assert "1.5 MiB" in body
    assert "sha256:abc123" in body
    assert "s3://bucket-equities/" in body
    assert "https://console.aws.amazon.com/s3/object/bucket-equities?prefix=2024-05-02/part-" in body
    failed_id = file_ids(pipeline, run.run_id, FileStatus.FAILED)[0]
    assert "Retry this file" in html(operator_client.get(f"/files/{failed_id}/"))
    response = operator_client.post(f"/files/{failed_id}/retry/", **htmx("file-summary"))
    assert response.status_code == 200
    assert "<html" not in html(response)
    assert "Pending" in html(response)
    assert pipeline.files.get(failed_id).status == FileStatus.PENDING
