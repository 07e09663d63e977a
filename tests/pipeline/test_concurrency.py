"""Concurrency on the real local engine (moto's conditional writes are not atomic)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.errors import InvalidTransition
from dataplatform.pipeline.states import RunStatus

from .test_repository_contract import make_run


def test_32_threads_racing_one_transition_have_exactly_one_winner_each_round(
    ddb_local_pipeline: Pipeline,
) -> None:
    rounds, threads = 50, 32
    for i in range(rounds):
        ddb_local_pipeline.runs.create(make_run(f"race-{i}"))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for i in range(rounds):
            barrier = threading.Barrier(threads)

            def attempt(run_id: str = f"race-{i}", gate: threading.Barrier = barrier) -> bool:
                gate.wait()
                try:
                    ddb_local_pipeline.runs.transition(run_id, RunStatus.DISPATCHED)
                    return True
                except InvalidTransition as exc:
                    return exc.current != "dispatched"  # a loser must see the winner's state

            results = list(pool.map(lambda _: attempt(), range(threads)))
            assert results.count(True) == 1, f"round {i}: {results.count(True)} winners"
            assert ddb_local_pipeline.runs.get(f"race-{i}", consistent=True).status is RunStatus.DISPATCHED


def test_16_threads_times_50_counter_increments_lose_nothing(ddb_local_pipeline: Pipeline) -> None:
    ddb_local_pipeline.runs.create(make_run("counter"))
    barrier = threading.Barrier(16)

    def hammer(_: int) -> None:
        barrier.wait()
        for _ in range(50):
            ddb_local_pipeline.runs.update("counter", Update(add_values={"processedFiles": 1, "failedFiles": 2}))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(hammer, range(16)))
    run = ddb_local_pipeline.runs.get("counter", consistent=True)
    assert run.processed_files == 16 * 50
    assert run.failed_files == 2 * 16 * 50
