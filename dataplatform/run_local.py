"""The embedded default: DynamoDB Local, tables, demo accounts and data, the simulator, and the
web app served by gunicorn (as in production; `--dev`: gunicorn's code reloader and DEBUG on).

`python -m dataplatform.run_local [--dev]` (what `bin/run` calls). Ctrl-C stops everything it
started, the engine included. Data, the auth database, static files and the local secret key
live under `var/` (or RUN_LOCAL_VAR)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dataplatform.pipeline.engine import DynamoDBLocal, EngineError, die_with_parent, endpoint_answers

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Process:
    """One supervised process. `once`: a task expected to end with code 0 (a long-running
    process that ends stops everything). `after`: the name of a task that must finish first.
    `retries`: how often a failed `once` task is started again (it must be idempotent).
    `env`: variables set for this process only."""

    name: str
    argv: list[str]
    once: bool = False
    after: str | None = None
    retries: int = 0
    env: tuple[tuple[str, str], ...] = ()


def processes(*, dev: bool) -> list[Process]:
    """What `bin/run` supervises besides the engine, in start order (the web server first: the
    rest start once it serves). Add a process here."""
    # gunicorn in both modes (SPEC section 7); --dev adds its code reloader (workers restart when a
    # source file changes) and DEBUG, under which whitenoise serves static/ straight from the finders.
    web = Process("web", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                          *(["--reload"] if dev else []), "dataplatform.wsgi"])
    return [
        web,
        # In the background: on disk every DynamoDB Local write waits for fsync, and the first
        # load writes ~11,000 items; the pages work meanwhile and fill as it goes.
        # Idempotent, so a load cut short (a busy machine's timeouts) is simply started again.
        Process("demo data", [*MANAGE, "load_demo"], once=True, retries=3, env=(("DYNAMODB_READ_TIMEOUT", "30"),)),
        Process("simulator", [*MANAGE, "simulate"], after="demo data"),
        # Raises and resolves the alerts of the simulator's missed days and stuck runs.
        Process("evaluator", [*MANAGE, "evaluate_alerts", "--every", "30"], after="demo data"),
    ]


def local_secret_key(var: Path) -> str:
    """The local stack's Django secret: generated once into var/secret_key (mode 600)."""
    path = var / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 50:
            raise SystemExit(f"error: {path} holds no usable secret key; delete it to get a new one") from None
        return key
    key = secrets.token_urlsafe(64)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def local_environment(var: Path, *, dev: bool) -> dict[str, str]:
    """os.environ plus the local defaults (an explicit variable always wins)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true" if dev else "false")
    if not env.get("DJANGO_SECRET_KEY", "").strip():
        env["DJANGO_SECRET_KEY"] = local_secret_key(var)
    env.setdefault("DATABASE_URL", f"sqlite:///{var / 'auth.sqlite3'}")
    env.setdefault("DJANGO_STATIC_ROOT", str(var / "staticfiles"))
    env.setdefault("LOG_FORMAT", "plain")  # a person reads this terminal; production keeps JSON
    env.setdefault("AWS_ACCESS_KEY_ID", "local")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    env.setdefault("GUNICORN_BIND", env.get("RUN_LOCAL_ADDR", "127.0.0.1:8000"))
    # One machine: a worker per core (at most 4) instead of production's 2n+1 (threads: gunicorn.conf.py's).
    env.setdefault("GUNICORN_WORKERS", str(min(os.cpu_count() or 1, 4)))
    return env


def prepare_database(env: dict[str, str], *, dev: bool) -> None:
    """Migrate the auth database and (without --dev) collect static files for whitenoise, in this
    process: one Django start-up instead of one per command, while the JVM starts."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)
    if not dev:
        call_command("collectstatic", "--noinput", verbosity=0)


def sync_tables() -> None:
    """Create missing tables and indexes where the app points (the engine must answer)."""
    from django.core.management import call_command

    call_command("sync_tables")


def demo_accounts() -> str:
    """Create or refresh the demo accounts; their credentials as text to print."""
    from django.core.management import call_command
    from django.db import connections

    accounts = io.StringIO()
    call_command("ensure_demo_user", stdout=accounts)
    connections.close_all()  # the supervisor keeps no SQLite handle open
    return accounts.getvalue()


