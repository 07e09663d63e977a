"""TaskPool: independent reads at once, results in order, failures raised, calls counted."""

from __future__ import annotations

import os
import threading
import time

import pytest

from dataplatform.pipeline import metrics
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.concurrency import TaskPool
from dataplatform.pipeline.states import FileStatus

from .test_repository_contract import make_files, make_run


def test_results_keep_the_order_of_the_items_and_calls_run_at_once() -> None:
    pool = TaskPool(4)
    # All four calls must be inside at the same time to pass the barrier (one after another,
    # the first would wait for the others and break it).
    gate = threading.Barrier(4, timeout=10)

    def work(n: int) -> int:
        gate.wait()
        time.sleep(0.01 * (4 - n))  # finish in reverse order
        return n * n

    assert pool.map(work, [0, 1, 2, 3]) == [0, 1, 4, 9]
    pool.close()


def test_the_first_failure_is_raised_after_every_call_ended() -> None:
    pool = TaskPool(4)
    ended: list[int] = []

    def work(n: int) -> int:
        time.sleep(0.02 * n)
        ended.append(n)
        if n in (1, 2):
            raise ValueError(f"boom {n}")
        return n

    with pytest.raises(ValueError, match="boom 1"):
        pool.map(work, [0, 1, 2, 3])
    assert sorted(ended) == [0, 1, 2, 3]
    pool.close()


def test_one_worker_or_one_item_runs_in_the_calling_thread() -> None:
    caller = threading.get_ident()
    assert TaskPool(1).map(lambda _: threading.get_ident(), [1, 2]) == [caller, caller]
    assert TaskPool(8).map(lambda _: threading.get_ident(), [1]) == [caller]


def test_a_map_inside_a_task_runs_in_that_task_instead_of_waiting_for_busy_workers() -> None:
    pool = TaskPool(2)

    def outer(n: int) -> list[int]:
        # Both workers are busy with outer tasks: a nested map on the pool would wait forever.
        return pool.map(lambda m: n * 10 + m, [1, 2, 3])

    assert pool.map(outer, [1, 2, 3, 4]) == [[11, 12, 13], [21, 22, 23], [31, 32, 33], [41, 42, 43]]
    pool.close()


def test_a_pool_made_before_a_fork_is_replaced_in_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = TaskPool(2)
    pool.map(lambda n: n, [1, 2])
    first = pool._pool
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a forked worker
    pool.map(lambda n: n, [1, 2])
    assert pool._pool is not first
    pool.close()


def test_counts_by_status_are_made_at_once_and_all_counted(ddb_local_pipeline: Pipeline) -> None:
    p = ddb_local_pipeline
    p.runs.create(make_run("counted"))
    files = make_files("counted", 30)
    p.files.put_batch([f.model_copy(update={"status": FileStatus.FAILED}) if i % 3 else f for i, f in enumerate(files)])
    with metrics.scope() as stats:
        counts = p.files.count_by_status("counted")
    assert counts["failed"] == 20
    assert counts["pending"] == 10
    assert sum(counts.values()) == 30
    # Every status Query ran in a pool thread yet was counted for this request.
    assert stats.operations == {"Query": len(FileStatus)}
