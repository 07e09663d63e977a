"""Shared plumbing of the benchmarks: a private DynamoDB Local, Django pointed at it, demo data,
users and tokens, DynamoDB request/item counters and a compact table printer.

Everything runs on 127.0.0.1 and everything started here is stopped by the context managers."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dataplatform.pipeline.engine import DynamoDBLocal  # noqa: E402

# Bench-only rates: the per-user API throttle (1200/min by default) would otherwise turn a
# benchmark loop into a 429 benchmark.
BENCH_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "DJANGO_SETTINGS_MODULE": "dataplatform.settings",
    "DJANGO_ENV": "local",
    "DJANGO_DEBUG": "false",
    "LOG_LEVEL": "WARNING",
    "API_THROTTLE_RATE": "1000000/sec",
    "API_PIPELINE_THROTTLE_RATE": "1000000/sec",
}


@contextmanager
def bench_engine() -> Iterator[tuple[DynamoDBLocal, Path]]:
    """A private DynamoDB Local on a free loopback port, in memory (on disk every write waits for
    SQLite's fsyncs, which would make loading the demo data the benchmark), with the auth
    database and logs in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="runmon-bench-") as folder:
        tmp = Path(folder)
        engine = DynamoDBLocal(path=None, log=tmp / "dynamodb-local.log")
        engine.start()
        try:
            yield engine, tmp
        finally:
            engine.stop()


def bench_env(engine: DynamoDBLocal, tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(BENCH_ENV)
    env["DYNAMODB_ENDPOINT_URL"] = engine.endpoint_url
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'auth.sqlite3'}"
    (tmp / "static").mkdir(exist_ok=True)
    env["DJANGO_STATIC_ROOT"] = str(tmp / "static")
    env.update(extra)
    return env


def setup_django(engine: DynamoDBLocal, tmp: Path, **extra: str) -> None:
    """Point settings at the bench engine (env vars BEFORE django.setup()) and migrate."""
    os.environ.update(bench_env(engine, tmp, **extra))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)
    quiet_logs()


@contextmanager
def served_by_gunicorn(engine: DynamoDBLocal, tmp: Path) -> Iterator[str]:
    """The app served the way `bin/run` serves it (its gunicorn command, gunicorn.conf.py and
    local settings: DEBUG off, whitenoise) on a free loopback port; yields the base URL."""
    import subprocess
    import urllib.request

    from django.conf import settings

    from dataplatform.pipeline.engine import free_port
    from dataplatform.run_local import local_environment, processes

    addr = f"127.0.0.1:{free_port()}"
    env = {**local_environment(tmp, dev=False), **bench_env(engine, tmp), "GUNICORN_BIND": addr}
    env["DJANGO_SECRET_KEY"] = settings.SECRET_KEY  # sessions made by this process stay valid there
    web = processes(dev=False)[0]
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(web.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{addr}/health/live", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not serve on {addr}; see {tmp / 'gunicorn.log'}") from None
                time.sleep(0.1)
        yield f"http://{addr}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def quiet_logs() -> None:
    """Keep the JSON access log's formatting cost (it is part of a request) but write the
    lines to /dev/null instead of the terminal."""
    import logging

    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


def add_rtt(client: Any, rtt_ms: float) -> None:
    """Model a network round trip: sleep `rtt_ms` before each HTTP request the client sends
    (botocore "before-send"; returning None lets the request go out as usual)."""
    if rtt_ms <= 0:
        return
    delay = rtt_ms / 1000

    def before_send(**_: Any) -> None:
        time.sleep(delay)

    client.meta.events.register("before-send.dynamodb", before_send, unique_id="bench-rtt")


def pipeline_from_settings() -> Any:
    from dataplatform.web.wiring import get_pipeline

    return get_pipeline()


