"""The embedded DynamoDB-compatible engine: dynalite from the npm registry, on loopback.

Usable without Django: `python -m dataplatform.pipeline.engine start|stop|status`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DYNALITE_BIN = PROJECT_ROOT / "node_modules" / "dynalite" / "cli.js"
DYNALITE_INDEX = PROJECT_ROOT / "node_modules" / "dynalite" / "db" / "index.js"
NODE_HINT = (
    "Node.js 20 or newer is required for the embedded DynamoDB engine (dynalite). "
    "Install it (Debian/Ubuntu: `apt-get install nodejs npm`; elsewhere: https://nodejs.org), "
    "then run `npm ci` in the project folder."
)


class EngineError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint_answers(url: str, timeout: float = 1.0) -> bool:
    """True when a DynamoDB-compatible server answers at `url`."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL built by us
        url,
        data=b"{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True  # it answered (e.g. missing signature): the server is up
    except (OSError, ValueError):
        return False


class LocalDynalite:
    """Starts and stops one dynalite process on 127.0.0.1; data persisted under `path`."""

    def __init__(self, *, port: int | None = None, path: Path | None = None, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.path = path
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise EngineError(NODE_HINT)
        if not DYNALITE_BIN.exists():
            raise EngineError(f"dynalite is not installed in {PROJECT_ROOT / 'node_modules'}. {NODE_HINT}")
        if "run-monitor patch" not in DYNALITE_INDEX.read_text(encoding="utf-8"):
            # Without scripts/patch-dynalite.cjs, index entries of large runs silently collide.
            raise EngineError("dynalite's index-key patch is missing: run `npm ci` in the project folder.")
        cmd = [node, str(DYNALITE_BIN), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            cmd += ["--path", str(self.path)]
        return cmd

    def start(self, timeout: float = 20.0) -> LocalDynalite:
        if endpoint_answers(self.endpoint_url, timeout=0.5):
            raise EngineError(f"port {self.port} is already in use")
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"dynalite exited with code {self.process.returncode}")
            if endpoint_answers(self.endpoint_url, timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise EngineError(f"dynalite did not answer on {self.endpoint_url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> LocalDynalite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pidfile(var: Path) -> Path:
    return var / "dynalite.pid"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the embedded dynalite engine in the background.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_DYNAMODB_PORT", "8765")))
    parser.add_argument("--var", type=Path, default=PROJECT_ROOT / "var")
    args = parser.parse_args(argv)
    engine = LocalDynalite(port=args.port, path=args.var / "dynalite", log=args.var / "dynalite.log")
    pidfile = _pidfile(args.var)
    if args.action == "status":
        up = endpoint_answers(engine.endpoint_url)
        print(f"dynalite {'answers' if up else 'does not answer'} on {engine.endpoint_url}")
        return 0 if up else 1
    if args.action == "start":
        if endpoint_answers(engine.endpoint_url):
            print(f"dynalite already answers on {engine.endpoint_url}")
            return 0
        args.var.mkdir(parents=True, exist_ok=True)
        try:
            engine.start()
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if engine.process is not None:
            pidfile.write_text(str(engine.process.pid))
        print(f"dynalite started on {engine.endpoint_url} (data in {args.var / 'dynalite'})")
        return 0
    if pidfile.exists():
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
            print(f"dynalite (pid {pid}) stopped")
        except ProcessLookupError:
            print("dynalite was not running")
        pidfile.unlink()
    else:
        print("no dynalite started by this project is running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
