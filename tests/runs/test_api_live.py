"""The run API's lists, counts, search and re-dispatch (issue 13)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from dataplatform.pipeline import metrics
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.dynamo import Update, serialize
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.pipeline.listing import RunFilters
from dataplatform.pipeline.models import Environment
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.pipeline.timeutil import format_ts, utc_now
from dataplatform.web import wiring
from tests.api.conftest import make_user
from tests.conftest import unique_config
from tests.pipeline.test_listing import CORPUS, DAY, expected, load
from tests.web.factories import make_run

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def loaded_tables(ddb_local_server: DynamoDBLocal) -> PipelineConfig:
    """Our tables on DynamoDB Local (Amazon's engine, several times faster than moto for these
    Queries), loaded with the listing corpus once for the module: the list tests only read."""
    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    pipeline = Pipeline(config)
    pipeline.sync_tables()
    load(pipeline)
    return config


def serve(settings: Any, config: PipelineConfig) -> Iterator[Pipeline]:
    """Point the web app at `config` for one test."""
    settings.PIPELINE_CONFIG = config
    wiring.reset()
    yield wiring.get_pipeline()
    wiring.reset()


@pytest.fixture
def loaded_web(settings: Any, loaded_tables: PipelineConfig) -> Iterator[Pipeline]:
    """The web app's Pipeline on the loaded tables."""
    yield from serve(settings, loaded_tables)


@pytest.fixture
def moto_web(settings: Any) -> Iterator[Pipeline]:
    """The web app's Pipeline on moto, loaded with the listing corpus."""
    from moto import mock_aws

    with mock_aws():
        settings.PIPELINE_CONFIG = unique_config()
        wiring.reset()
        pipeline = wiring.get_pipeline()
        pipeline.sync_tables()
        load(pipeline)
        yield pipeline
        wiring.reset()


@pytest.fixture
def api(db: None) -> Callable[[str], APIClient]:
    def make(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_user(role))
        return client

    return make


def api_ids(client: APIClient, query: dict[str, str], size: int) -> list[str]:
    ids: list[str] = []
    url: str | None = "/api/v1/runs/?" + urlencode({**query, "limit": size})
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert len(body["results"]) <= size
        ids += [r["runId"] for r in body["results"]]
        url = body["next"]
    return ids


QUERIES = [
    {},
    {"businessDate": DAY},
    {"environment": "prod"},
    {"status": "failed"},
    {"businessDate": DAY, "environment": "staging"},
    {"businessDate": DAY, "status": "success", "environment": "prod"},
    {"datasetName": "ds-07"},
    {"datasetName": "ds-07", "businessDate": DAY, "environment": "prod"},
]


def filters_of(query: dict[str, str]) -> RunFilters:
    return RunFilters(
        query.get("datasetName"), query.get("businessDate"),
        RunStatus(query["status"]) if "status" in query else None,
        Environment(query["environment"]) if "environment" in query else None,
    )


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "none")
def test_api_lists_every_filter_combination_completely(
    loaded_web: Pipeline, api: Callable[[str], APIClient], query: dict[str, str]
) -> None:
    client = api("viewer")
    want = expected(filters_of(query))
    for size in (1, 2, 5, 9, 16, 31, 47, 60) if len(want) <= 25 else (3, 11, 29, 60):
        assert api_ids(client, query, size) == want, size


