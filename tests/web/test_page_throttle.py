"""The dashboard's expensive actions are rate limited per user (PAGE_ACTION_RATE): exact counts,
retry, cancel, file retry; over the limit: 429 with Retry-After and nothing done."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.states import FileStatus
from tests.web.factories import file_ids, make_run
from tests.web.page_fixtures import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def two_per_minute(settings: Any) -> None:
    settings.PAGE_ACTION_RATE = "2/min"


def test_exact_counts_are_limited_but_the_plain_page_is_not(pipeline: Pipeline, viewer_client: Client) -> None:
    run = make_run(pipeline, files=3)
    codes = [viewer_client.get(f"/runs/{run.run_id}/", **htmx("run-exact")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = viewer_client.get(f"/runs/{run.run_id}/?exact=1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many requests; try again in" in refused.content.decode()
    for _ in range(3):
        assert viewer_client.get(f"/runs/{run.run_id}/").status_code == 200


def test_retries_over_the_limit_change_nothing(pipeline: Pipeline, operator_client: Client) -> None:
    run = make_run(pipeline, files=4, failed=3)
    failed = file_ids(pipeline, run.run_id, FileStatus.FAILED)
    answers = [operator_client.post(f"/files/{file_id}/retry/", **htmx()) for file_id in failed]
    assert [a.status_code for a in answers] == [200, 200, 429]
    banner = answers[2].content.decode()
    assert banner.startswith('<div class="banner banner-error"')  # htmx gets the banner partial
    assert 'data-code="throttled"' in banner
    assert pipeline.files.get(failed[2]).status == "failed"


def test_the_limit_is_per_user(pipeline: Pipeline, viewer_client: Client, operator_client: Client) -> None:
    run = make_run(pipeline, files=2)
    for _ in range(2):
        assert viewer_client.get(f"/runs/{run.run_id}/?exact=1").status_code == 200
    assert viewer_client.get(f"/runs/{run.run_id}/?exact=1").status_code == 429
    assert operator_client.get(f"/runs/{run.run_id}/?exact=1").status_code == 200
