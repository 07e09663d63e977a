"""Services under concurrency on the real local engine (moto's conditional writes are not atomic).

Cancel vs worker reports vs retries on one run; afterwards every state is one its machine
allows, nothing moved after the cancel, stored counters equal the exact FileTable counts,
and no file was dispatched twice for one retry."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dispatch import FileMessage
from dataplatform.pipeline.errors import InvalidTransition
from dataplatform.pipeline.services import (
    Actor,
    RetryResult,
    file_report,
    protocol,
    run_cancel,
    run_reconcile,
    run_retry,
    run_trigger,
)
from dataplatform.pipeline.states import FileStatus, RunStatus

from .recording import RecordingDispatcher

OPS = Actor(name="ops")
WORKER = Actor(name="worker")


class QueueDispatcher(RecordingDispatcher):
    """Records every message and hands it to the worker threads, like SQS would."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: queue.Queue[FileMessage] = queue.Queue()

    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        super().dispatch(messages)
        for message in messages:
            self.queue.put(message)


def trigger(p: Pipeline, n: int) -> str:
    files = [f"s3://bucket-a/ds/part-{i:04d}.csv" for i in range(n)]
    request = {"datasetName": "ds", "businessDate": "2026-01-05", "files": files}
    return run_trigger(p, request=request, actor=OPS).run.run_id


def work(p: Pipeline, message: FileMessage, rng: random.Random) -> None:
    """What a preprocessor worker does with one message; a refusal ends that message."""
    steps = [FileStatus.FETCHED, FileStatus.VERIFIED]
    steps.append(FileStatus.FAILED if rng.random() < 0.4 else FileStatus.PREPROCESSED)
    for status in steps:
        try:
            file_report(p, file_id=message.file_id, status=status, error={"m": "x"} if status == "failed" else None,
                        actor=WORKER)
        except InvalidTransition:
            return


def test_cancel_vs_worker_reports_vs_retries_on_one_run(ddb_local_pipeline: Pipeline) -> None:
    p = ddb_local_pipeline
    dispatcher = QueueDispatcher()
    p.dispatcher = dispatcher
    n = 150
    run_id = trigger(p, n)
    stop_retrying = threading.Event()
    retries: list[RetryResult] = []
    retries_lock = threading.Lock()
    cancelled: list[dict[str, int]] = []
    workers_done = threading.Event()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            try:
                message = dispatcher.queue.get(timeout=0.05)
            except queue.Empty:
                if workers_done.is_set():
                    return
                continue
            work(p, message, rng)

    def retrier() -> None:
        while not stop_retrying.is_set():
            try:
                result = run_retry(p, run_id=run_id, actor=OPS)
            except InvalidTransition:
                return  # cancelled (or finished): refused from now on
            with retries_lock:
                retries.append(result)
            time.sleep(0.01)

    def canceller() -> None:
        # Cancel while retries and reports are in full flight.
        deadline = time.monotonic() + 20
        while len(dispatcher.messages) < n + 40 and time.monotonic() < deadline:
            time.sleep(0.005)
        cancelled.append(run_cancel(p, run_id=run_id, reason="race", actor=OPS).counts())

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    others = [threading.Thread(target=retrier) for _ in range(4)] + [threading.Thread(target=canceller)]
    for thread in workers + others:
        thread.start()
    for thread in others:
        thread.join(timeout=60)
    stop_retrying.set()
    # Messages still queued after the cancel must all be refused; let the workers try them.
    while not dispatcher.queue.empty():
        time.sleep(0.05)
    workers_done.set()
    for thread in workers:
        thread.join(timeout=60)

    run = p.runs.get(run_id, consistent=True)
    exact = p.files.count_by_status(run_id)
    assert run.status is RunStatus.CANCELLED
    assert sum(retry.retried for retry in retries) > 0, "the race never retried anything"
    # Nothing moved after the cancel: the files are exactly as the cancel saw the counters.
    assert cancelled == [exact]
    assert run.counts() == exact
    assert sum(exact.values()) == n == run.resolved_files
    # Every file loads (a state its machine knows) and none is stuck half-compensated.
    assert all(f.status in FileStatus for f in p.files.iter_run(run_id))
    # No file dispatched twice for one retry: (file, attempt) pairs never repeat...
    pairs = Counter((m.file_id, m.attempt) for m in dispatcher.messages)
    assert max(pairs.values()) == 1
    # ...and each retry moved a file at most once.
    for retry in retries:
        assert len(retry.file_ids) == len(set(retry.file_ids)) == retry.retried
    assert not run_reconcile(p, run_id=run_id, actor=OPS).changed


