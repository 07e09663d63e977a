"""Registration only creates what is absent (issue 12, item 1): a repeated trigger, whenever it
arrives, never reverts a file a worker moved nor desyncs the run's counters; a key repeated with
another file list is a 409. On DynamoDB Local, with real threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dataplatform.pipeline import selectors
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import IdempotencyConflict, InvalidTransition
from dataplatform.pipeline.services import Actor, file_report, run_trigger
from dataplatform.pipeline.services import trigger as trigger_module
from dataplatform.pipeline.states import RunStatus

pytestmark = pytest.mark.ddb_local

ACTOR = Actor("tester", request_id="req-1")


def _request(key: str, files: int, *, prefix: str = "f") -> dict[str, Any]:
    return {
        "datasetName": "sales",
        "businessDate": "2024-03-04",
        "files": [f"s3://bucket/sales/2024-03-04/{prefix}{i:05d}.csv" for i in range(files)],
        "idempotencyKey": key,
    }


def _assert_consistent(p: Pipeline, run_id: str) -> dict[str, int]:
    run = p.runs.get(run_id, consistent=True)
    exact = p.files.count_by_status(run_id)
    assert run.counts() == exact, (run.counts(), exact)
    assert sum(exact.values()) == run.resolved_files
    return exact


def test_a_repeat_that_saw_the_run_pending_never_overwrites_moved_files(
    ddb_local_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = ddb_local_pipeline
    run = run_trigger(p, request=_request("k-stale", 30), actor=ACTOR).run
    moved = list(p.files.iter_run(run.run_id))[-10:]
    for record in moved:
        file_report(p, file_id=record.file_id, status="fetched", actor=ACTOR)
    # The repeat read the run a moment before the first copy dispatched it (as in the race).
    stale = run.model_copy(update={"status": RunStatus.PENDING})
    monkeypatch.setattr(p.runs, "get", lambda _run_id, consistent=False: stale)

    again = run_trigger(p, request=_request("k-stale", 30), actor=ACTOR)

    monkeypatch.undo()
    assert again.created is False
    for record in moved:
        assert p.files.get(record.file_id, consistent=True).status == "fetched"
    assert _assert_consistent(p, run.run_id)["fetched"] == 10


def test_a_key_repeated_with_another_file_list_is_a_conflict_and_changes_nothing(
    ddb_local_pipeline: Pipeline,
) -> None:
    p = ddb_local_pipeline
    run = run_trigger(p, request=_request("k-files", 3), actor=ACTOR).run
    with pytest.raises(IdempotencyConflict) as refused:
        run_trigger(p, request=_request("k-files", 4), actor=ACTOR)
    assert refused.value.http_status == 409
    assert "different file list" in refused.value.message
    assert p.files.count_by_status(run.run_id)["pending"] == 3
    # The same list in another order is the same trigger.
    same = _request("k-files", 3)
    same["files"].reverse()
    assert run_trigger(p, request=same, actor=ACTOR).run.run_id == run.run_id


def test_a_key_first_sent_without_files_conflicts_with_a_repeat_that_lists_files(
    ddb_local_pipeline: Pipeline,
) -> None:
    from dataplatform.pipeline.datasets import DatasetConfig

    p = ddb_local_pipeline
    p.datasets.put(DatasetConfig.model_validate(
        {"datasetName": "sales", "locations": ["s3://bucket/{dataset}/{businessDate}/p{part}.csv"], "parts": 2}
    ))
    registry = {"datasetName": "sales", "businessDate": "2024-03-04", "idempotencyKey": "k-reg"}
    first = run_trigger(p, request=registry, actor=ACTOR).run
    assert run_trigger(p, request=registry, actor=ACTOR).run.run_id == first.run_id
    with pytest.raises(IdempotencyConflict):
        run_trigger(p, request=_request("k-reg", 2), actor=ACTOR)


def test_repeated_triggers_racing_worker_reports_never_revert_a_file(ddb_local_pipeline: Pipeline) -> None:
    """Rounds of one trigger, three repeats started with it, and a worker reporting `fetched` for
    the last files as soon as the run is dispatched. Every report sticks; counters match. With the
    repeats' registration writing unconditionally, 11 rounds in 12 reverted reported files (at a
    load average of 6-7), so three rounds catch that with near certainty."""
    p = ddb_local_pipeline
    files, reported = 150, 40
    for round_no in range(3):
        key = f"k-race-{round_no}"
        request = _request(key, files, prefix=f"r{round_no}-")
        run_id = trigger_module.make_run_id("sales", "2024-03-04", key)
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def trigger(
            request: dict[str, Any] = request, start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                start.wait()
                run_trigger(p, request=request, actor=ACTOR)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=trigger) for _ in range(4)]
        for thread in threads:
            thread.start()
        # The worker: waits (polling the store, no sleep) until the run is dispatched.
        while True:
            try:
                if p.runs.get(run_id, consistent=True).status is not RunStatus.PENDING:
                    break
            except Exception:  # noqa: S112 - not created yet
                continue
        targets = [r.file_id for r in p.files.iter_run(run_id)][-reported:]
        for file_id in targets:
            try:
                file_report(p, file_id=file_id, status="fetched", actor=ACTOR)
            except InvalidTransition:  # pragma: no cover - would mean the file was not pending
                raise
        for thread in threads:
            thread.join()
        assert not errors, errors
        for file_id in targets:
            assert p.files.get(file_id, consistent=True).status == "fetched", (round_no, file_id)
        exact = _assert_consistent(p, run_id)
        assert exact["fetched"] == reported
        assert exact["pending"] == files - reported
        assert selectors.run_get(p, run_id=run_id).resolved_files == files
        # Exactly one copy dispatched the run's files, once each.
        sent = [m for m in p.dispatcher.drain() if m.run_id == run_id]  # type: ignore[attr-defined]
        assert sorted(m.file_id for m in sent) == sorted(r.file_id for r in p.files.iter_run(run_id))