@pytest.mark.parametrize("size", [7, 50])
def test_runs_page_load_more_lists_every_run_once(
    loaded_web: Pipeline, api: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    import runs.views

    monkeypatch.setattr(runs.views, "PAGE_SIZE", size)
    client = Client()
    client.force_login(make_user("viewer"))
    for query in ({}, {"environment": "prod"}, {"businessDate": DAY, "status": "failed"}):
        body = client.get("/runs/?" + urlencode(query)).content.decode()
        seen: list[str] = []
        while True:
            seen += [chunk.split('"')[0] for chunk in body.split('<tr id="run-')[1:]]
            if 'id="load-more"' not in body:
                break
            url = body.split('id="load-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
            body = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="load-more").content.decode()
        assert seen == expected(filters_of(query)), query


def test_run_api_counts_come_from_the_counters_with_one_get_item(
    web_pipeline: Pipeline, api: Callable[[str], APIClient]
) -> None:
    run = make_run(web_pipeline, files=12, done=3, failed=2)
    client = api("viewer")
    web_pipeline.runs.catalog.indexes()
    with metrics.scope() as scope:
        body = client.get(f"/api/v1/runs/{run.run_id}/").json()
    assert scope.operations == {"GetItem": 1}, scope.operations
    assert body["fileCounts"] == {"pending": 7, "fetched": 0, "verified": 0, "preprocessed": 3, "failed": 2}
    assert "countsCheckedAt" in body


def test_exact_recounts_and_repairs_drifted_counters(web_pipeline: Pipeline, api: Callable[[str], APIClient]) -> None:
    run = make_run(web_pipeline, files=5, done=1)
    web_pipeline.runs.update(run.run_id, Update(add_values={"pendingFiles": 3}))  # drifted
    client = api("viewer")
    assert client.get(f"/api/v1/runs/{run.run_id}/").json()["fileCounts"]["pending"] == 7
    exact = client.get(f"/api/v1/runs/{run.run_id}/?exact=true").json()
    assert exact["fileCounts"]["pending"] == 4
    assert exact["countsCheckedAt"] is not None
    assert client.get(f"/api/v1/runs/{run.run_id}/").json()["fileCounts"]["pending"] == 4  # stored
    assert client.get(f"/api/v1/runs/{run.run_id}/?exact=maybe").status_code == 400


def test_a_run_written_without_counters_is_counted_once_and_stored(
    web_pipeline: Pipeline, api: Callable[[str], APIClient]
) -> None:
    run = make_run(web_pipeline, files=4, done=1)
    item = web_pipeline.client.get_item(TableName=web_pipeline.config.run_table, Key={"runId": {"S": run.run_id}})
    item = dict(item["Item"])
    for name in ("pendingFiles", "fetchedFiles", "verifiedFiles", "failedFiles", "countsCheckedAt"):
        item.pop(name, None)  # as the platform's own writers store runs
    web_pipeline.client.put_item(TableName=web_pipeline.config.run_table, Item=item)
    client = api("viewer")
    first = client.get(f"/api/v1/runs/{run.run_id}/").json()
    assert first["fileCounts"] == {"pending": 3, "fetched": 0, "verified": 0, "preprocessed": 1, "failed": 0}
    with metrics.scope() as scope:
        second = client.get(f"/api/v1/runs/{run.run_id}/").json()
    assert scope.operations == {"GetItem": 1}, scope.operations
    assert second["fileCounts"] == first["fileCounts"]


def test_search_api_finds_runs_files_and_datasets(web_pipeline: Pipeline, api: Callable[[str], APIClient]) -> None:
    from tests.api.conftest import seed_dataset

    seed_dataset(web_pipeline)
    run = make_run(web_pipeline, dataset="sales", files=2)
    file_id = next(web_pipeline.files.iter_run(run.run_id)).file_id
    client = api("viewer")
    assert [r["runId"] for r in client.get(f"/api/v1/search/?q={run.run_id}").json()["runs"]] == [run.run_id]
    assert [f["fileId"] for f in client.get(f"/api/v1/search/?q={file_id}").json()["files"]] == [file_id]
    assert [d["datasetName"] for d in client.get("/api/v1/search/?q=SAL").json()["datasets"]] == ["sales"]
    assert client.get("/api/v1/search/?q=nothing-like-it").json() == {"runs": [], "files": [], "datasets": []}
    assert client.get("/api/v1/search/").status_code == 400


def test_search_page_jumps_to_an_exact_id(web_pipeline: Pipeline) -> None:
    run = make_run(web_pipeline, files=1)
    client = Client()
    client.force_login(make_user("viewer"))
    response = client.get(f"/search/?q={run.run_id}")
    assert response.status_code == 302
    assert response["Location"] == f"/runs/{run.run_id}/"
    assert "Nothing matches" in client.get("/search/?q=zzz-unknown").content.decode()


def _idle(p: Pipeline, run_id: str, minutes: int) -> None:
    """Make a run and its pending files look untouched for `minutes`."""
    old = format_ts(utc_now() - timedelta(minutes=minutes))
    for record in p.files.iter_run(run_id, status=FileStatus.PENDING):
        p.client.update_item(
            TableName=p.config.file_table, Key={"fileId": {"S": record.file_id}},
            UpdateExpression="SET lastUpdated = :t", ExpressionAttributeValues=serialize({":t": old}),
        )
    p.runs.update(run_id, Update(set_values={"updatedAt": utc_now() - timedelta(minutes=minutes)}))


@pytest.mark.ddb_local
def test_redispatch_sends_each_idle_file_exactly_once_under_concurrency(
    web_pipeline: Pipeline, api: Callable[[str], APIClient]
) -> None:
    run = make_run(web_pipeline, files=20, done=2)
    web_pipeline.dispatcher.drain()  # type: ignore[attr-defined]
    _idle(web_pipeline, run.run_id, 90)
    client = api("operator")
    preview = client.post(f"/api/v1/runs/{run.run_id}/redispatch/", {"dryRun": True}, format="json").json()
    assert preview["redispatched"] == 18
    results: list[int] = []

    def call() -> None:
        response = client.post(f"/api/v1/runs/{run.run_id}/redispatch/", {}, format="json")
        results.append(response.json()["redispatched"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 18
    sent = web_pipeline.dispatcher.drain()  # type: ignore[attr-defined]
    assert sorted(m.file_id for m in sent) == sorted(set(m.file_id for m in sent))
    assert len(sent) == 18
    events = web_pipeline.audit.for_target(run.run_id, limit=20).items
    redispatches = [e for e in events if e.action == "redispatch" and e.detail and e.detail.get("redispatched")]
    assert sum(len(e.detail["fileIds"]) for e in redispatches if e.detail) == 18


def test_redispatch_is_refused_for_cancelled_and_finished_runs(
    web_pipeline: Pipeline, api: Callable[[str], APIClient]
) -> None:
    finished = make_run(web_pipeline, files=1, done=1)
    cancelled = make_run(web_pipeline, files=2)
    client = api("operator")
    client.post(f"/api/v1/runs/{cancelled.run_id}/cancel/", {"reason": "test"}, format="json")
    for run in (finished, cancelled):
        response = client.post(f"/api/v1/runs/{run.run_id}/redispatch/", {}, format="json")
        assert response.status_code == 409
    assert api("viewer").post(f"/api/v1/runs/{finished.run_id}/redispatch/", {}, format="json").status_code == 403


def test_lists_accept_no_filter_and_reject_unknown_values(moto_web: Pipeline, api: Callable[[str], APIClient]) -> None:
    client = api("viewer")
    assert client.get("/api/v1/runs/?limit=5").json()["next"] is not None
    assert client.get("/api/v1/runs/?status=bogus").status_code == 400
    assert len(CORPUS) == 126


def platform_tables(pipeline: Pipeline) -> None:
    """Tables as SPEC section 1 describes the platform's (status-index: HASH status only; none of
    our run indexes), loaded with the listing corpus (issue 12 item 10)."""
    from dataplatform.pipeline.schema import _create_table, table_specs
    from tests.pipeline.test_listing import seed_platform_tables

    seed_platform_tables(pipeline, status_range=None)
    for spec in table_specs(pipeline.config):
        if spec.name != pipeline.config.run_table:
            _create_table(pipeline.client, spec)
    load(pipeline)


@pytest.fixture(scope="module")
def loaded_platform_tables(ddb_local_server: DynamoDBLocal) -> PipelineConfig:
    """The platform's tables on DynamoDB Local, made and loaded once for the module (read only)."""
    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    platform_tables(Pipeline(config))
    return config


@pytest.fixture
def platform_local_web(settings: Any, loaded_platform_tables: PipelineConfig) -> Iterator[Pipeline]:
    """The web app's Pipeline on the platform's tables on DynamoDB Local."""
    yield from serve(settings, loaded_platform_tables)


@pytest.fixture(params=["ddb_local", "moto"])
def platform_web(request: pytest.FixtureRequest, settings: Any) -> Iterator[Pipeline]:
    """The web app on the platform's tables: on DynamoDB Local, and on moto."""
    if request.param == "ddb_local":
        yield request.getfixturevalue("platform_local_web")
        return
    from moto import mock_aws

    with mock_aws():
        settings.PIPELINE_CONFIG = unique_config()
        wiring.reset()
        pipeline = wiring.get_pipeline()
        platform_tables(pipeline)
        yield pipeline
        wiring.reset()


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "none")
def test_api_lists_are_complete_on_the_platform_tables(
    platform_local_web: Pipeline, api: Callable[[str], APIClient], query: dict[str, str]
) -> None:
    client = api("viewer")
    for size in (7, 60):
        assert api_ids(client, query, size) == expected(filters_of(query)), size


def test_status_list_page_two_on_a_hash_only_status_index(
    platform_web: Pipeline, api: Callable[[str], APIClient]
) -> None:
    client = api("viewer")
    first = client.get("/api/v1/runs/?status=dispatched&limit=7").json()
    second = client.get(first["next"]).json()
    ids = [r["runId"] for r in first["results"] + second["results"]]
    assert ids == expected(RunFilters(status=RunStatus.DISPATCHED))[:14]
