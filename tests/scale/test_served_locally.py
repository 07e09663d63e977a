"""The local default as served: one gunicorn (2 worker processes x 8 threads, gunicorn.conf.py),
SQLite for users and sessions, no shared cache, and a DynamoDB Local of its own that the tests
can pause (SIGSTOP the JVM) to play a hung store.

Shows: rate limits hold across worker processes without Redis (RateCounter rows); login
attempts are limited per account and per client address (behind a trusted proxy); probes
answer within 3 s while every request thread waits on the hung store; a read gives up on it
within its budget with 503 + Retry-After."""

from __future__ import annotations

import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dataplatform.accounts import ratelimit
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.engine import DynamoDBLocal
from tests.scale.servers import (
    PASSWORD,
    Answer,
    Instance,
    WebClient,
    api_get,
    app_env,
    prepare_database,
    stop_together,
    table_env,
    wait_for,
)

pytestmark = [pytest.mark.ddb_local, pytest.mark.timeout(600)]

API_RATE = "30/min"
ACCOUNT_RATE = "5/min"
ADDRESS_RATE = "5/min"  # each attempt costs a production password hash: few attempts, same proof
CANDIDATES = 8  # users per limit test: one of them has most of its fixed window ahead
# A read against a hung store: 2 attempts x 3 s read timeout (+ backoff), well inside the
# request deadline (10 s); the documented worst case is deadline + one attempt (1 s + 3 s).
READ_BUDGET = 14.0


@dataclass
class Local:
    instance: Instance
    engine: DynamoDBLocal
    users: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    folder = Path(tmp_path_factory.mktemp("served-locally"))
    engine = DynamoDBLocal(path=None, log=folder / "dynamodb-local.log")
    engine.start()
    instance: Instance | None = None
    database = Path(tempfile.mkdtemp(prefix="runmonitor-auth-")) / "auth.sqlite3"
    try:
        env = app_env(
            endpoint=engine.endpoint_url, tables=table_env(uuid.uuid4().hex[:8]), folder=folder,
            DATABASE_URL=f"sqlite:///{database}", API_THROTTLE_RATE=API_RATE,
            LOGIN_RATE_PER_ACCOUNT=ACCOUNT_RATE, LOGIN_RATE_PER_ADDRESS=ADDRESS_RATE,
            TRUSTED_PROXIES="127.0.0.1", HEALTH_CACHE_SECONDS="1",
        )
        Pipeline(PipelineConfig.from_env(env)).sync_tables()
        names = [f"limited{i}" for i in range(CANDIDATES)] + [f"lena{i}" for i in range(CANDIDATES)] + ["reader"]
        users = prepare_database(env, [(name, "viewer", False) for name in names])
        instance = Instance(env, folder).start()
        yield Local(instance, engine, users)
    finally:
        stop_together(engine.stop, *([instance.stop] if instance is not None else []))
        database.unlink(missing_ok=True)


def fresh(scope: str, candidates: list[str], rate: str) -> str:
    """The candidate whose fixed window of `scope` has the most time ahead (windows are offset per
    key), so that every request of the test lands in one window, without waiting."""
    best = max(candidates, key=lambda who: ratelimit.seconds_left(scope, who, rate))
    assert ratelimit.seconds_left(scope, best, rate) > 20, "no candidate with a fresh window"
    return best


def test_the_api_limit_holds_across_worker_processes_without_a_shared_cache(local: Local) -> None:
    pks = {f"user:{u['pk']}": u for name, u in local.users.items() if name.startswith("limited")}
    user = pks[fresh("api-user", list(pks), API_RATE)]
    url = f"{local.instance.url}/api/v1/datasets/"
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = [a.status for a in pool.map(lambda _: api_get(url, user["token"]), range(80))]
    assert codes.count(200) == 30, codes
    assert codes.count(429) == 50


def login_attempt(base: str, username: str, password: str, client_ip: str) -> Answer:
    client = WebClient()
    headers = {"X-Forwarded-For": client_ip}
    client.request("GET", f"{base}/accounts/login/", headers=headers, timeout=90)
    data = {"csrfmiddlewaretoken": client.cookie("csrftoken") or "", "username": username, "password": password}
    # Each attempt costs a password hash (also for unknown names): slow on a small, busy machine.
    return client.request("POST", f"{base}/accounts/login/", data=data, headers=headers, timeout=90)


