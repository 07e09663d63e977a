"""Counts from the counters (checked when a run ends), the registry's environment on a trigger,
failure groups and stalled runs (issue 13 items 2, 4 and 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dataplatform.pipeline import selectors, services
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.errors import ValidationFailed
from dataplatform.pipeline.models import Environment
from dataplatform.pipeline.states import FileStatus, RunStatus
from dataplatform.pipeline.timeutil import utc_now
from dataplatform.pipeline.triage import is_stalled
from tests.web.factories import WORKER, advance, make_run


def test_a_run_is_counted_against_the_file_table_once_when_it_ends(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    run = make_run(p, files=3, done=2)
    assert run.counts_checked_at is None
    p.runs.update(run.run_id, Update(add_values={"verifiedFiles": 2}))  # a crashed writer's leftover
    last = next(p.files.iter_run(run.run_id, status=FileStatus.PENDING))
    advance(p, last.file_id)
    ended = p.runs.get(run.run_id, consistent=True)
    assert ended.status is RunStatus.SUCCESS
    assert ended.counts_checked_at is not None
    assert ended.counts() == p.files.count_by_status(run.run_id)  # the drift was repaired


def test_recount_stores_counters_for_a_run_that_never_had_them(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    run = make_run(p, files=4, done=1)
    p.client.update_item(
        TableName=p.config.run_table, Key={"runId": {"S": run.run_id}},
        UpdateExpression="REMOVE pendingFiles, fetchedFiles, verifiedFiles, failedFiles",
    )
    assert not p.runs.get(run.run_id).has_counters
    detail = selectors.run_detail(p, run_id=run.run_id)
    assert detail.counts() == {"pending": 3, "fetched": 0, "verified": 0, "preprocessed": 1, "failed": 0}
    assert p.runs.get(run.run_id, consistent=True).has_counters


def test_the_run_environment_comes_from_the_registry(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    p.datasets.put(DatasetConfig.model_validate({
        "datasetName": "prod-prices", "environment": "prod", "locations": ["s3://bucket/{dataset}/{businessDate}.csv"],
    }))
    run = services.run_trigger(p, request={"datasetName": "prod-prices", "businessDate": "2026-01-05"},
                               actor=WORKER).run
    assert run.environment is Environment.PROD  # though this process's ENVIRONMENT is staging
    with pytest.raises(ValidationFailed) as refused:
        services.run_trigger(p, request={"datasetName": "prod-prices", "businessDate": "2026-01-06",
                                         "environment": "staging"}, actor=WORKER)
    assert "environment" in refused.value.fields
    assert "a trigger for 'staging' is refused" in refused.value.message  # the value, not the enum's repr
    unregistered = services.run_trigger(p, request={"datasetName": "adhoc", "businessDate": "2026-01-05",
                                                    "files": ["s3://bucket-x/k.csv"], "environment": "prod"},
                                        actor=WORKER).run
    assert unregistered.environment is Environment.PROD


def test_failed_files_are_grouped_by_error_largest_first(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    run = make_run(p, files=6, failed=0)
    ids = [f.file_id for f in p.files.iter_run(run.run_id)]
    errors = [{"message": "bad gzip", "code": "E1"}] * 3 + [{"message": "timeout"}] * 2 + [{"code": "X"}]
    for file_id, error in zip(ids, errors, strict=True):
        services.file_report(p, file_id=file_id, status=FileStatus.FAILED, error=error, actor=WORKER)
    groups = selectors.run_failure_groups(p, run_id=run.run_id)
    assert [(g.message, g.count, g.codes) for g in groups] == [
        ("bad gzip", 3, ("E1",)), ("timeout", 2, ()), ("", 1, ("X",)),
    ]
    in_group = selectors.files_list(p, run_id=run.run_id, status="failed", error_message="timeout")
    assert len(in_group.items) == 2
    no_message = selectors.files_list(p, run_id=run.run_id, status="failed", error_message="")
    assert [f.error for f in no_message.items] == [{"code": "X"}]


def test_a_run_without_progress_is_stalled_only_while_in_flight(moto_pipeline: Pipeline) -> None:
    run = make_run(moto_pipeline, files=2)
    later = utc_now() + timedelta(minutes=31)
    assert not is_stalled(run, after_minutes=30)
    assert is_stalled(run, after_minutes=30, now=later)
    done = make_run(moto_pipeline, files=1, done=1)
    assert not is_stalled(done, after_minutes=30, now=later)


def test_redispatch_of_a_run_stuck_pending_dispatches_it(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    run = make_run(p, files=3)
    p.dispatcher.drain()  # type: ignore[attr-defined]
    p.runs.update(run.run_id, Update(set_values={"status": "pending"}))  # registration died before dispatch
    result = services.run_redispatch(p, run_id=run.run_id, older_than_minutes=0, actor=WORKER)
    assert result.redispatched == 3
    assert result.run.status is RunStatus.DISPATCHED
    assert len(p.dispatcher.drain()) == 3  # type: ignore[attr-defined]
    again = services.run_redispatch(p, run_id=run.run_id, older_than_minutes=5, actor=WORKER)
    assert again.redispatched == 0  # just dispatched: not idle


def test_redispatch_by_default_takes_files_idle_for_the_datasets_shorter_stuck_time(moto_pipeline: Pipeline) -> None:
    """A dataset alerted as stuck after 10 minutes: its re-dispatch (the alert's action) must
    find the idle files then, not only after RUN_STALLED_MINUTES (30)."""
    import time_machine

    p = moto_pipeline
    p.datasets.put(DatasetConfig.model_validate({
        "datasetName": "quick-prices", "locations": ["s3://bucket/{dataset}/{businessDate}.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "18:00", "stuckAfterMinutes": 10},
    }))
    start = utc_now()
    with time_machine.travel(start, tick=False):
        run = services.run_trigger(p, request={"datasetName": "quick-prices", "businessDate": "2026-01-05"},
                                   actor=WORKER).run
    p.dispatcher.drain()  # type: ignore[attr-defined]
    assert p.config.stalled_after_minutes == 30
    assert services.default_idle_minutes(p, run) == 10
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert services.run_redispatch(p, run_id=run.run_id, actor=WORKER).redispatched == 0
    with time_machine.travel(start + timedelta(minutes=12), tick=False):
        assert services.run_redispatch(p, run_id=run.run_id, actor=WORKER).redispatched == 1
    assert len(p.dispatcher.drain()) == 1  # type: ignore[attr-defined]
    unregistered = make_run(p, files=1)
    assert services.default_idle_minutes(p, unregistered) == 30


def test_failure_groups_read_a_bounded_number_of_failed_files(
    moto_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a failure storm the groups (and every poll that refreshes them) read at most
    GROUPED_FILES_MAX failed files: one Query here, not one per page of all of them."""
    p = moto_pipeline
    run = make_run(p, files=12, failed=0)
    for i, f in enumerate(p.files.iter_run(run.run_id)):
        services.file_report(p, file_id=f.file_id, status=FileStatus.FAILED,
                             error={"message": "timeout" if i % 2 else "bad gzip"}, actor=WORKER)
    monkeypatch.setattr(selectors, "GROUPED_FILES_MAX", 5)
    operations: list[str] = []
    p.client.meta.events.register("before-call.dynamodb", lambda model, **_: operations.append(model.name))
    groups = selectors.run_failure_groups(p, run_id=run.run_id)
    assert sum(g.count for g in groups) == 5
    assert operations == ["Query"]
    monkeypatch.setattr(selectors, "GROUPED_FILES_MAX", 1000)
    assert sum(g.count for g in selectors.run_failure_groups(p, run_id=run.run_id)) == 12
