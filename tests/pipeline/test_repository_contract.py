"""Repository contract, run against moto and against the real DynamoDB Local server."""

from __future__ import annotations

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.errors import InvalidCursor, NotFound
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.pipeline.timeutil import utc_now


def make_run(run_id: str = "run-1", dataset: str = "ds", date: str = "2026-01-05", **extra: object) -> Run:
    return Run.model_validate(
        {"runId": run_id, "datasetName": dataset, "businessDate": date, "createdAt": utc_now(), **extra}
    )


def make_files(run_id: str, count: int, *, padding: int = 0, status: str = "pending") -> list[FileRecord]:
    return [
        FileRecord.model_validate(
            {
                "fileId": f"{run_id}-f{i:05d}",
                "runId": run_id,
                "datasetName": "ds",
                "businessDate": "2026-01-05",
                "location": f"s3://bucket-a/ds/part-{i:05d}.csv",
                "status": status,
                "lastUpdated": utc_now(),
                "metadata": {"blob": "x" * padding} if padding else {},
            }
        )
        for i in range(count)
    ]


def test_get_missing_raises_not_found(any_pipeline: Pipeline) -> None:
    with pytest.raises(NotFound):
        any_pipeline.runs.get("nope")
    with pytest.raises(NotFound):
        any_pipeline.files.get("nope")


def test_pagination_across_1mb_pages_returns_every_item_once(any_pipeline: Pipeline) -> None:
    # 30 items of ~100 KB: DynamoDB stops each Query response at 1 MB, well before `limit`.
    any_pipeline.runs.create(make_run("big"))
    any_pipeline.files.put_batch(make_files("big", 30, padding=100_000))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = any_pipeline.files.by_run("big", limit=25, cursor=cursor)
        seen += [f.file_id for f in page.items]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"big-f{i:05d}" for i in range(30))
    assert len(seen) == len(set(seen))
    assert pages >= 2


def test_small_pages_never_lose_or_repeat(any_pipeline: Pipeline) -> None:
    any_pipeline.runs.create(make_run("r"))
    any_pipeline.files.put_batch(make_files("r", 23))
    seen: list[str] = []
    page = any_pipeline.files.by_run("r", limit=5)
    seen += [f.file_id for f in page.items]
    while page.cursor:
        page = any_pipeline.files.by_run("r", limit=5, cursor=page.cursor)
        seen += [f.file_id for f in page.items]
    assert len(seen) == 23 == len(set(seen))


def test_files_of_a_run_by_status_and_exact_counts(any_pipeline: Pipeline) -> None:
    any_pipeline.runs.create(make_run("r"))
    any_pipeline.files.put_batch(make_files("r", 12) + make_files("r2", 3))
    any_pipeline.files.put_batch([f.model_copy(update={"status": FileStatus.FAILED}) for f in make_files("r", 4)])
    failed = any_pipeline.files.by_run("r", status=FileStatus.FAILED, limit=50)
    assert {f.file_id for f in failed.items} == {f"r-f{i:05d}" for i in range(4)}
    assert failed.cursor is None
    counts = any_pipeline.files.count_by_status("r")
    assert counts == {"pending": 8, "fetched": 0, "verified": 0, "preprocessed": 0, "failed": 4}


def test_runs_by_dataset_and_date_and_by_status_newest_first(any_pipeline: Pipeline) -> None:
    for i, date in enumerate(["2026-01-03", "2026-01-05", "2026-01-04"]):
        any_pipeline.runs.create(make_run(f"run-{i}", date=date))
    any_pipeline.runs.create(make_run("other", dataset="other-ds"))
    page = any_pipeline.runs.by_dataset("ds", limit=10)
    assert [r.run_id for r in page.items] == ["run-2", "run-1", "run-0"]  # newest created first
    one_day = any_pipeline.runs.by_dataset("ds", business_date="2026-01-04", limit=10)
    assert [r.run_id for r in one_day.items] == ["run-2"]
    pending = any_pipeline.runs.by_status(RunStatus.PENDING, limit=10)
    created = [r.created_at for r in pending.items]
    assert created == sorted(created, reverse=True)
    assert len(pending.items) == 4


