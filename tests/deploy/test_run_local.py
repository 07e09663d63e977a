"""`bin/run`'s supervisor: DynamoDB Local + gunicorn serving the app, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dataplatform.pipeline.engine import endpoint_answers, free_port

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(url: str) -> tuple[int, dict[str, str], str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, dict(response.headers), response.read().decode()


def test_supervisor_serves_through_gunicorn_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    web_port, engine_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DYNAMODB_", "DATABASE_URL"))}
    env.update(RUN_LOCAL_VAR=str(tmp_path / "var"), RUN_LOCAL_ADDR=f"127.0.0.1:{web_port}",
               LOCAL_DYNAMODB_PORT=str(engine_port), PYTHONUNBUFFERED="1")
    log = open(tmp_path / "run_local.log", "w+")  # noqa: SIM115 - closed below
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "dataplatform.run_local"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 180
        while "is serving on" not in (tmp_path / "run_local.log").read_text():
            assert supervisor.poll() is None, (tmp_path / "run_local.log").read_text()
            assert time.monotonic() < deadline, "not serving within 180 s"
            time.sleep(0.2)
        base = f"http://127.0.0.1:{web_port}"
        status, headers, body = _get(f"{base}/accounts/login/")
        assert status == 200
        assert headers["Server"] == "gunicorn"
        assert 'name="password"' in body
        assert _get(f"{base}/health/ready")[0] == 200
        output = (tmp_path / "run_local.log").read_text()
        assert "username=operator password=" in output
        assert "through gunicorn" in output
        secret = tmp_path / "var" / "secret_key"
        assert secret.stat().st_mode & 0o777 == 0o600
        processes = _descendants(supervisor.pid)
        assert endpoint_answers(f"http://127.0.0.1:{engine_port}")

        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=60) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        log.close()
    assert not [pid for pid in processes if _alive(pid)]
    assert not endpoint_answers(f"http://127.0.0.1:{engine_port}")
    assert "Run Monitor stopped." in (tmp_path / "run_local.log").read_text()
