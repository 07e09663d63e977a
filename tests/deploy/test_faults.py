"""DynamoDB down, hanging or throttling: bounded retries, then 503 everywhere; recovery
without a restart. Faults are injected on the real botocore client (before-send hook), and
the real local engine is stopped and started."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.clients import reset_clients
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.web import wiring
from tests.conftest import unique_config


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


class FaultInjector:
    """Answers every DynamoDB request of a client with a fault instead of sending it."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.calls = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.mode is None:
            return None
        self.calls += 1
        if self.mode == "throttle":
            body = json.dumps({
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "Rate of requests exceeds the allowed throughput.",
            }).encode()
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))
        if self.mode == "down":
            raise EndpointConnectionError(endpoint_url=request.url)
        time.sleep(0.3)  # "hang": then the read timeout fires
        raise ReadTimeoutError(endpoint_url=request.url)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self, unique_id="fault-injector")


@pytest.fixture
def app(ddb_local_server: DynamoDBLocal, settings: Any, db: None) -> Iterator[Pipeline]:
    settings.PIPELINE_CONFIG = unique_config(endpoint_url=ddb_local_server.endpoint_url, max_attempts=3)
    reset_clients()
    wiring.reset()
    pipeline = wiring.get_pipeline()
    pipeline.sync_tables()
    yield pipeline
    reset_clients()
    wiring.reset()


def _users() -> tuple[Client, str]:
    operator = User.objects.create_user("ops", password="pw-123456789")
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    browser = Client()
    browser.force_login(operator)
    return browser, Token.objects.create(user=operator).key


def _api(token: str, path: str) -> Any:
    return Client().get(path, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.parametrize("mode", ["throttle", "down", "hang"])
def test_faults_give_503_everywhere_then_recover_without_restart(app: Pipeline, mode: str) -> None:
    browser, token = _users()
    faults = FaultInjector()
    faults.attach(app.client)
    faults.attach(wiring.get_health_checker()._client())
    assert _api(token, "/api/v1/runs/?status=failed").status_code == 200

    faults.mode = mode
    api = _api(token, "/api/v1/runs/?status=failed")
    assert api.status_code == 503
    assert api["Content-Type"].startswith("application/json")
    assert api.json()["code"] == "store_unavailable"
    assert int(api["Retry-After"]) > 0
    if mode == "throttle":
        assert faults.calls == 3  # botocore's bounded standard-mode retries, then 503
    page = browser.get("/runs/?status=failed")
    assert page.status_code == 503
    assert b"unavailable" in page.content.lower()
    assert b"Traceback" not in page.content
    started = time.monotonic()
    health = Client().get("/health/ready")
    assert health.status_code == 503
    assert time.monotonic() - started < 3

    faults.mode = None
    wiring.get_health_checker()._report = None
    assert _api(token, "/api/v1/runs/?status=failed").status_code == 200
    assert browser.get("/runs/?status=failed").status_code == 200
    assert Client().get("/health/ready").status_code == 200


def test_engine_stopped_and_started_again(tmp_path: Path, settings: Any, db: None) -> None:
    engine = DynamoDBLocal(path=tmp_path / "data")
    engine.start()
    try:
        settings.PIPELINE_CONFIG = unique_config(
            endpoint_url=engine.endpoint_url, max_attempts=2, connect_timeout=0.5, read_timeout=1.0
        )
        settings.HEALTH_CACHE_SECONDS = 0
        reset_clients()
        wiring.reset()
        wiring.get_pipeline().sync_tables()
        browser, token = _users()
        assert _api(token, "/api/v1/runs/?status=failed").status_code == 200

        engine.stop()
        assert _api(token, "/api/v1/runs/?status=failed").status_code == 503
        assert browser.get("/runs/?status=failed").status_code == 503
        assert Client().get("/health/ready").status_code == 503

        engine.start()
        # Recovery without restarting the app; the reopened engine may be slow to its first answer.
        deadline = time.monotonic() + 20
        while _api(token, "/api/v1/runs/?status=failed").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover within 20 s of the engine's restart"
            time.sleep(0.2)
        assert browser.get("/runs/?status=failed").status_code == 200
        assert Client().get("/health/ready").status_code == 200
    finally:
        engine.stop()
        reset_clients()
        wiring.reset()