def test_cursor_round_trips_and_rejects_tampering_and_foreign_queries(any_pipeline: Pipeline) -> None:
    any_pipeline.runs.create(make_run("r"))
    any_pipeline.files.put_batch(make_files("r", 6) + make_files("s", 6))
    first = any_pipeline.files.by_run("r", limit=2)
    assert first.cursor
    second = any_pipeline.files.by_run("r", limit=2, cursor=first.cursor)
    assert {f.file_id for f in second.items}.isdisjoint({f.file_id for f in first.items})
    body, signature = first.cursor.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in [tampered, first.cursor + "x", "not-a-cursor", "a.b", ""]:
        with pytest.raises(InvalidCursor):
            any_pipeline.files.by_run("r", limit=2, cursor=bad or "x")
    with pytest.raises(InvalidCursor, match="different query"):
        any_pipeline.files.by_run("s", limit=2, cursor=first.cursor)
    with pytest.raises(InvalidCursor, match="different query"):
        any_pipeline.files.by_run("r", status=FileStatus.PENDING, limit=2, cursor=first.cursor)


def test_atomic_counter_add(any_pipeline: Pipeline) -> None:
    any_pipeline.runs.create(make_run("r"))
    any_pipeline.runs.update("r", Update(add_values={"processedFiles": 3, "failedFiles": 1}))
    run = any_pipeline.runs.update("r", Update(add_values={"processedFiles": 2, "failedFiles": -1}))
    assert (run.processed_files, run.failed_files) == (5, 0)
    with pytest.raises(NotFound):
        any_pipeline.runs.update("missing", Update(add_values={"processedFiles": 1}))
    with pytest.raises(NotFound):
        any_pipeline.runs.get("missing", consistent=True)


def test_query_follows_last_evaluated_key_inside_one_page(ddb_local_pipeline: Pipeline) -> None:
    # The real engine cuts responses at 1 MB: one page of 25 items of ~100 KB needs several Queries.
    ddb_local_pipeline.files.put_batch(make_files("big", 30, padding=100_000))
    calls: list[str] = []
    events = ddb_local_pipeline.client.meta.events
    handler = lambda **kwargs: calls.append(kwargs["model"].name)  # noqa: E731
    events.register("before-call.dynamodb.Query", handler)
    try:
        page = ddb_local_pipeline.files.by_run("big", limit=25)
    finally:
        events.unregister("before-call.dynamodb.Query", handler)
    assert len(page.items) == 25
    assert len(calls) >= 3


def test_files_by_status_still_work_on_a_table_with_only_the_original_indexes(ddb_local_server: object) -> None:
    from tests.conftest import unique_config

    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)  # type: ignore[attr-defined]
    pipeline = Pipeline(config)
    pipeline.client.create_table(
        TableName=config.file_table,
        KeySchema=[{"AttributeName": "fileId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "fileId", "AttributeType": "S"},
            {"AttributeName": "runId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "runId-index",
                "KeySchema": [{"AttributeName": "runId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    failed = [f.model_copy(update={"status": FileStatus.FAILED}) for f in make_files("r", 3)]
    pipeline.files.put_batch(make_files("r", 10)[3:] + failed)
    page = pipeline.files.by_run("r", status=FileStatus.FAILED, limit=2)
    seen = [f.file_id for f in page.items]
    while page.cursor:
        page = pipeline.files.by_run("r", status=FileStatus.FAILED, limit=2, cursor=page.cursor)
        seen += [f.file_id for f in page.items]
    assert sorted(seen) == [f.file_id for f in failed]
    assert pipeline.files.has_run_status_index is False


def test_a_full_last_page_has_no_cursor_to_an_empty_page(any_pipeline: Pipeline) -> None:
    any_pipeline.files.put_batch(make_files("r", 10))
    first = any_pipeline.files.by_run("r", limit=5)
    assert first.cursor
    second = any_pipeline.files.by_run("r", limit=5, cursor=first.cursor)
    assert len(second.items) == 5
    assert second.cursor is None
    assert {f.file_id for f in first.items}.isdisjoint(f.file_id for f in second.items)
    # Same with a filter that skips items: the cursor still stops at the last match.
    for i in range(6):
        any_pipeline.runs.create(make_run(f"run-{i}", status="failed" if i % 2 else "pending"))
    page = any_pipeline.runs.by_dataset("ds", status=RunStatus.FAILED, limit=2)
    rest = any_pipeline.runs.by_dataset("ds", status=RunStatus.FAILED, limit=2, cursor=page.cursor)
    assert len(page.items) == 2
    assert len(rest.items) == 1
    assert rest.cursor is None
    assert {r.run_id for r in page.items + rest.items} == {"run-1", "run-3", "run-5"}