def test_login_attempts_are_limited_per_account_across_workers(local: Local) -> None:
    name = fresh("login-account", [f"lena{i}" for i in range(CANDIDATES)], ACCOUNT_RATE)
    base = local.instance.url
    with ThreadPoolExecutor(max_workers=8) as pool:
        wrong = list(pool.map(lambda i: login_attempt(base, name, f"wrong-{i}", f"203.0.113.{i + 1}"), range(7)))
    assert sorted(a.status for a in wrong) == [200] * 5 + [429] * 2  # 200: the form again, "wrong password"
    right = login_attempt(base, name.upper(), PASSWORD, "203.0.113.99")  # names count case-insensitively
    assert right.status == 429
    assert "Too many attempts, try again in" in right.body
    assert int(right.headers["Retry-After"]) > 0


def test_login_attempts_are_limited_per_client_address(local: Local) -> None:
    address = fresh("login-address", [f"198.51.100.{i}" for i in range(1, CANDIDATES + 1)], ADDRESS_RATE)
    base = local.instance.url
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: login_attempt(base, f"nobody-{i}", "x", address), range(7)))
    assert sorted(a.status for a in answers) == [200] * 5 + [429] * 2
    # Another client (another forwarded address) is not affected.
    assert login_attempt(base, "reader", PASSWORD, "198.51.100.200").status == 302


def timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def test_probes_answer_within_3s_while_every_thread_waits_on_a_hung_dynamodb(local: Local) -> None:
    base = local.instance.url
    reader = WebClient()
    assert reader.login(base, "reader").status == 302
    assert reader.get(f"{base}/datasets/").status == 200
    assert local.engine.process is not None
    local.engine.process.send_signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            reads = [pool.submit(timed, lambda: reader.get(f"{base}/datasets/", timeout=60)) for _ in range(32)]
            time.sleep(0.5)  # the reads are in flight: every request thread is now waiting
            probes = []
            for _ in range(4):
                probes.append(("live", *timed(lambda: WebClient().get(f"{base}/health/live", timeout=10))))
                probes.append(("ready", *timed(lambda: WebClient().get(f"{base}/health/ready", timeout=10))))
            results = [future.result() for future in reads]
    finally:
        local.engine.process.send_signal(signal.SIGCONT)
    for name, elapsed, answer in probes:
        assert elapsed < 3.0, (name, elapsed)
        if name == "live":
            assert answer.status == 200
        else:
            assert answer.status == 503
            assert answer.json()["status"] == "unavailable"
    for elapsed, answer in results:
        assert answer.status == 503, answer.body[:300]
        assert "Data store unavailable" in answer.body
        assert int(answer.headers["Retry-After"]) > 0
        assert elapsed < 2 * READ_BUDGET  # half of them waited for a thread first
    wait_for(lambda: WebClient().get(f"{base}/health/ready").status == 200, 15, "readiness after the store is back")


def test_a_read_gives_up_on_a_hung_dynamodb_within_its_budget(local: Local) -> None:
    base, token = local.instance.url, local.users["reader"]["token"]
    client = WebClient()
    assert local.engine.process is not None
    local.engine.process.send_signal(signal.SIGSTOP)
    try:
        # The API read and the page read wait on the hung store at the same time (each is timed).
        with ThreadPoolExecutor(max_workers=1) as pool:
            api_read = pool.submit(timed, lambda: api_get(f"{base}/api/v1/datasets/", token, timeout=60))
            client.login(base, "reader")  # the sign-in needs no DynamoDB
            page_elapsed, page = timed(lambda: client.get(f"{base}/datasets/", timeout=60))
            api_elapsed, api = api_read.result()
    finally:
        local.engine.process.send_signal(signal.SIGCONT)
    assert api.status == 503
    assert api.headers["Retry-After"] == "5"
    assert api_elapsed < READ_BUDGET
    assert page.status == 503
    assert page.headers["Retry-After"] == "5"
    assert "Data store unavailable" in page.body
    assert page_elapsed < READ_BUDGET