def wait_until_serving(url: str, web: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once `url` answers 200; False if the web process ends or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    return False


class Supervisor:
    """Starts the processes (each in its own process group, tied to this one), watches them, and
    stops them all: SIGTERM to the group, SIGKILL after STOP_TIMEOUT."""

    def __init__(self, env: dict[str, str], plan: list[Process]) -> None:
        self.env = env
        self.once = {p.name for p in plan if p.once}
        self.plan = {p.name: p for p in plan}
        self.failures: dict[str, int] = {}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.finished: set[str] = set()
        self.stop_requested = False

    def start(self, process: Process) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            process.argv, env={**self.env, **dict(process.env)}, cwd=ROOT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        self.running[process.name] = child
        return child

    def watch(self, pending: list[Process]) -> int:
        """Until Ctrl-C/SIGTERM (0) or a failure (1): start what became ready, check the rest."""
        while not self.stop_requested:
            for process in [p for p in pending if p.after is None or p.after in self.finished]:
                pending.remove(process)
                self.start(process)
            for name, child in list(self.running.items()):
                code = child.poll()
                if code is None:
                    continue
                del self.running[name]
                if code == 0 and name in self.once:
                    self.finished.add(name)
                    continue
                failures = self.failures[name] = self.failures.get(name, 0) + 1
                if name in self.once and failures <= self.plan[name].retries:
                    print(f"warning: {name} exited with code {code}; starting it again ({failures} of "
                          f"{self.plan[name].retries})", file=sys.stderr)
                    self.start(self.plan[name])
                    continue
                print(f"error: {name} exited with code {code}; stopping everything", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0

    def stop_all(self) -> None:
        for child in reversed(list(self.running.values())):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.running.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.running.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", action="store_true", help="gunicorn with its code reloader, DEBUG on")
    args = parser.parse_args(argv)
    var = Path(os.environ.get("RUN_LOCAL_VAR", "").strip() or ROOT / "var").resolve()
    var.mkdir(parents=True, exist_ok=True)
    env = local_environment(var, dev=args.dev)
    addr = env["GUNICORN_BIND"]
    plan = processes(dev=args.dev)
    supervisor = Supervisor(env, plan)

    def on_signal(signum: int, frame: object) -> None:
        supervisor.stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    engine: DynamoDBLocal | None = None
    try:
        if not env.get("DYNAMODB_ENDPOINT_URL"):
            port = int(env.get("LOCAL_DYNAMODB_PORT", "8765"))
            engine = DynamoDBLocal(port=port, path=var / "dynamodb-local", log=var / "dynamodb-local.log")
            if endpoint_answers(engine.endpoint_url):
                print(f"Using the DynamoDB-compatible server already answering on {engine.endpoint_url}")
                engine = None
            else:
                engine.launch()
            env["DYNAMODB_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        try:
            prepare_database(env, dev=args.dev)
            if engine is not None:
                engine.wait_ready()
                print(f"DynamoDB Local started on {engine.endpoint_url} (data in {var / 'dynamodb-local'})")
            sync_tables()
            if supervisor.stop_requested:
                return 0
            web = supervisor.start(plan[0])
            accounts = demo_accounts()  # hashing two passwords: while gunicorn boots
        except EngineError:
            raise
        except Exception as exc:  # a failed set-up command: say which, without a traceback
            print(f"error: preparing the database and tables failed: {exc}", file=sys.stderr)
            return 1
        if not wait_until_serving(f"http://{addr}/health/live", web, READY_TIMEOUT):
            if supervisor.stop_requested:
                return 0
            print(f"error: the web server did not answer on http://{addr}/ within {READY_TIMEOUT:.0f}s",
                  file=sys.stderr)
            return 1
        server = "gunicorn (code reloader, DEBUG on)" if args.dev else "gunicorn"
        print(f"\nRun Monitor is serving on http://{addr}/ through {server}  (Ctrl-C stops everything)")
        print(accounts, flush=True)
        return supervisor.watch(plan[1:])
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        supervisor.stop_all()
        if engine is not None:
            engine.stop()
        print("Run Monitor stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
