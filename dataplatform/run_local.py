"""The embedded default: local dynalite, tables, demo data, simulator, demo users, dev server.

`python -m dataplatform.run_local` (what `bin/run` calls). Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dataplatform.pipeline.engine import DynamoDBLocal, EngineError, endpoint_answers

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)  # noqa: S603


def main() -> int:
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("LOG_FORMAT", "plain")  # a person reads this terminal; production keeps JSON
    env.setdefault("AWS_ACCESS_KEY_ID", "local")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    host_port = env.get("RUN_LOCAL_ADDR", "127.0.0.1:8000")
    engine: DynamoDBLocal | None = None
    if not env.get("DYNAMODB_ENDPOINT_URL"):
        port = int(env.get("LOCAL_DYNAMODB_PORT", "8765"))
        engine = DynamoDBLocal(port=port, path=VAR / "dynalite", log=VAR / "dynalite.log")
        if endpoint_answers(engine.endpoint_url):
            print(f"Using the DynamoDB-compatible server already answering on {engine.endpoint_url}")
            engine = None
        else:
            try:
                engine.start()
            except EngineError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"dynalite started on {engine.endpoint_url} (data in {VAR / 'dynalite'})")
        env["DYNAMODB_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    children: list[subprocess.Popen[bytes]] = []
    try:
        manage("migrate", "--noinput", "-v", "0", env=env)
        manage("sync_tables", env=env)
        manage("load_demo", env=env)
        manage("ensure_demo_user", env=env)
        children.append(subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "simulate"], env=env, cwd=ROOT))  # noqa: S603
        children.append(
            subprocess.Popen(  # noqa: S603
                [sys.executable, str(ROOT / "manage.py"), "runserver", host_port, "--noreload"], env=env, cwd=ROOT
            )
        )
        print(f"\nRun Monitor is serving on http://{host_port}/  (Ctrl-C stops everything)\n", flush=True)
        stop = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd[1:]))} failed with code {exc.returncode}", file=sys.stderr)
        return 1
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if engine is not None:
            engine.stop()


if __name__ == "__main__":
    sys.exit(main())
