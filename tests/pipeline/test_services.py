"""Services on moto: trigger, worker reports, retry, cancel, reconcile and the audit trail."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from dataplatform.pipeline import services
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.errors import InvalidTransition, NotFound, ValidationFailed
from dataplatform.pipeline.services import Actor, file_report, file_retry, run_cancel, run_reconcile, run_retry
from dataplatform.pipeline.states import FileStatus, RunStatus

from .recording import RecordingDispatcher, assert_refused_and_audited, audit_records, snapshot

ALICE = Actor(name="alice", request_id="req-1")
WORKER = Actor(name="worker")


@pytest.fixture
def p(moto_pipeline: Pipeline) -> Pipeline:
    moto_pipeline.dispatcher = RecordingDispatcher()
    return moto_pipeline


def sent(p: Pipeline) -> RecordingDispatcher:
    assert isinstance(p.dispatcher, RecordingDispatcher)
    return p.dispatcher


def locations(n: int, prefix: str = "part") -> list[str]:
    return [f"s3://bucket-a/ds/2026-01-05/{prefix}-{i:03d}.csv" for i in range(n)]


def trigger(p: Pipeline, n: int = 3, **extra: Any) -> services.TriggerResult:
    request = {"datasetName": "ds", "businessDate": "2026-01-05", "files": locations(n), **extra}
    return services.run_trigger(p, request=request, actor=ALICE)


def advance(p: Pipeline, file_id: str, final: FileStatus) -> None:
    path = {
        FileStatus.PREPROCESSED: [FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED],
        FileStatus.FAILED: [FileStatus.FETCHED, FileStatus.FAILED],
    }[final]
    for status in path:
        error = {"message": "checksum mismatch"} if status is FileStatus.FAILED else None
        file_report(p, file_id=file_id, status=status, error=error, actor=WORKER)


def failed_run(p: Pipeline, n: int = 4, failures: int = 2) -> tuple[str, list[str]]:
    result = trigger(p, n)
    ids = [m.file_id for m in sent(p).take()]
    for i, file_id in enumerate(ids):
        advance(p, file_id, FileStatus.FAILED if i < failures else FileStatus.PREPROCESSED)
    return result.run.run_id, ids


# --- trigger -------------------------------------------------------------------------------


def test_trigger_registers_files_moves_run_to_dispatched_and_dispatches_each_file_once(p: Pipeline) -> None:
    files = locations(30)
    result = services.run_trigger(
        p, request={"datasetName": "ds", "businessDate": "2026-01-05", "files": files + files[:5]}, actor=ALICE
    )
    run = result.run
    assert result.created
    assert run.status is RunStatus.DISPATCHED
    assert run.run_id.startswith("ds-20260105-")
    assert (run.resolved_files, run.pending_files) == (30, 30)
    stored = list(p.files.iter_run(run.run_id))
    assert sorted(f.location for f in stored) == sorted(files)
    messages = sent(p).take()
    assert sorted(m.file_id for m in messages) == sorted(f.file_id for f in stored)
    assert {m.attempt for m in messages} == {1}
    assert p.files.count_by_status(run.run_id)["pending"] == 30


def test_rerun_of_same_dataset_and_date_keeps_the_earlier_runs_files(p: Pipeline) -> None:
    first = trigger(p, 5).run
    first_ids = [m.file_id for m in sent(p).take()]
    advance(p, first_ids[0], FileStatus.PREPROCESSED)
    second = trigger(p, 5).run
    assert second.run_id != first.run_id
    assert set(first_ids).isdisjoint(f.file_id for f in p.files.iter_run(second.run_id))
    assert p.files.get(first_ids[0]).status is FileStatus.PREPROCESSED
    assert p.files.count_by_status(first.run_id) == {
        "pending": 4, "fetched": 0, "verified": 0, "preprocessed": 1, "failed": 0,
    }
    assert len(list(p.files.iter_run(second.run_id))) == 5


def test_repeated_trigger_with_same_idempotency_key_creates_nothing(p: Pipeline) -> None:
    first = trigger(p, 3, idempotencyKey="ctrl-m-job-42")
    assert first.created
    sent(p).take()
    before = snapshot(p)
    tables = (p.config.run_table, p.config.file_table)
    again = trigger(p, 3, idempotencyKey="ctrl-m-job-42")
    assert not again.created
    assert again.run.run_id == first.run.run_id
    after = snapshot(p)
    assert all(before[t] == after[t] for t in tables)
    assert sent(p).take() == []


def test_key_is_derived_from_the_source_trigger_payload(p: Pipeline) -> None:
    payload = {"sourceType": "control-m", "sourceTrigger": {"job": "EOD", "order": 7}}
    first = trigger(p, 2, **payload)
    second = trigger(p, 2, **payload)
    other = trigger(p, 2, sourceType="control-m", sourceTrigger={"job": "EOD", "order": 8})
    assert first.created
    assert not second.created
    assert other.created
    assert first.run.run_id == second.run.run_id != other.run.run_id
    # Without a key or source trigger, every manual trigger is a new run.
    assert trigger(p, 2).run.run_id != trigger(p, 2).run.run_id


def test_repeat_finishes_a_registration_that_crashed_while_pending(p: Pipeline) -> None:
    request = services.parse_trigger(
        {"datasetName": "ds", "businessDate": "2026-01-05", "files": locations(3), "idempotencyKey": "k1"}
    )
    run_id = services.make_run_id("ds", "2026-01-05", "k1")
    from dataplatform.pipeline.models import Run

    p.runs.create(Run.model_validate({"runId": run_id, "datasetName": "ds", "businessDate": "2026-01-05",
                                      "createdAt": "2026-01-05T00:00:00Z", "idempotencyKey": "k1"}))
    result = services.run_trigger(p, request=request, actor=ALICE)
    assert not result.created
    assert result.run.status is RunStatus.DISPATCHED
    assert result.run.resolved_files == 3
    assert len(sent(p).take()) == 3


def test_files_are_resolved_from_the_dataset_registry(p: Pipeline) -> None:
    p.datasets.put(DatasetConfig.model_validate({
        "datasetName": "fx-rates", "locations": ["s3://bucket-a/{dataset}/{businessDate}/part-{part:02d}.csv"],
        "parts": 4,
    }))
    result = services.run_trigger(p, request={"datasetName": "fx-rates", "businessDate": "2026-01-05"}, actor=ALICE)
    assert result.run.resolved_files == 4
    assert sorted(f.location for f in p.files.iter_run(result.run.run_id))[0] == (
        "s3://bucket-a/fx-rates/2026-01-05/part-01.csv"
    )


def test_unknown_dataset_without_files_is_a_clear_error_and_writes_nothing(p: Pipeline) -> None:
    before = snapshot(p)
    with pytest.raises(ValidationFailed, match="not registered"):
        services.run_trigger(p, request={"datasetName": "nope", "businessDate": "2026-01-05"}, actor=ALICE)
    assert_refused_and_audited(p, before, "trigger")


def test_more_than_100000_files_is_refused() -> None:
    many = [f"s3://bucket-a/x/{i}.csv" for i in range(services.MAX_FILES + 1)]
    with pytest.raises(ValidationFailed) as info:
        services.parse_trigger({"datasetName": "ds", "businessDate": "2026-01-05", "files": many})
    assert "files" in info.value.fields


# --- worker reports ------------------------------------------------------------------------


def test_reports_update_counters_and_roll_up_to_success(p: Pipeline) -> None:
    run_id = trigger(p, 2).run.run_id
    for message in sent(p).take():
        advance(p, message.file_id, FileStatus.PREPROCESSED)
    run = p.runs.get(run_id)
    assert run.status is RunStatus.SUCCESS
    assert run.counts() == p.files.count_by_status(run_id)
    assert run.error is None


def test_roll_up_to_failed_says_how_many_failed(p: Pipeline) -> None:
    run_id, _ = failed_run(p, 4, 1)
    run = p.runs.get(run_id)
    assert run.status is RunStatus.FAILED
    assert run.error == {"message": "1 of 4 files failed", "failedFiles": 1}


def test_repeating_a_report_is_harmless(p: Pipeline) -> None:
    run_id = trigger(p, 2).run.run_id
    file_id = sent(p).take()[0].file_id
    file_report(p, file_id=file_id, status="fetched", file_size=10, actor=WORKER)
    counts = p.runs.get(run_id).counts()
    again = file_report(p, file_id=file_id, status="fetched", file_size=10, actor=WORKER)
    assert again.status is FileStatus.FETCHED
    assert p.runs.get(run_id).counts() == counts


def test_report_refused_after_cancel_and_file_left_unchanged(p: Pipeline) -> None:
    run_id = trigger(p, 2).run.run_id
    file_id = sent(p).take()[0].file_id
    run_cancel(p, run_id=run_id, reason="bad data", actor=ALICE)
    before = snapshot(p)
    with pytest.raises(InvalidTransition) as info:
        file_report(p, file_id=file_id, status="fetched", actor=WORKER)
    assert info.value.current == "cancelled"
    assert p.files.get(file_id).status is FileStatus.PENDING
    after = snapshot(p)
    assert after[p.config.run_table] == before[p.config.run_table]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": "pending"}, "status"),
        ({"status": "fetched", "file_size": -1}, "fileSize"),
        ({"status": "fetched", "file_size": True}, "fileSize"),
        ({"status": "fetched", "checksum": "x" * 257}, "checksum"),
        ({"status": "fetched", "checksum": "abc\n"}, "checksum"),
        ({"status": "failed", "error": "boom"}, "error"),
        ({"status": "failed", "error": {"trace": "x" * 9000}}, "error"),
    ],
)
def test_bad_reports_are_refused_before_writing(p: Pipeline, kwargs: dict[str, Any], field: str) -> None:
    trigger(p, 1)
    file_id = sent(p).take()[0].file_id
    before = snapshot(p)
    with pytest.raises(ValidationFailed) as info:
        file_report(p, file_id=file_id, actor=WORKER, **kwargs)
    assert field in info.value.fields
    assert snapshot(p) == before


# --- retry ---------------------------------------------------------------------------------


def test_retry_moves_failed_files_once_and_dispatches_each_once(p: Pipeline) -> None:
    run_id, ids = failed_run(p, 4, 2)
    result = run_retry(p, run_id=run_id, actor=ALICE)
    assert result.retried == 2
    assert sorted(result.file_ids) == sorted(ids[:2])
    assert result.run.status is RunStatus.PROCESSING
    assert result.run.error is None
    messages = sent(p).take()
    assert sorted(m.file_id for m in messages) == sorted(ids[:2])
    assert {m.attempt for m in messages} == {2}
    for file_id in ids[:2]:
        record = p.files.get(file_id)
        assert (record.status, record.attempts, record.error) == (FileStatus.PENDING, 1, None)
    assert p.runs.get(run_id).counts() == p.files.count_by_status(run_id)
    # Nothing left to retry: a second retry moves and dispatches nothing.
    assert run_retry(p, run_id=run_id, actor=ALICE).retried == 0
    assert sent(p).take() == []


def test_retry_of_given_files_only(p: Pipeline) -> None:
    run_id, ids = failed_run(p, 4, 2)
    result = run_retry(p, run_id=run_id, file_ids=[ids[1], ids[3]], actor=ALICE)  # ids[3] succeeded
    assert result.file_ids == [ids[1]]
    assert p.files.get(ids[0]).status is FileStatus.FAILED


def test_retry_dry_run_writes_nothing(p: Pipeline) -> None:
    run_id, ids = failed_run(p, 4, 2)
    before = snapshot(p)
    result = run_retry(p, run_id=run_id, dry_run=True, actor=ALICE)
    assert result.dry_run
    assert sorted(result.file_ids) == sorted(ids[:2])
    assert result.retried == 2
    assert snapshot(p) == before
    assert sent(p).take() == []


def test_retry_refused_for_cancelled_and_successful_runs(p: Pipeline) -> None:
    run_id, _ = failed_run(p, 2, 0)
    assert p.runs.get(run_id).status is RunStatus.SUCCESS
    with pytest.raises(InvalidTransition):
        run_retry(p, run_id=run_id, actor=ALICE)
    other = trigger(p, 1).run.run_id
    run_cancel(p, run_id=other, reason=None, actor=ALICE)
    with pytest.raises(InvalidTransition):
        run_retry(p, run_id=other, actor=ALICE)


def test_file_retry(p: Pipeline) -> None:
    run_id, ids = failed_run(p, 3, 2)
    record = file_retry(p, file_id=ids[0], actor=ALICE)
    assert (record.status, record.attempts) == (FileStatus.PENDING, 1)
    assert [m.file_id for m in sent(p).take()] == [ids[0]]
    assert p.runs.get(run_id).status is RunStatus.PROCESSING
    with pytest.raises(InvalidTransition, match="only failed files"):
        file_retry(p, file_id=ids[0], actor=ALICE)
    with pytest.raises(NotFound):
        file_retry(p, file_id="missing", actor=ALICE)


# --- cancel --------------------------------------------------------------------------------


def test_cancel_records_who_why_when_and_is_idempotent(p: Pipeline) -> None:
    run_id = trigger(p, 2).run.run_id
    run = run_cancel(p, run_id=run_id, reason="  upstream re-sent the data  ", actor=ALICE)
    assert run.status is RunStatus.CANCELLED
    assert (run.cancelled_by, run.cancel_reason) == ("alice", "upstream re-sent the data")
    assert run.cancelled_at is not None
    again = run_cancel(p, run_id=run_id, reason="other", actor=Actor(name="bob"))
    assert again == p.runs.get(run_id)
    assert again.cancelled_by == "alice"


def test_cancel_refused_for_finished_runs(p: Pipeline) -> None:
    run_id, _ = failed_run(p, 2, 1)
    with pytest.raises(InvalidTransition):
        run_cancel(p, run_id=run_id, reason=None, actor=ALICE)
    assert p.runs.get(run_id).status is RunStatus.FAILED


# --- reconcile -----------------------------------------------------------------------------


def test_reconcile_restores_counters_and_rolls_up(p: Pipeline) -> None:
    run_id = trigger(p, 3).run.run_id
    ids = [m.file_id for m in sent(p).take()]
    advance(p, ids[0], FileStatus.PREPROCESSED)
    # A worker that died between the file move and the run commit: counters off by two files.
    for file_id in ids[1:]:
        p.files.move(file_id, FileStatus.FETCHED)
        p.files.move(file_id, FileStatus.FAILED)
    p.runs.update(run_id, Update(add_values={"verifiedFiles": 5}))
    result = run_reconcile(p, run_id=run_id, actor=ALICE)
    assert result.changed
    assert result.before["verifiedFiles"] == 5
    assert result.after == {
        "resolvedFiles": 3, "pendingFiles": 0, "fetchedFiles": 0, "verifiedFiles": 0, "processedFiles": 1,
        "failedFiles": 2,
    }
    assert result.run.status is RunStatus.FAILED
    assert p.runs.get(run_id).counts() == p.files.count_by_status(run_id)
    assert not run_reconcile(p, run_id=run_id, actor=ALICE).changed


# --- audit ---------------------------------------------------------------------------------


def test_every_action_writes_exactly_one_audit_record_allowed_or_refused(
    p: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dataplatform.audit")
    run_id, ids = failed_run(p, 3, 1)
    actions: list[tuple[str, str]] = [("trigger", "allowed")]
    run_retry(p, run_id=run_id, dry_run=True, actor=ALICE)  # a read: no record
    run_retry(p, run_id=run_id, actor=ALICE)
    actions.append(("retry", "allowed"))
    with pytest.raises(InvalidTransition):
        file_retry(p, file_id=ids[0], actor=ALICE)  # now pending
    actions.append(("file_retry", "refused"))
    run_reconcile(p, run_id=run_id, actor=ALICE)
    actions.append(("reconcile", "allowed"))
    run_cancel(p, run_id=run_id, reason="line one\nline two", actor=ALICE)
    actions.append(("cancel", "allowed"))
    run_cancel(p, run_id=run_id, reason=None, actor=ALICE)
    actions.append(("cancel", "allowed"))
    with pytest.raises(InvalidTransition):
        run_retry(p, run_id=run_id, actor=ALICE)
    actions.append(("retry", "refused"))
    with pytest.raises(ValidationFailed):
        run_cancel(p, run_id=run_id, reason="x" * 5000, actor=ALICE)
    actions.append(("cancel", "refused"))

    records = audit_records(p, run_id)
    assert [(r.action, r.outcome) for r in reversed(records)] == actions
    assert [r.event_id for r in records] == sorted((r.event_id for r in records), reverse=True)
    assert all(r.actor == "alice" and r.request_id == "req-1" for r in records)
    cancel = next(r for r in records if r.action == "cancel" and r.outcome == "allowed" and r.reason)
    assert cancel.reason == "line one\nline two"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dataplatform.audit"]
    assert len(lines) == len(actions)
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name == "dataplatform.audit")
    assert {"actor", "action", "target", "reason", "outcome", "at", "requestId"} <= set(lines[-1])


def test_audit_pages_newest_first_with_a_cursor(p: Pipeline) -> None:
    run_id = trigger(p, 1).run.run_id
    for _ in range(4):
        run_cancel(p, run_id=run_id, reason=None, actor=ALICE)
    first = p.audit.for_target(run_id, limit=2)
    second = p.audit.for_target(run_id, limit=2, cursor=first.cursor)
    third = p.audit.for_target(run_id, limit=2, cursor=second.cursor)
    events = [r.event_id for r in first.items + second.items + third.items]
    assert len(events) == 5 == len(set(events))
    assert events == sorted(events, reverse=True)
    assert third.cursor is None