def test_concurrent_retries_of_one_failed_run_dispatch_each_file_exactly_once(ddb_local_pipeline: Pipeline) -> None:
    p = ddb_local_pipeline
    dispatcher = RecordingDispatcher()
    p.dispatcher = dispatcher
    n = 120
    run_id = trigger(p, n)
    for i, message in enumerate(dispatcher.take()):
        file_report(p, file_id=message.file_id, status="fetched", actor=WORKER)
        final = "failed" if i % 3 else "preprocessed"
        if final == "preprocessed":
            file_report(p, file_id=message.file_id, status="verified", actor=WORKER)
        file_report(p, file_id=message.file_id, status=final, actor=WORKER)
    failed = p.files.count_by_status(run_id)["failed"]
    assert p.runs.get(run_id, consistent=True).status is RunStatus.FAILED
    barrier = threading.Barrier(8)
    results: list[RetryResult] = []
    lock = threading.Lock()

    def retry() -> None:
        barrier.wait()
        result = run_retry(p, run_id=run_id, actor=OPS)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    moved = [file_id for r in results for file_id in r.file_ids]
    assert len(results) == 8
    assert len(moved) == len(set(moved)) == failed
    assert sorted(m.file_id for m in dispatcher.messages) == sorted(moved)
    run = p.runs.get(run_id, consistent=True)
    assert run.status is RunStatus.PROCESSING
    assert run.counts() == p.files.count_by_status(run_id)
    assert run.pending_files == failed
    assert run.failed_files == 0


class Gate:
    """Holds named threads at the run commit (`runs.update`) until each is let through."""

    def __init__(self, p: Pipeline, *names: str) -> None:
        self.open = {name: threading.Event() for name in names}
        self.arrived = {name: threading.Event() for name in names}
        original = p.runs.update

        def update(*args: object, **kwargs: object) -> object:
            name = threading.current_thread().name
            if name in self.open:
                self.arrived[name].set()
                assert self.open[name].wait(30), f"{name} was never let through"
            return original(*args, **kwargs)

        p.runs.update = update  # type: ignore[method-assign]

    def wait_for(self, name: str) -> None:
        assert self.arrived[name].wait(30), f"{name} never reached its run commit"


def run_in_thread(name: str, call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread, errors


def held_failed_report(p: Pipeline, *gated: str) -> tuple[str, str, Gate, threading.Thread, list[BaseException]]:
    """A 3-file run whose first file is verified; a worker thread ("worker") then reports it
    failed and is held at its run commit (the file moved, the counters not yet). Threads named
    in `gated` are held at their run commit too. Returns (run id, file id, gate, worker, errors)."""
    p.dispatcher = RecordingDispatcher()
    run_id = trigger(p, 3)
    file_id = p.dispatcher.take()[0].file_id
    for status in ("fetched", "verified"):
        file_report(p, file_id=file_id, status=status, actor=WORKER)
    gate = Gate(p, "worker", *gated)
    worker, errors = run_in_thread(
        "worker", lambda: file_report(p, file_id=file_id, status="failed", error={"m": "x"}, actor=WORKER))
    gate.wait_for("worker")
    return run_id, file_id, gate, worker, errors


def test_a_refused_report_is_undone_even_when_a_retry_took_its_file_before_the_cancel(
    ddb_local_pipeline: Pipeline,
) -> None:
    """A worker reports a verified file failed (moved, not yet committed); a retry lists that file
    as failed and moves it to pending (not yet committed); the run is cancelled; the worker's
    commit is refused, but its undo finds the file where the retry put it. The retry's commit is
    refused too and puts the file back where the worker put it, a while later: the worker's undo
    must still happen then, or the file stays failed while the counters say verified."""
    p = ddb_local_pipeline
    run_id, file_id, gate, worker, worker_errors = held_failed_report(p, "retry")
    retry, retry_errors = run_in_thread("retry", lambda: run_retry(p, run_id=run_id, actor=OPS))
    gate.wait_for("retry")
    counts = run_cancel(p, run_id=run_id, reason="race", actor=OPS).counts()
    gate.open["worker"].set()
    time.sleep(1.0)  # the worker's undo keeps finding the file where the retry put it
    gate.open["retry"].set()
    worker.join(30)
    retry.join(30)

    assert [type(e) for e in worker_errors] == [InvalidTransition]
    assert [type(e) for e in retry_errors] == [InvalidTransition]
    record = p.files.get(file_id, consistent=True)
    assert record.status is FileStatus.VERIFIED
    assert record.error is None
    assert record.attempts == 0
    assert counts == p.files.count_by_status(run_id) == p.runs.get(run_id, consistent=True).counts()


def test_an_undo_that_cannot_happen_is_logged_and_reconcile_repairs_the_counts(
    ddb_local_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The same race, but the retry commits before the cancel: the file has moved on for good
    (pending, its retry dispatched) from a report whose commit the cancel then refuses. The undo
    gives up after COMPENSATION_PATIENCE and says so; the counters, one report short, are
    repaired by a reconcile (which the evaluator also runs on its own)."""
    monkeypatch.setattr(protocol, "COMPENSATION_PATIENCE", 0.3)
    p = ddb_local_pipeline
    run_id, file_id, gate, worker, worker_errors = held_failed_report(p)
    assert run_retry(p, run_id=run_id, actor=OPS).file_ids == [file_id]
    run_cancel(p, run_id=run_id, reason="race", actor=OPS)
    with caplog.at_level(logging.ERROR, logger="dataplatform.pipeline"):
        gate.open["worker"].set()
        worker.join(30)

    assert [type(e) for e in worker_errors] == [InvalidTransition]
    assert f"could not undo move of file {file_id}" in caplog.text
    assert p.files.get(file_id, consistent=True).status is FileStatus.PENDING
    exact = p.files.count_by_status(run_id)
    assert p.runs.get(run_id, consistent=True).counts() != exact
    result = run_reconcile(p, run_id=run_id, actor=OPS)
    assert result.changed
    assert result.run.counts() == exact
    assert result.run.status is RunStatus.CANCELLED
