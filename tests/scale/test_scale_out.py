"""Scale-out, for real: two gunicorn instances sharing PostgreSQL (users, sessions, tokens),
Redis (cached sessions, rate-limit counters) and DynamoDB Local, all started here on loopback
ports with temporary data folders. One set of servers for the module: seconds, not minutes."""

from __future__ import annotations

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
    Instance,
    PostgresServer,
    RedisServer,
    WebClient,
    api_get,
    app_env,
    prepare_database,
    stop_together,
    table_env,
    wait_for,
)

pytestmark = [pytest.mark.ddb_local, pytest.mark.timeout(600)]

API_RATE = "60/min"
CANDIDATES = 8  # users for the 60/min API limit: one of them has most of its fixed window ahead
USERS = [
    ("root", "", True),  # superuser: /admin/
    ("olga", "operator", False),  # sessions
    ("victor", "viewer", False),  # token deactivated through the admin
    *((f"limited{i}", "viewer", False) for i in range(CANDIDATES)),  # the 60/min API limit
    ("ursula", "viewer", False),  # sessions through the Redis outage
]


@dataclass
class Stack:
    a: Instance
    b: Instance
    postgres: PostgresServer
    redis: RedisServer
    users: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def stack(ddb_local_server: DynamoDBLocal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("scale-out")
    postgres = PostgresServer()
    redis = RedisServer()
    instances: list[Instance] = []
    try:
        postgres.start()
        redis.start()
        tables = table_env(uuid.uuid4().hex[:8])
        env = app_env(
            endpoint=ddb_local_server.endpoint_url, tables=tables, folder=Path(folder),
            DATABASE_URL=postgres.url, CACHE_URL=redis.url, API_THROTTLE_RATE=API_RATE,
            HEALTH_CACHE_SECONDS="0.5",
        )
        Pipeline(PipelineConfig.from_env(env)).sync_tables()
        users = prepare_database(env, USERS)
        instances = [Instance(env, Path(folder)), Instance(env, Path(folder))]
        for instance in instances:
            instance.launch()
        for instance in instances:
            instance.wait_serving()
        yield Stack(instances[0], instances[1], postgres, redis, users)
    finally:
        stop_together(*(instance.stop for instance in instances))
        stop_together(redis.close, postgres.close)


def signed_in(stack: Stack, username: str) -> WebClient:
    client = WebClient()
    answer = client.login(stack.a.url, username)
    assert answer.status == 302, answer.body[:500]
    assert answer.headers["Location"] == "/runs/"
    return client


def test_a_session_made_on_one_instance_works_on_the_other(stack: Stack) -> None:
    client = signed_in(stack, "olga")
    page = client.get(f"{stack.b.url}/runs/")
    assert page.status == 200
    assert "olga" in page.body


def test_logout_on_one_instance_ends_the_session_on_the_other(stack: Stack) -> None:
    client = signed_in(stack, "olga")
    assert client.get(f"{stack.b.url}/runs/").status == 200
    assert client.get(f"{stack.a.url}/runs/").status == 200  # cached in Redis by now
    logout = client.post_form(f"{stack.b.url}/accounts/logout/", {})
    assert logout.status == 302
    for instance in (stack.a, stack.b):
        answer = client.get(f"{instance.url}/runs/")
        assert answer.status == 302
        assert answer.headers["Location"].startswith("/accounts/login/")


def test_a_60_per_minute_limit_holds_across_threads_and_instances(stack: Stack) -> None:
    # Fixed windows: start with most of one ahead, so every request lands in the same window. Each
    # key's windows are offset by a hash of the key: take the candidate with the most time left (and
    # wait for a fresh window only when none has more than 30 s, 1 time in 256).
    candidates = [stack.users[f"limited{i}"] for i in range(CANDIDATES)]

    def left(user: dict[str, Any]) -> float:
        return ratelimit.seconds_left("api-user", f"user:{user['pk']}", API_RATE)

    user = max(candidates, key=left)
    wait_for(lambda: left(user) > 30, 35, "the start of a fresh rate-limit window", interval=0.5)
    urls = [f"{(stack.a, stack.b)[i % 2].url}/api/v1/datasets/" for i in range(150)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda url: api_get(url, user["token"]), urls))
    codes = [a.status for a in answers]
    assert codes.count(200) == 60, codes
    assert codes.count(429) == 90
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status == 429)


def test_deactivation_on_one_instance_blocks_the_token_on_the_other(stack: Stack) -> None:
    victor = stack.users["victor"]
    assert api_get(f"{stack.b.url}/api/v1/datasets/", victor["token"]).status == 200
    admin = signed_in(stack, "root")
    changelist = f"{stack.a.url}/admin/auth/user/"
    assert admin.get(changelist).status == 200
    answer = admin.post_form(changelist, {"action": "deactivate", "_selected_action": str(victor["pk"])})
    assert answer.status == 302, answer.body[:500]
    refused = api_get(f"{stack.b.url}/api/v1/datasets/", victor["token"])
    assert refused.status == 401
    assert refused.json()["code"] == "authentication_failed"


