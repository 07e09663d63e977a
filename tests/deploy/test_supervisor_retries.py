"""`bin/run`'s supervisor starts an idempotent task again when it fails, up to its retries."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from dataplatform.run_local import ROOT, Process, Supervisor, processes

# Fails until it has run `n` times (a marker file counts the runs), then succeeds.
FLAKY = "import pathlib,sys; p=pathlib.Path(sys.argv[1]); n=len(p.read_text()) if p.exists() else 0; " \
        "p.write_text('x'*(n+1)); sys.exit(0 if n+1 >= int(sys.argv[2]) else 3)"


def _watch(supervisor: Supervisor, plan: list[Process], done: str | None) -> int:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.watch(list(plan))))
    thread.start()
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        if done is not None and done in supervisor.finished:
            supervisor.stop_requested = True
        time.sleep(0.05)
    supervisor.stop_requested = True
    thread.join(timeout=5)
    supervisor.stop_all()
    return result[0]


def test_a_failed_once_task_is_started_again_within_its_retries(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    plan = [Process("demo", [sys.executable, "-c", FLAKY, str(marker), "3"], once=True, retries=2)]
    supervisor = Supervisor(dict(os.environ), plan)
    assert _watch(supervisor, plan, done="demo") == 0
    assert "demo" in supervisor.finished
    assert len(marker.read_text()) == 3


def test_a_task_failing_past_its_retries_stops_everything(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    plan = [Process("demo", [sys.executable, "-c", FLAKY, str(marker), "5"], once=True, retries=1)]
    supervisor = Supervisor(dict(os.environ), plan)
    assert _watch(supervisor, plan, done=None) == 1
    assert len(marker.read_text()) == 2


def test_a_process_gets_its_own_variables(tmp_path: Path) -> None:
    out = tmp_path / "value"
    script = "import os,pathlib,sys; pathlib.Path(sys.argv[1]).write_text(os.environ['ONLY_HERE'])"
    plan = [Process("p", [sys.executable, "-c", script, str(out)], once=True, env=(("ONLY_HERE", "yes"),))]
    supervisor = Supervisor(dict(os.environ), plan)
    assert _watch(supervisor, plan, done="p") == 0
    assert out.read_text() == "yes"


def test_the_evaluator_runs_every_30_seconds_beside_the_simulator_once_the_demo_data_is_in() -> None:
    plan = {p.name: p for p in processes(dev=False)}
    evaluator, simulator = plan["evaluator"], plan["simulator"]
    assert evaluator.argv[-4:] == [str(ROOT / "manage.py"), "evaluate_alerts", "--every", "30"]
    assert simulator.argv[-1] == "simulate"
    assert evaluator.after == simulator.after == "demo data"
    assert not evaluator.once  # long-running: if it ends, bin/run stops everything


def test_the_web_process_is_gunicorn_in_both_modes_and_reloads_code_only_with_dev() -> None:
    served, dev = processes(dev=False)[0], processes(dev=True)[0]
    for web in (served, dev):
        assert web.name == "web"
        assert web.argv[1:3] == ["-m", "gunicorn"]
        assert web.argv[-1] == "dataplatform.wsgi"
        assert "runserver" not in web.argv
    assert "--reload" in dev.argv
    assert "--reload" not in served.argv
