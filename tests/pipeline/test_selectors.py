"""Selectors: recent runs ordering, list paging, the dataset calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dataplatform.pipeline import selectors
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Page
from dataplatform.pipeline.errors import InvalidCursor, NotFound, ValidationFailed
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.states import FileStatus, RunStatus

from .test_datasets import make_config
from .test_repository_contract import make_files

BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def put_run(p: Pipeline, run_id: str, *, status: RunStatus, minutes: int, dataset: str = "ds", day: str = "2024-03-01",
            environment: str = "staging") -> Run:
    run = Run.model_validate(
        {
            "runId": run_id,
            "datasetName": dataset,
            "businessDate": day,
            "createdAt": BASE + timedelta(minutes=minutes),
            "status": status,
            "environment": environment,
        }
    )
    return p.runs.create(run)


def test_runs_recent_puts_failed_and_in_flight_first_newest_first(any_pipeline: Pipeline) -> None:
    p = any_pipeline
    put_run(p, "success-new", status=RunStatus.SUCCESS, minutes=100)
    put_run(p, "cancelled-mid", status=RunStatus.CANCELLED, minutes=50)
    put_run(p, "failed-old", status=RunStatus.FAILED, minutes=1)
    put_run(p, "processing", status=RunStatus.PROCESSING, minutes=30)
    put_run(p, "pending", status=RunStatus.PENDING, minutes=40)
    put_run(p, "dispatched", status=RunStatus.DISPATCHED, minutes=20)
    put_run(p, "success-old", status=RunStatus.SUCCESS, minutes=0)
    recent = [r.run_id for r in selectors.runs_recent(p, limit=50)]
    assert recent == [
        "pending", "processing", "dispatched", "failed-old",  # attention first, newest first
        "success-new", "cancelled-mid", "success-old",
    ]
    assert [r.run_id for r in selectors.runs_recent(p, limit=5)] == recent[:5]
    assert [r.run_id for r in selectors.runs_recent(p, limit=2)] == ["pending", "processing"]


def test_runs_recent_never_scans(moto_pipeline: Pipeline) -> None:
    operations: list[str] = []
    moto_pipeline.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: operations.append(model.name)
    )
    put_run(moto_pipeline, "a", status=RunStatus.SUCCESS, minutes=1)
    moto_pipeline.runs.catalog.indexes()  # the table's indexes are described once per process
    operations.clear()
    selectors.runs_recent(moto_pipeline, limit=10)
    assert set(operations) == {"Query"}
    assert len(operations) == 6  # one per status


def test_runs_recent_reads_finished_runs_only_to_fill_the_page(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    for i in range(3):
        put_run(p, f"failed-{i}", status=RunStatus.FAILED, minutes=i)
    for i in range(10):
        put_run(p, f"success-{i}", status=RunStatus.SUCCESS, minutes=10 + i)
    limits: dict[str, int] = {}

    def record(params: dict[str, Any], **_: Any) -> None:
        limits[params["ExpressionAttributeValues"][":v0"]["S"]] = params["Limit"]

    p.client.meta.events.register("provide-client-params.dynamodb.Query", record)
    recent = [r.run_id for r in selectors.runs_recent(p, limit=5)]
    assert recent == ["failed-2", "failed-1", "failed-0", "success-9", "success-8"]
    assert limits["failed"] == 6  # the page size, plus the one item that tells whether more exist
    assert limits["success"] == limits["cancelled"] == 3  # only the 2 missing rows (+1)


def collect(fetch: Any, key: str = "run_id") -> tuple[list[str], int]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        page: Page[Any] = fetch(cursor)
        pages += 1
        ids += [getattr(item, key) for item in page.items]
        cursor = page.cursor
        if cursor is None:
            return ids, pages


def test_runs_list_pages_never_lose_or_repeat_rows(ddb_local_pipeline: Pipeline) -> None:
    p = ddb_local_pipeline
    expected = []
    for i in range(23):
        day = f"2024-03-{1 + i % 5:02d}"
        expected.append(put_run(p, f"r{i:02d}", status=RunStatus.SUCCESS, minutes=i, day=day).run_id)
    put_run(p, "other", status=RunStatus.SUCCESS, minutes=1, dataset="other-ds")
    ids, pages = collect(lambda c: selectors.runs_list(p, dataset_name="ds", limit=5, cursor=c))
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    assert pages >= 5
    by_status, _ = collect(lambda c: selectors.runs_list(p, status="success", limit=7, cursor=c))
    assert sorted(by_status) == sorted([*expected, "other"])
    assert len(by_status) == len(set(by_status))


def test_runs_list_filters(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    put_run(p, "a", status=RunStatus.SUCCESS, minutes=1, day="2024-03-01")
    put_run(p, "b", status=RunStatus.FAILED, minutes=2, day="2024-03-01", environment="prod")
    put_run(p, "c", status=RunStatus.FAILED, minutes=3, day="2024-03-02")
    assert [r.run_id for r in selectors.runs_list(p, dataset_name="ds", business_date="2024-03-01").items] == [
        "b", "a"
    ]
    assert [r.run_id for r in selectors.runs_list(p, dataset_name="ds", status="failed").items] == ["c", "b"]
    assert [r.run_id for r in selectors.runs_list(p, status="failed", environment="prod").items] == ["b"]
    on_day = selectors.runs_list(p, status=RunStatus.FAILED, business_date=date(2024, 3, 2))
    assert [r.run_id for r in on_day.items] == ["c"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "exploded"},
        {"dataset_name": "ds", "environment": "dev"},
        {"dataset_name": "ds", "business_date": "2024-02-30"},
        {"dataset_name": "ds", "limit": 0},
        {"dataset_name": "ds", "limit": 501},
    ],
)
def test_runs_list_refuses_bad_queries(moto_pipeline: Pipeline, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        selectors.runs_list(moto_pipeline, **kwargs)


def test_files_list_pages_and_filters_by_status(ddb_local_pipeline: Pipeline) -> None:
    p = ddb_local_pipeline
    put_run(p, "run", status=RunStatus.PROCESSING, minutes=0)
    files = make_files("run", 40)
    for record in files[:9]:
        record.status = FileStatus.FAILED
    p.files.put_batch(files)
    ids, _ = collect(lambda c: selectors.files_list(p, run_id="run", limit=6, cursor=c), "file_id")
    assert sorted(ids) == sorted(f.file_id for f in files)
    failed, pages = collect(
        lambda c: selectors.files_list(p, run_id="run", status="failed", limit=4, cursor=c), "file_id"
    )
    assert sorted(failed) == sorted(f.file_id for f in files[:9])
    assert pages == 3
    with pytest.raises(InvalidCursor):
        selectors.files_list(p, run_id="another-run", limit=4, cursor=p.files.by_run("run", limit=4).cursor)
    assert selectors.file_get(p, file_id=files[0].file_id).status is FileStatus.FAILED
    assert selectors.run_file_counts(p, run_id="run") == {
        "pending": 31, "fetched": 0, "verified": 0, "preprocessed": 0, "failed": 9
    }
    with pytest.raises(NotFound):
        selectors.run_get(p, run_id="nope")


def test_datasets_list_pages(moto_pipeline: Pipeline) -> None:
    for i in range(5):
        moto_pipeline.datasets.put(make_config(f"ds-{i}"))
    page = selectors.datasets_list(moto_pipeline, limit=3)
    assert [c.dataset_name for c in page.items] == ["ds-0", "ds-1", "ds-2"]
    rest = selectors.datasets_list(moto_pipeline, limit=3, cursor=page.cursor)
    assert [c.dataset_name for c in rest.items] == ["ds-3", "ds-4"]
    assert rest.cursor is None


def test_run_events_is_empty_for_a_run_without_actions(moto_pipeline: Pipeline) -> None:
    put_run(moto_pipeline, "quiet", status=RunStatus.PENDING, minutes=0)
    page = selectors.run_events(moto_pipeline, run_id="quiet")
    assert page.items == []
    assert page.cursor is None


def test_calendar_marks_latest_run_missing_and_unexpected_days(any_pipeline: Pipeline) -> None:
    p = any_pipeline
    # Mon-Fri, due 18:00 UTC, a prod dataset registered before these dates. 2024-03-04 is a Monday.
    p.datasets.register("ds", at=datetime(2024, 3, 1, tzinfo=UTC))
    p.datasets.put(make_config("ds", schedule={"weekdays": [0, 1, 2, 3, 4], "dueBy": "18:00"}))
    put_run(p, "mon-failed", status=RunStatus.FAILED, minutes=0, day="2024-03-04", environment="prod")
    put_run(p, "mon-rerun", status=RunStatus.SUCCESS, minutes=90, day="2024-03-04", environment="prod")
    put_run(p, "wed", status=RunStatus.PROCESSING, minutes=5, day="2024-03-06", environment="prod")
    put_run(p, "sat", status=RunStatus.SUCCESS, minutes=5, day="2024-03-09", environment="prod")
    put_run(p, "outside", status=RunStatus.SUCCESS, minutes=5, day="2024-03-12", environment="prod")
    put_run(p, "other-dataset", status=RunStatus.SUCCESS, minutes=5, day="2024-03-05", dataset="ds2",
            environment="prod")
    put_run(p, "staging-tue", status=RunStatus.SUCCESS, minutes=5, day="2024-03-05")
    now = datetime(2024, 3, 8, 17, 0, tzinfo=UTC)  # Friday, before Friday's due time
    days = selectors.dataset_calendar(p, name="ds", start=date(2024, 3, 4), end=date(2024, 3, 10), now=now)
    table = {d.business_date.day: (d.status, d.run_id, d.expected, d.runs) for d in days}
    assert table == {
        4: ("success", "mon-rerun", True, 2),  # latest run of the date wins
        5: ("missing", None, True, 0),  # the staging run does not count for prod
        6: ("processing", "wed", True, 1),
        7: ("missing", None, True, 0),
        8: ("none", None, True, 0),  # expected, but not due yet
        9: ("success", "sat", False, 1),
        10: ("none", None, False, 0),
    }
    assert selectors.calendar_summary(days) == {"success": 2, "missing": 2, "processing": 1, "none": 2}
    # Staging, an environment the schedule is not for: its own runs, and no day is expected or
    # missing (every state skipped, "scheduled in prod only").
    staging = selectors.dataset_calendar(
        p, name="ds", start=date(2024, 3, 4), end=date(2024, 3, 10), now=now, environment="staging"
    )
    assert {d.business_date.day: (d.status, d.run_id) for d in staging if d.runs} == {5: ("success", "staging-tue")}
    assert not any(d.expected for d in staging)
    assert {d.status for d in staging if not d.runs} == {"none"}
    assert {(d.state, d.reason) for d in staging} == {("skipped", "scheduled in prod only")}


def test_calendar_holds_no_date_before_registration_missing(any_pipeline: Pipeline) -> None:
    """Weekdays before the dataset was registered are expected by the schedule but never
    "missing": the monitor does not hold a dataset to its history (state skipped)."""
    p = any_pipeline
    p.datasets.register("ds", at=datetime(2024, 3, 6, 12, 0, tzinfo=UTC))  # Wednesday
    p.datasets.put(make_config("ds", schedule={"weekdays": [0, 1, 2, 3, 4], "dueBy": "18:00"}))
    now = datetime(2024, 3, 8, 19, 0, tzinfo=UTC)
    days = selectors.dataset_calendar(p, name="ds", start=date(2024, 3, 4), end=date(2024, 3, 8), now=now)
    assert [(d.business_date.day, d.status, d.expected, d.state) for d in days] == [
        (4, "none", True, "skipped"),
        (5, "none", True, "skipped"),
        (6, "missing", True, "missing"),
        (7, "missing", True, "missing"),
        (8, "missing", True, "missing"),
    ]


def test_calendar_costs_one_query_for_the_whole_range(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    p.datasets.put(make_config("ds"))
    for i in range(20):
        put_run(p, f"r{i}", status=RunStatus.SUCCESS, minutes=i, day=(date(2024, 3, 1) + timedelta(days=i)).isoformat())
    operations: list[str] = []
    p.client.meta.events.register("before-call.dynamodb", lambda model, **_: operations.append(model.name))
    days = selectors.dataset_calendar(p, name="ds", start=date(2024, 3, 1), end=date(2024, 3, 31))
    assert len(days) == 31
    assert operations == ["GetItem", "GetItem", "Query"]  # registry entry, registration time, the range


def test_calendar_refuses_bad_ranges_and_unknown_datasets(moto_pipeline: Pipeline) -> None:
    with pytest.raises(ValidationFailed):
        selectors.dataset_calendar(moto_pipeline, name="ds", start=date(2024, 3, 2), end=date(2024, 3, 1))
    with pytest.raises(ValidationFailed):
        selectors.dataset_calendar(moto_pipeline, name="ds", start=date(2023, 1, 1), end=date(2024, 3, 1))
    with pytest.raises(NotFound):
        selectors.dataset_calendar(moto_pipeline, name="ds", start=date(2024, 3, 1), end=date(2024, 3, 2))


def test_datasets_overview_ends_each_strip_on_the_datasets_own_today(any_pipeline: Pipeline) -> None:
    """At 23:30 UTC a Tokyo dataset is already on tomorrow: its "today" (the strip's last day)
    is the Tokyo date, as on the attention page, while a London dataset is still on today."""
    p = any_pipeline
    tokyo = make_config("tokyo", schedule={"weekdays": [0, 1, 2, 3, 4], "dueBy": "18:00", "timezone": "Asia/Tokyo"})
    london = make_config("london", schedule={"weekdays": [0, 1, 2, 3, 4], "dueBy": "18:00",
                                             "timezone": "Europe/London"})
    for config in (tokyo, london):
        p.datasets.register(config.dataset_name, at=datetime(2024, 1, 1, tzinfo=UTC))
        p.datasets.put(config)
    put_run(p, "tokyo-thu", status=RunStatus.SUCCESS, minutes=5, day="2024-03-07", dataset="tokyo",
            environment="prod")
    now = datetime(2024, 3, 6, 23, 30, tzinfo=UTC)  # Wednesday in London, Thursday 08:30 in Tokyo
    overview = {o.config.dataset_name: o for o in selectors.datasets_overview(p, configs=[tokyo, london], now=now)}
    assert [day.business_date for day in overview["tokyo"].strips["prod"]][-1] == date(2024, 3, 7)
    assert [day.business_date for day in overview["london"].strips["prod"]][-1] == date(2024, 3, 6)
    assert all(len(o.strips[env]) == selectors.STRIP_DAYS for o in overview.values() for env in o.strips)
    today = overview["tokyo"].today("prod")
    assert today.run is not None
    assert today.run.run_id == "tokyo-thu"