def test_redis_stopped_pages_and_api_still_answer_and_readiness_is_degraded(stack: Stack) -> None:
    client = signed_in(stack, "ursula")
    token = stack.users["ursula"]["token"]
    stack.redis.stop()
    try:
        for instance in (stack.a, stack.b):
            for path in ("/runs/", "/datasets/", "/accounts/tokens/"):
                assert client.get(f"{instance.url}{path}").status == 200, (instance.url, path)
            assert api_get(f"{instance.url}/api/v1/runs/?status=failed", token).status == 200

            def degraded(instance: Instance = instance) -> bool:
                answer = WebClient().get(f"{instance.url}/health/ready")
                return answer.status == 200 and answer.json()["status"] == "degraded"

            wait_for(degraded, 10, f"{instance.url} readiness saying degraded")
            assert WebClient().get(f"{instance.url}/health/ready").json()["checks"]["cache"] == "unavailable"
        # Sign-in and sign-out work without Redis (sessions in PostgreSQL; login limits fail open).
        other = signed_in(stack, "olga")
        assert other.get(f"{stack.b.url}/runs/").status == 200
        assert client.post_form(f"{stack.b.url}/accounts/logout/", {}).status == 302
        assert client.get(f"{stack.a.url}/runs/").status == 302
    finally:
        stack.redis.start()
    for instance in (stack.a, stack.b):
        wait_for(lambda instance=instance: WebClient().get(f"{instance.url}/health/ready").json()["status"] == "ok",
                 15, f"{instance.url} readiness back to ok")
    assert client.get(f"{stack.a.url}/runs/").status == 302  # still signed out


def test_a_session_ended_while_redis_hung_does_not_come_back_from_the_cache(stack: Stack) -> None:
    client = signed_in(stack, "ursula")
    for instance in (stack.a, stack.b):
        assert client.get(f"{instance.url}/runs/").status == 200
    session_keys = stack.redis.client().keys("*django.contrib.sessions.cached_db*")
    assert session_keys  # the session is cached in Redis
    stack.redis.pause()
    try:
        assert client.post_form(f"{stack.b.url}/accounts/logout/", {}).status == 302
    finally:
        stack.redis.resume()
    # The instance that could not delete the cached copy drops the cached sessions once Redis answers.
    wait_for(lambda: not stack.redis.client().keys("*django.contrib.sessions.cached_db*"), 15,
             "the cached sessions dropped after the outage")
    for instance in (stack.a, stack.b):
        assert client.get(f"{instance.url}/runs/").status == 302


def test_postgresql_restarted_no_500_once_it_is_back(stack: Stack) -> None:
    client = signed_in(stack, "olga")
    token = stack.users["olga"]["token"]

    def round_of_requests() -> list[int]:
        urls = [(f"{instance.url}{path}", kind) for instance in (stack.a, stack.b)
                for path, kind in (("/runs/", "page"), ("/datasets/", "page"), ("/api/v1/datasets/", "api"))]
        urls = urls * 4  # reach most worker threads, each with its own persistent connection

        def one(item: tuple[str, str]) -> int:
            url, kind = item
            return client.get(url).status if kind == "page" else api_get(url, token).status

        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(one, urls))

    assert set(round_of_requests()) == {200}
    stack.postgres.stop()
    try:
        for instance in (stack.a, stack.b):
            def unavailable(instance: Instance = instance) -> bool:
                answer = WebClient().get(f"{instance.url}/health/ready", timeout=10)
                return answer.status == 503 and answer.json()["checks"]["database"] == "unavailable"

            wait_for(unavailable, 10, f"{instance.url} readiness saying the database is unavailable")
        page = client.get(f"{stack.a.url}/runs/")
        assert page.status == 503  # the page says so, with Retry-After; no 500
        assert page.headers["Retry-After"] == "5"
    finally:
        stack.postgres.start()
    codes = round_of_requests()
    assert 500 not in codes
    assert set(codes) == {200}, codes


def test_a_superuser_creates_a_user_with_a_role_in_the_admin_and_that_user_signs_in(
    stack: Stack, browser: Any
) -> None:
    from tests.browser.conftest import shot

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        page.goto(f"{stack.a.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "root")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{stack.a.url}/admin/")
        page.goto(f"{stack.a.url}/admin/auth/user/add/")
        page.fill("#id_username", "nadia")
        page.fill("#id_password1", "nadia-password-2026")
        page.fill("#id_password2", "nadia-password-2026")
        page.click("input[name=_continue]")
        page.wait_for_url("**/admin/auth/user/*/change/")
        page.select_option("#id_groups_from", label="operator")
        page.click("#id_groups_add")
        page.click("input[name=_save]")
        page.wait_for_url(f"{stack.a.url}/admin/auth/user/")
        assert "operator" in page.inner_text("#result_list")
        shot(page, "admin-users")
        # Signing in as the new user on the other instance, through the dashboard's form.
        context.clear_cookies()
        page.goto(f"{stack.b.url}/accounts/login/?next=/runs/")
        page.fill("#id_username", "nadia")
        page.fill("#id_password", "nadia-password-2026")
        page.click("button[type=submit]")
        page.wait_for_url(f"{stack.b.url}/runs/*")
        assert "operator" in page.inner_text("header")
    finally:
        context.close()
    assert violations == [], violations