def load_demo_data(p: Any) -> Any:
    """Tables + the demo registry and history (includes the 10,000-file run)."""
    from dataplatform.pipeline.demo import load_demo

    p.sync_tables()
    started = time.perf_counter()
    result = load_demo(p)
    print(f"  demo data: {result.runs_created} runs, {result.files_written} files "
          f"loaded in {time.perf_counter() - started:.1f} s")
    return result


def make_user(name: str, role: str, *, password: str | None = None) -> tuple[Any, str]:
    """A user in one role group and its API token key."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username=name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.is_active = True
    user.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    token, _ = Token.objects.get_or_create(user=user)
    return user, str(token.key)


def dynamo_calls(fn: Callable[[], Any]) -> tuple[Any, int, dict[str, int]]:
    """Run `fn` and return (result, DynamoDB calls, calls per operation) from the core's
    per-context metrics (the client made by clients.get_client is instrumented)."""
    from dataplatform.pipeline import metrics

    metrics.start()
    result = fn()
    stats = metrics.current()
    assert stats is not None
    return result, stats.calls, dict(stats.operations)


@dataclass
class QueryItems:
    """Counts Query responses on a client: requests, items returned (Count) and items read
    (ScannedCount: before any FilterExpression), comparable on every engine."""

    requests: int = 0
    count: int = 0
    scanned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    active: bool = False

    def hook(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if not self.active or not parsed:
            return
        with self._lock:
            self.requests += 1
            self.count += int(parsed.get("Count", 0))
            self.scanned += int(parsed.get("ScannedCount", parsed.get("Count", 0)))

    def attach(self, client: Any) -> QueryItems:
        client.meta.events.register("after-call.dynamodb.Query", self.hook, unique_id=f"bench-query-{id(self)}")
        return self

    def reset(self) -> None:
        with self._lock:
            self.requests = self.count = self.scanned = 0


def median_ms(fn: Callable[[], Any], n: int, *, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def interleaved_ms(
    targets: dict[str, Callable[[], Any]], n: int, *, block: int = 20, warmup: int = 5
) -> dict[str, list[float]]:
    """Milliseconds of `n` calls of each target, taken in short blocks of `block` calls
    cycling through the targets (a a .. b b .. c c .. a a ..): each block runs warm, as a
    tight loop would, and a disturbance of this shared machine hits every target alike."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    while any(len(values) < n for values in samples.values()):
        for name, fn in targets.items():
            for _ in range(warmup):
                fn()
            for _ in range(min(block, n - len(samples[name]))):
                started = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A compact fixed-width table (also valid markdown)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    out = [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells[1:]]
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def summary_line(text: str) -> None:
    """A line run_all collects into its README block (prefix `SUMMARY: `)."""
    print(f"SUMMARY: {text}", flush=True)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc), 0.0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WsgiCaller:
    """Calls the project's WSGI application the way gunicorn does (environ in, status and body
    out, then `close()`, which ends the request), without the test Client's own per-request
    work (signal hooks, cookie jar, response wrapping): what is timed is server time."""

    def __init__(self, *, cookies: str = "", headers: dict[str, str] | None = None) -> None:
        from dataplatform.wsgi import application

        self.application = application
        self.base = {
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multiprocess": True,
            "wsgi.multithread": True,
            "wsgi.run_once": False,
        }
        if cookies:
            self.base["HTTP_COOKIE"] = cookies
        for name, value in (headers or {}).items():
            self.base["HTTP_" + name.upper().replace("-", "_")] = value

    @classmethod
    def for_client(cls, client: Any, **headers: str) -> WsgiCaller:
        """The cookies of a (logged-in) django.test.Client, plus `headers`."""
        cookies = "; ".join(f"{m.key}={m.coded_value}" for m in client.cookies.values())
        return cls(cookies=cookies, headers=headers)

    def get(self, url: str) -> tuple[int, bytes]:
        import io

        path, _, query = url.partition("?")
        environ = dict(self.base, PATH_INFO=path, QUERY_STRING=query)
        environ["wsgi.input"] = io.BytesIO(b"")
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(line)

        result = self.application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0].split(" ", 1)[0]), body
