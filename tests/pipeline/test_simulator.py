"""The simulator drives runs through the real services on the real local engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dispatch import LocalDispatcher
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.pipeline.simulator import Simulator, SimulatorOptions
from dataplatform.pipeline.states import FILE_TERMINAL, FileStatus, RunStatus
from dataplatform.pipeline.timeutil import utc_now
from dataplatform.web import wiring

from ..conftest import unique_config
from .test_datasets import make_config

FAST = (0.0, 0.01)


@pytest.fixture
def sim_pipeline(ddb_local_server: DynamoDBLocal) -> Pipeline:
    """Fresh tables and a private local queue (not the process-wide one)."""
    p = Pipeline(unique_config(endpoint_url=ddb_local_server.endpoint_url), dispatcher=LocalDispatcher())
    p.sync_tables()
    # Every day of the week: these tests are about the mechanics, whatever day they run on
    # (days a schedule expects no run: test_days_the_schedule_expects_no_run_are_not_triggered).
    every_day = {"weekdays": [0, 1, 2, 3, 4, 5, 6], "dueBy": "22:00"}
    p.datasets.put(make_config("equities-eod", parts=6, schedule=every_day))
    p.datasets.put(
        make_config("fx-rates", locations=["https://rates.example.com/{yyyymmdd}/{part}.csv"], parts=4,
                    schedule=every_day)
    )
    return p


def assert_consistent(p: Pipeline, run_id: str) -> None:
    run = p.runs.get(run_id, consistent=True)
    assert run.counts() == p.files.count_by_status(run_id)


def test_once_triggers_each_dataset_and_finishes_every_file(sim_pipeline: Pipeline) -> None:
    p = sim_pipeline
    options = SimulatorOptions(once=True, step_delay=FAST, failure_rate=0.3, seed=11, max_seconds=60, workers=3)
    stats = Simulator(p, options).run()
    assert len(stats.triggered) == 2
    files = 0
    for run_id in stats.triggered:
        run = p.runs.get(run_id, consistent=True)
        assert run.status in (RunStatus.SUCCESS, RunStatus.FAILED)
        assert run.business_date == utc_now().date()
        records = list(p.files.iter_run(run_id))
        files += len(records)
        assert all(r.status in FILE_TERMINAL for r in records)
        for record in records:
            if record.status is FileStatus.FAILED:
                assert record.error is not None
                assert record.error["code"]
            else:
                assert record.file_size is not None
                assert record.checksum is not None
        assert_consistent(p, run_id)
    assert files == 10
    assert stats.reports >= files  # at least one report per file
    assert stats.errors == 0


def test_failure_rate_one_fails_every_file_with_a_realistic_error(sim_pipeline: Pipeline) -> None:
    options = SimulatorOptions(once=True, step_delay=FAST, failure_rate=1.0, max_seconds=60)
    stats = Simulator(sim_pipeline, options).run()
    assert stats.failed_files == 10
    for run_id in stats.triggered:
        run = sim_pipeline.runs.get(run_id, consistent=True)
        assert run.status is RunStatus.FAILED
        assert run.error == {
            "message": f"{run.resolved_files} of {run.resolved_files} files failed", "failedFiles": run.resolved_files
        }
        for record in sim_pipeline.files.iter_run(run_id):
            assert record.error is not None
            assert record.error["stage"] in {"fetch", "verify", "preprocess"}


def test_failure_rate_zero_gives_only_successful_runs(sim_pipeline: Pipeline) -> None:
    options = SimulatorOptions(once=True, step_delay=FAST, failure_rate=0.0, max_seconds=60)
    stats = Simulator(sim_pipeline, options).run()
    assert {sim_pipeline.runs.get(r).status for r in stats.triggered} == {RunStatus.SUCCESS}
    assert stats.reports == 3 * 10  # fetched, verified, preprocessed for each of the 10 files


def test_sweep_advances_runs_dispatched_elsewhere(sim_pipeline: Pipeline) -> None:
    """Files of a run triggered by another process (nothing in our local queue) still move."""
    from dataplatform.pipeline.services import Actor, run_trigger

    p = sim_pipeline
    elsewhere = Pipeline(p.config, client=p.client, dispatcher=LocalDispatcher())
    run = run_trigger(
        elsewhere, request={"datasetName": "fx-rates", "businessDate": "2024-03-04"}, actor=Actor(name="web")
    ).run
    options = SimulatorOptions(
        datasets=(), step_delay=FAST, failure_rate=0.0, sweep_every=0.1, interval=60, max_seconds=30
    )
    simulator = Simulator(p, options)
    thread = threading.Thread(target=simulator.run)
    thread.start()
    deadline = time.monotonic() + 30
    while p.runs.get(run.run_id).status is not RunStatus.SUCCESS and time.monotonic() < deadline:
        time.sleep(0.1)
    simulator.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert p.runs.get(run.run_id).status is RunStatus.SUCCESS
    assert_consistent(p, run.run_id)


def test_max_seconds_bounds_the_command(sim_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring._pipelines, "_pipeline", sim_pipeline)
    out = StringIO()
    started = time.monotonic()
    call_command(
        "simulate", "--max-seconds", "4", "--interval", "0.3", "--step-delay", "0", "0.02", "--failure-rate", "0.2",
        "--dataset", "equities-eod", "--dataset", "fx-rates",
        stdout=out,
    )
    assert time.monotonic() - started < 20
    assert "simulator finished" in out.getvalue()
    runs = [r for name in ("equities-eod", "fx-rates") for r in sim_pipeline.runs.by_dataset(name).items]
    assert len(runs) >= 2
    moved = [f for r in runs for f in sim_pipeline.files.iter_run(r.run_id) if f.status is not FileStatus.PENDING]
    assert moved
    for r in runs:
        assert_consistent(sim_pipeline, r.run_id)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_command_stops_cleanly_on_a_signal(sim_pipeline: Pipeline, signum: int) -> None:
    config = sim_pipeline.config
    env = dict(
        os.environ,
        DYNAMODB_ENDPOINT_URL=str(config.endpoint_url),
        RUN_TABLE_NAME=config.run_table,
        FILE_TABLE_NAME=config.file_table,
        DATASET_TABLE_NAME=config.dataset_table,
        AUDIT_TABLE_NAME=config.audit_table,
        CURSOR_SECRET=config.cursor_secret,
        DISPATCHER="local",
    )
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, str(manage), "simulate", "--interval", "0.2", "--step-delay", "0.05", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "triggered" in line or not line:
            break
    assert any("triggered" in line for line in lines), "".join(lines)
    process.send_signal(signum)
    try:
        rest, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert f"received {signal.Signals(signum).name}" in output
    assert "simulator finished" in output


def test_a_stop_request_from_a_signal_handler_takes_no_lock(sim_pipeline: Pipeline) -> None:
    """A signal handler runs in the main thread between two bytecodes, possibly while that
    thread holds the stop event's lock inside `wait`: the request must not need that lock."""
    lines: list[str] = []
    simulator = Simulator(sim_pipeline, SimulatorOptions(step_delay=FAST, workers=1, max_seconds=30), log=lines.append)
    done = threading.Event()

    def request_while_the_lock_is_held() -> None:
        with simulator._stop._cond:  # what an interrupted Event.wait holds
            simulator.request_stop("received SIGINT")
        done.set()

    helper = threading.Thread(target=request_while_the_lock_is_held, daemon=True)
    helper.start()
    assert done.wait(5), "request_stop blocked on the stop event's lock"
    started = time.monotonic()
    simulator.run()
    assert time.monotonic() - started < 20  # stopped on the request, not after max_seconds
    assert "received SIGINT; stopping the simulator" in lines


def test_days_the_schedule_expects_no_run_are_not_triggered(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    p.datasets.put(make_config("weekday-prices"))  # Monday to Friday
    lines: list[str] = []
    saturday = Simulator(p, SimulatorOptions(datasets=["weekday-prices"]), today=lambda: date(2026, 11, 28),
                         log=lines.append)
    assert saturday._trigger("weekday-prices", force=False) is None
    assert saturday._trigger("weekday-prices", force=False) is None
    assert p.runs.by_dataset("weekday-prices").items == []
    assert [line for line in lines if "expects none" in line] == [
        "no run of weekday-prices for 2026-11-28: weekend (its schedule expects none)"
    ]  # logged once per dataset and day
    assert saturday.stats.skipped_triggers == 2
    monday = Simulator(p, SimulatorOptions(datasets=["weekday-prices"]), today=lambda: date(2026, 11, 30))
    assert monday._trigger("weekday-prices", force=False) is not None
