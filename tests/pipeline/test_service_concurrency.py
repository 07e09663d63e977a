"""Services under concurrency on the real local engine (moto's conditional writes are not atomic).

Cancel vs worker reports vs retries on one run; afterwards every state is one its machine
allows, nothing moved after the cancel, stored counters equal the exact FileTable counts,
and no file was dispatched twice for one retry."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dispatch import FileMessage
from dataplatform.pipeline.errors import InvalidTransition
from dataplatform.pipeline.services import (
    Actor,
    RetryResult,
    file_report,
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
