"""Run lists are complete for every filter combination and page size: each run exactly once,
newest first (createdAt, then runId), on our tables and on tables with only the platform's
indexes (SPEC section 1, where status-index has no sort key)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import serialize
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.pipeline.errors import InvalidCursor
from dataplatform.pipeline.listing import Position, RunFilters, plan_sources
from dataplatform.pipeline.models import Environment, Run
from dataplatform.pipeline.schema import RUN_DATASET_INDEX, RUN_STATUS_INDEX
from dataplatform.pipeline.states import RunStatus

from ..conftest import unique_config

DAY = "2026-11-27"
OTHER_DAY = "2026-11-26"
STATUSES = list(RunStatus)


def corpus() -> list[dict[str, Any]]:
    """120 runs across 40 datasets on one business date and two environments (plus 6 on another
    date); every tenth run shares its createdAt with the one before (ties sorted by runId)."""
    base = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    items = []
    for i in range(126):
        created = base + timedelta(seconds=(i - i // 10))
        items.append(
            Run.model_validate(
                {
                    "runId": f"ds-{i % 40:02d}-run-{i:03d}",
                    "datasetName": f"ds-{i % 40:02d}",
                    "businessDate": DAY if i < 120 else OTHER_DAY,
                    "createdAt": created,
                    "status": STATUSES[(i * 7) % 6],
                    "environment": Environment.PROD if i % 2 else Environment.STAGING,
                    "resolvedFiles": 1,
                }
            ).to_item()
        )
    return items


CORPUS = corpus()


def load(p: Pipeline) -> None:
    for item in CORPUS:
        p.client.put_item(TableName=p.config.run_table, Item=serialize(item))


def expected(filters: RunFilters) -> list[str]:
    wanted = filters.values()
    rows = [i for i in CORPUS if all(str(i[k]) == v for k, v in wanted.items())]
    rows.sort(key=lambda i: (i["createdAt"], i["runId"]), reverse=True)
    return [i["runId"] for i in rows]


def collect(p: Pipeline, filters: RunFilters, size: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(500):
        page = p.runs.find(filters, limit=size, cursor=cursor)
        assert len(page.items) <= size
        ids += [r.run_id for r in page.items]
        cursor = page.cursor
        if cursor is None:
            return ids
        assert len(page.items) == size, "a page that is not the last one is full"
    raise AssertionError("paging did not end")


def combinations() -> Iterator[RunFilters]:
    for dataset, day, status, env in itertools.product(
        [None, "ds-07"], [None, DAY], [None, RunStatus.SUCCESS], [None, Environment.PROD]
    ):
        yield RunFilters(dataset, day, status, env)


def seed_platform_tables(p: Pipeline, *, status_range: str | None) -> None:
    """RunTable as SPEC section 1 describes the platform's (status-index: HASH status only,
    unless `status_range` names a sort key)."""
    status_keys = [{"AttributeName": "status", "KeyType": "HASH"}]
    attributes = ["runId", "datasetName", "businessDate", "status"]
    if status_range:
        status_keys.append({"AttributeName": status_range, "KeyType": "RANGE"})
        attributes.append(status_range)
    p.client.create_table(
        TableName=p.config.run_table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "runId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        GlobalSecondaryIndexes=[
            {
                "IndexName": RUN_DATASET_INDEX,
                "KeySchema": [
                    {"AttributeName": "datasetName", "KeyType": "HASH"},
                    {"AttributeName": "businessDate", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {"IndexName": RUN_STATUS_INDEX, "KeySchema": status_keys, "Projection": {"ProjectionType": "ALL"}},
        ],
    )


# The exhaustive lists run on DynamoDB Local (Amazon's engine, ~6x faster than moto for these
# Queries); one pass on moto keeps the two engines in agreement. The tests only read the corpus:
# the tables are made and loaded once for the module.
@pytest.fixture(scope="module")
def loaded(ddb_local_server: DynamoDBLocal) -> Pipeline:
    p = Pipeline(unique_config(endpoint_url=ddb_local_server.endpoint_url))
    p.sync_tables()
    load(p)
    return p


@pytest.fixture(
    scope="module", params=[None, "createdAt"], ids=["status-index-hash-only", "status-index-by-createdAt"]
)
def platform_pipeline(request: pytest.FixtureRequest, ddb_local_server: DynamoDBLocal) -> Pipeline:
    p = Pipeline(unique_config(endpoint_url=ddb_local_server.endpoint_url))
    seed_platform_tables(p, status_range=request.param)
    load(p)
    return p


# Paging a 126-run list one run at a time costs 126+ Queries: the large lists are paged through
# these sizes (and every size 1..60 is checked on their first page); the small ones through all.
SAMPLED_SIZES = (1, 2, 3, 4, 5, 7, 10, 13, 20, 29, 41, 59, 60)


def sizes_for(count: int) -> tuple[int, ...]:
    return tuple(range(1, 61)) if count <= 25 else SAMPLED_SIZES


def test_every_filter_combination_and_page_size_lists_each_run_once_newest_first(loaded: Pipeline) -> None:
    for filters in combinations():
        want = expected(filters)
        for size in sizes_for(len(want)):
            assert collect(loaded, filters, size) == want, (filters, size)


def test_every_page_size_from_1_to_60_starts_with_the_newest_runs(loaded: Pipeline) -> None:
    for filters in combinations():
        want = expected(filters)
        for size in range(1, 61):
            page = loaded.runs.find(filters, limit=size)
            assert [r.run_id for r in page.items] == want[:size]
            assert (page.cursor is not None) == (len(want) > size)


def test_every_filter_combination_is_complete_on_moto(moto_pipeline: Pipeline) -> None:
    load(moto_pipeline)
    for filters in combinations():
        want = expected(filters)
        for size in (7, 60) if len(want) > 25 else (1, 2, 5, 60):
            assert collect(moto_pipeline, filters, size) == want, (filters, size)


@pytest.mark.parametrize("status", STATUSES)
def test_each_status_alone_and_with_an_environment_is_complete(loaded: Pipeline, status: RunStatus) -> None:
    for env in (None, Environment.STAGING, Environment.PROD):
        filters = RunFilters(status=status, environment=env)
        for size in (1, 4, 17, 60):
            assert collect(loaded, filters, size) == expected(filters)


def test_no_filter_uses_the_environment_index_and_never_scans(loaded: Pipeline) -> None:
    operations: list[str] = []

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    loaded.client.meta.events.register("before-call.dynamodb", record, unique_id="test-record-operations")
    try:
        assert collect(loaded, RunFilters(), 50) == expected(RunFilters())
    finally:
        loaded.client.meta.events.unregister("before-call.dynamodb", unique_id="test-record-operations")
    assert "Scan" not in operations
    assert set(operations) <= {"Query", "DescribeTable"}


def test_platform_tables_without_our_indexes_stay_complete_and_newest_first(platform_pipeline: Pipeline) -> None:
    for filters in combinations():
        want = expected(filters)
        for size in (1, 7, 60) if len(want) > 25 else (1, 2, 7, 60):
            assert collect(platform_pipeline, filters, size) == want, (filters, size)


def test_platform_tables_status_alone_pages_past_page_one(platform_pipeline: Pipeline) -> None:
    # Issue 12 item 10: page 2 of a status list answered 500 on a HASH-only status-index.
    filters = RunFilters(status=RunStatus.DISPATCHED)
    first = platform_pipeline.runs.find(filters, limit=7)
    second = platform_pipeline.runs.find(filters, limit=7, cursor=first.cursor)
    assert [r.run_id for r in first.items + second.items] == expected(filters)[:14]


def test_plan_prefers_new_indexes_and_never_uses_a_hash_only_status_index_as_ordered() -> None:
    platform = {RUN_DATASET_INDEX: ("datasetName", "businessDate"), RUN_STATUS_INDEX: ("status", None)}
    sources = plan_sources(RunFilters(status=RunStatus.FAILED), platform)
    assert [(s.index, s.ordered) for s in sources] == [(RUN_STATUS_INDEX, False)]
    everything = plan_sources(RunFilters(), platform)
    assert len(everything) == len(RunStatus)
    assert not any(s.ordered for s in everything)


def test_a_cursor_is_bound_to_its_filters(loaded: Pipeline) -> None:
    page = loaded.runs.find(RunFilters(environment=Environment.PROD), limit=5)
    assert page.cursor is not None
    with pytest.raises(InvalidCursor):
        loaded.runs.find(RunFilters(environment=Environment.STAGING), limit=5, cursor=page.cursor)
    with pytest.raises(InvalidCursor):
        loaded.runs.find(RunFilters(environment=Environment.PROD), limit=5, cursor=page.cursor[:-2] + "xx")


def test_newer_lists_only_runs_created_after_the_top_row(loaded: Pipeline) -> None:
    newest = expected(RunFilters())
    top = next(i for i in CORPUS if i["runId"] == newest[3])
    fresh = loaded.runs.newer(RunFilters(), than=Position(top["createdAt"], top["runId"]))
    assert [r.run_id for r in fresh] == newest[:3]
