"""The evaluator end to end on moto: missing, late, stuck and failed episodes open and resolve;
exactly once under concurrency; nothing lost after a crash; reads independent of runs."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from dataplatform.pipeline import lambda_handler
from dataplatform.pipeline.alerts import AlertState
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig, parse_dataset
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.errors import ValidationFailed
from dataplatform.pipeline.evaluator import evaluate, main
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.states import RunStatus

from .alerting import ENGINES, atomic_moto, engine_pipeline, episodes, outbox, separate_client

DAY = date(2026, 3, 2)  # a Monday


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def dataset(name: str = "prices", **schedule: Any) -> DatasetConfig:
    base = {"expectedBy": "06:00", "startGraceMinutes": 30, "dueBy": "09:00", "stuckAfterMinutes": 60}
    return parse_dataset({"datasetName": name, "environment": "prod",
                          "locations": ["s3://bucket/{businessDate}/p.csv"], "schedule": {**base, **schedule}})


def register(p: Pipeline, *configs: DatasetConfig, since: datetime | None = None) -> None:
    for config in configs:
        p.datasets.register(config.dataset_name, since or at(0))
    p.datasets.put_many(list(configs))


def add_run(p: Pipeline, status: str, *, created: datetime, updated: datetime | None = None,
            run_id: str = "run-1", name: str = "prices", day: date = DAY, **extra: Any) -> Run:
    run = Run.model_validate({"runId": run_id, "datasetName": name, "businessDate": day, "createdAt": created,
                              "status": status, "updatedAt": updated or created, "environment": "prod", **extra})
    return p.runs.create(run)


def set_run(p: Pipeline, run_id: str, status: str, updated: datetime, **values: Any) -> None:
    p.runs.update(run_id, Update(set_values={"status": status, "updatedAt": updated, **values}))


def active(p: Pipeline) -> list[tuple[str, str, str]]:
    return sorted((a.dataset_name, a.business_date.isoformat(), a.kind.value) for a in p.alerts.active())


@pytest.fixture
def p(moto_pipeline: Pipeline) -> Pipeline:
    register(moto_pipeline, dataset())
    return moto_pipeline


def test_missing_opens_after_the_grace_and_resolves_when_a_run_succeeds(p: Pipeline) -> None:
    assert evaluate(p, now=at(6, 29)).opened == []
    tick = evaluate(p, now=at(7, 0))
    assert [(a.kind.value, a.business_date) for a in tick.opened] == [("missing", DAY)]
    assert "expected by 06:00 UTC" in tick.opened[0].summary
    assert evaluate(p, now=at(7, 1)).opened == []  # still missing: nothing new
    add_run(p, "success", created=at(7, 5), updated=at(7, 40))
    tick = evaluate(p, now=at(7, 45))
    assert [a.kind.value for a in tick.resolved] == ["missing"]
    assert tick.resolved[0].resolution == "Resolved: run run-1 succeeded in time."
    assert active(p) == []
    assert [n["type"] for n in outbox(p)] == ["alert.opened", "alert.resolved"]


def test_late_opens_past_the_due_time_and_resolves_on_success(p: Pipeline) -> None:
    add_run(p, "processing", created=at(6, 10), updated=at(8, 55))
    assert active(p) == [] and evaluate(p, now=at(8, 59)).opened == []  # noqa: PT018
    tick = evaluate(p, now=at(9, 5))
    assert [a.kind.value for a in tick.opened] == ["late"]
    assert tick.opened[0].run_id == "run-1"
    assert tick.opened[0].late_minutes == 5
    set_run(p, "run-1", "success", at(9, 20))
    tick = evaluate(p, now=at(9, 25))
    assert [a.kind.value for a in tick.resolved] == ["late"]
    assert tick.resolved[0].resolution == "Resolved: run run-1 succeeded, 20 min after the due time."


def test_stuck_opens_without_progress_and_resolves_when_it_resumes(p: Pipeline) -> None:
    add_run(p, "processing", created=at(6, 0), updated=at(6, 5))
    assert evaluate(p, now=at(7, 4)).opened == []
    tick = evaluate(p, now=at(7, 5))
    assert [a.kind.value for a in tick.opened] == ["stuck"]
    set_run(p, "run-1", "processing", at(7, 10))
    tick = evaluate(p, now=at(7, 11))
    assert [a.kind.value for a in tick.resolved] == ["stuck"]
    assert "making progress again" in str(tick.resolved[0].resolution)


def test_failed_opens_and_resolves_when_a_retry_succeeds(p: Pipeline) -> None:
    add_run(p, "failed", created=at(6, 0), updated=at(6, 40), error={"message": "2 of 8 files failed"})
    tick = evaluate(p, now=at(6, 45))
    assert [a.kind.value for a in tick.opened] == ["failed"]
    assert "2 of 8 files failed" in tick.opened[0].summary
    set_run(p, "run-1", "processing", at(6, 50))
    set_run(p, "run-1", "success", at(7, 10))
    tick = evaluate(p, now=at(7, 15))
    assert [a.kind.value for a in tick.resolved] == ["failed"]


def test_failed_supersedes_late(p: Pipeline) -> None:
    add_run(p, "processing", created=at(6, 0), updated=at(8, 58))
    assert [a.kind.value for a in evaluate(p, now=at(9, 5)).opened] == ["late"]
    set_run(p, "run-1", "failed", at(9, 10), error={"message": "1 of 8 files failed"})
    tick = evaluate(p, now=at(9, 15))
    assert [a.kind.value for a in tick.opened] == ["failed"]
    assert [a.kind.value for a in tick.resolved] == ["late"]
    assert "supersedes" in str(tick.resolved[0].resolution)
    assert active(p) == [("prices", "2026-03-02", "failed")]


def test_nothing_about_dates_before_registration(moto_pipeline: Pipeline) -> None:
    register(moto_pipeline, dataset(), since=at(8, 0, day=date(2026, 3, 3)))  # registered the morning of the 3rd
    tick = evaluate(moto_pipeline, now=at(12, 0, day=date(2026, 3, 3)))
    assert [(a.kind.value, a.business_date.day) for a in tick.opened] == [("missing", 3)]


def test_a_dataset_stored_before_registration_records_is_watched_from_the_first_tick(
    moto_pipeline: Pipeline,
) -> None:
    moto_pipeline.datasets.table.batch_put([dataset().to_item()])  # as an older version stored it
    first = evaluate(moto_pipeline, now=at(7, 0))
    # Registered by this tick: today (in the dataset's timezone) is watched, the days before are not.
    assert [(a.kind.value, a.business_date) for a in first.opened] == [("missing", DAY)]
    assert moto_pipeline.datasets.registrations()["prices"] == at(7, 0)


def test_an_episode_resolves_when_its_dataset_leaves_the_registry(p: Pipeline) -> None:
    evaluate(p, now=at(7, 0))
    p.client.delete_item(TableName=p.config.dataset_table,
                         Key={"pk": {"S": "DATASET"}, "datasetName": {"S": "prices"}})
    tick = evaluate(p, now=at(7, 5))
    assert [a.kind.value for a in tick.resolved] == ["missing"]
    assert "no longer registered" in str(tick.resolved[0].resolution)


def test_an_episode_older_than_the_window_still_resolves(p: Pipeline) -> None:
    evaluate(p, now=at(7, 0))
    add_run(p, "success", created=at(10, 0, day=date(2026, 3, 20)), updated=at(10, 30, day=date(2026, 3, 20)))
    tick = evaluate(p, now=at(11, 0, day=date(2026, 3, 20)), window_days=1)
    assert [(a.kind.value, a.business_date) for a in tick.resolved] == [("missing", DAY)]


def test_a_crash_after_opening_loses_nothing(p: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(p.alerts, "write_snapshot", crash)
    with pytest.raises(RuntimeError):
        evaluate(p, now=at(7, 0))
    monkeypatch.undo()
    tick = evaluate(p, now=at(7, 1))
    assert tick.opened == []
    assert len(episodes(p)) == 1
    assert [n["type"] for n in outbox(p)] == ["alert.opened"]
    assert tick.heartbeat_written


def test_heartbeat_and_snapshot(p: Pipeline) -> None:
    add_run(p, "processing", created=at(6, 0), updated=at(6, 50), run_id="r-a")
    tick = evaluate(p, now=at(7, 0))
    beat = p.alerts.heartbeat()
    assert beat is not None
    assert beat["lastTickAt"] == at(7, 0)
    assert beat["tickId"] == tick.tick_id
    snap = p.alerts.snapshot()
    assert snap is not None
    assert snap["runs"] == [{"dataset": "prices", "environment": "prod", "status": "processing", "count": 1}]
    assert {"dataset": "prices", "environment": "prod", "state": "running", "count": 1} in snap["expectations"]
    assert snap["oldestInflightStart"] == [{"dataset": "prices", "environment": "prod", "timestamp": at(6).timestamp()}]
    assert snap["alertsOpen"] == []
    assert snap["evaluatorLastSuccess"] == at(7).timestamp()


def test_deliver_is_called_after_evaluating(p: Pipeline) -> None:
    seen: list[tuple[int, datetime]] = []
    evaluate(p, now=at(7, 0), deliver=lambda pipeline, now: seen.append((len(pipeline.alerts.active()), now)))
    assert seen == [(1, at(7, 0))]


def test_a_failing_deliver_does_not_undo_the_tick(p: Pipeline) -> None:
    def broken(pipeline: Pipeline, now: datetime) -> None:
        raise ConnectionError("smtp down")

    tick = evaluate(p, now=at(7, 0), deliver=broken)
    assert len(tick.opened) == 1
    assert tick.heartbeat_written


def _files(run: Run, statuses: list[str]) -> list[FileRecord]:
    return [FileRecord.model_validate({
        "fileId": f"{run.run_id}-{i}", "runId": run.run_id, "datasetName": run.dataset_name,
        "businessDate": run.business_date, "environment": "prod", "location": f"s3://bucket/x/{i}.csv",
        "status": status, "lastUpdated": run.created_at,
    }) for i, status in enumerate(statuses)]


def test_reconcile_repairs_a_quiet_run_whose_counter_update_was_lost(p: Pipeline) -> None:
    run = add_run(p, "processing", created=at(6, 0), updated=at(6, 30), resolvedFiles=3, processedFiles=2,
                  pendingFiles=1)
    p.files.put_batch(_files(run, ["preprocessed"] * 3))  # the last move's counter update never landed
    with time_machine.travel(at(7, 0), tick=False):  # reconcile stamps the run with the wall clock
        tick = evaluate(p, now=at(7, 0))
    assert tick.reconciled == ["run-1"]
    assert p.runs.get("run-1").status is RunStatus.SUCCESS
    assert tick.expectations["met"] == 1
    assert tick.opened == []


def test_reconcile_leaves_a_busy_run_alone_and_respects_the_budget(p: Pipeline) -> None:
    add_run(p, "processing", created=at(6, 0), updated=at(6, 58), run_id="busy")
    add_run(p, "processing", created=at(6, 0), updated=at(6, 0), run_id="quiet-a")
    add_run(p, "processing", created=at(6, 0), updated=at(6, 0), run_id="quiet-b")
    assert evaluate(p, now=at(7, 0), reconcile_budget=1).reconciled == ["quiet-a"]
    assert evaluate(p, now=at(7, 1), reconcile_budget=1).reconciled == ["quiet-b"]  # round robin
    assert evaluate(p, now=at(7, 2), reconcile_budget=0).reconciled == []


def test_a_reconcile_that_changes_nothing_leaves_the_runs_audit_trail_alone(p: Pipeline) -> None:
    run = add_run(p, "processing", created=at(6, 0), updated=at(6, 0), run_id="quiet", resolvedFiles=2,
                  pendingFiles=2)
    p.files.put_batch(_files(run, ["pending"] * 2))  # the counters are right: nothing to repair
    for minute in range(3):  # a tick every minute (bin/run: every 30 s)
        assert evaluate(p, now=at(7, minute)).reconciled == ["quiet"]
    assert p.audit.for_target("quiet").items == []  # an operator's actions are not buried under checks


def test_a_reconcile_that_repairs_a_run_is_audited(p: Pipeline) -> None:
    run = add_run(p, "processing", created=at(6, 0), updated=at(6, 0), run_id="drifted", resolvedFiles=2,
                  pendingFiles=2)
    p.files.put_batch(_files(run, ["pending", "fetched"]))  # a move whose counter update was lost
    evaluate(p, now=at(7, 0))
    [event] = p.audit.for_target("drifted").items
    assert (event.actor, event.action, event.detail["changed"]) == ("evaluator", "reconcile", True)


def test_a_tick_reads_the_same_whatever_the_number_of_runs_and_files(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    register(p, dataset("a"), dataset("b"))
    evaluate(p, now=at(5, 0), reconcile_budget=0)
    few = evaluate(p, now=at(5, 1), reconcile_budget=0)
    for i in range(30):
        run = add_run(p, "success", created=at(5, 10), updated=at(5, 20), run_id=f"r{i}", name="a" if i % 2 else "b")
        p.files.put_batch(_files(run, ["preprocessed"] * 20))
    many = evaluate(p, now=at(5, 30), reconcile_budget=0)
    assert many.requests == few.requests
    assert many.operations == few.operations
    assert many.operations["Query"] == 2 + 2 + 2  # registry + registrations, a Query per dataset, 2 states


@pytest.fixture(params=ENGINES)
def engine_p(request: pytest.FixtureRequest) -> Pipeline:
    return engine_pipeline(request)


def test_concurrent_evaluators_open_each_episode_exactly_once(engine_p: Pipeline) -> None:
    p = engine_p
    register(p, dataset("a"), dataset("b"), dataset("c"))
    add_run(p, "failed", created=at(6, 0), updated=at(6, 30), name="b", run_id="rb")
    add_run(p, "processing", created=at(6, 0), updated=at(6, 1), name="c", run_id="rc")
    # Every episode opens in the first round (8 evaluators racing; with the guard's conditions
    # removed that round alone opened 6 to 32 episodes on each engine); the later rounds are ticks
    # racing over episodes that already exist (they must neither open nor resolve anything).
    rounds, threads = 5, 8
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def evaluator() -> None:
        own = Pipeline(p.config, client=separate_client(p))
        try:
            for r in range(rounds):
                barrier.wait()
                evaluate(own, now=at(9, 30) + timedelta(seconds=r), reconcile_budget=0)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    with atomic_moto():
        workers = [threading.Thread(target=evaluator) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert errors == []
    assert active(p) == [("a", "2026-03-02", "missing"), ("b", "2026-03-02", "failed"),
                         ("c", "2026-03-02", "late"), ("c", "2026-03-02", "stuck")]
    assert len(episodes(p)) == 4
    assert sorted(n["kind"] for n in outbox(p)) == ["failed", "late", "missing", "stuck"]


def test_the_same_tick_twice_opens_once(engine_p: Pipeline) -> None:
    register(engine_p, dataset())
    evaluate(engine_p, now=at(7, 0))
    evaluate(engine_p, now=at(7, 0))
    assert active(engine_p) == [("prices", "2026-03-02", "missing")]
    assert len(outbox(engine_p)) == 1


def test_the_lambda_handler_evaluates_the_instant_of_the_event(p: Pipeline) -> None:
    lambda_handler.set_pipeline(p)
    try:
        summary = lambda_handler.alerts_lambda_handler(
            {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-03-02T07:00:00Z"}, None
        )
        assert summary["opened"] == 1
        assert summary["now"] == "2026-03-02T07:00:00.000000Z"
        with pytest.raises(ValidationFailed):
            lambda_handler.alerts_lambda_handler({"time": "yesterday"}, None)
    finally:
        lambda_handler.set_pipeline(None)


def test_the_cli_runs_one_tick_as_of_now(p: Pipeline, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"RUN_TABLE_NAME": p.config.run_table, "FILE_TABLE_NAME": p.config.file_table,
                        "DATASET_TABLE_NAME": p.config.dataset_table, "AUDIT_TABLE_NAME": p.config.audit_table,
                        "ALERT_TABLE_NAME": p.config.alert_table,
                        "NOTIFICATION_TABLE_NAME": p.config.notification_table}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DYNAMODB_ENDPOINT_URL", raising=False)
    from dataplatform.pipeline.clients import reset_clients

    reset_clients()
    try:
        assert main(["--once", "--now", "2026-03-02T07:00:00Z"]) == 0
    finally:
        reset_clients()
    assert '"opened": 1' in capsys.readouterr().out
    assert [a.state for a in p.alerts.active()] == [AlertState.OPEN]


def test_a_run_item_no_run_can_be_leaves_the_other_datasets_evaluated(
    p: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """Another tool wrote a run of `prices` with a status of its own: that run is left out (and
    said in the log) instead of failing every tick, so every other dataset is still watched."""
    register(p, dataset("rates"))
    p.client.put_item(TableName=p.config.run_table, Item={
        "runId": {"S": "foreign-1"}, "datasetName": {"S": "prices"}, "businessDate": {"S": DAY.isoformat()},
        "createdAt": {"S": "2026-03-02T05:00:00Z"}, "status": {"S": "running"}, "environment": {"S": "prod"},
    })
    with caplog.at_level("ERROR", logger="dataplatform.pipeline"):
        tick = evaluate(p, now=at(7, 0))
    assert sorted((a.dataset_name, a.kind.value) for a in tick.opened) == [("prices", "missing"), ("rates", "missing")]
    assert "Run 'foreign-1' is stored with values this monitor cannot read (status: " in caplog.text
    assert "Left out of this list." in caplog.text
