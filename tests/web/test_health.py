"""Health endpoints: live without DynamoDB, ready bounded in time and cached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.engine import DynamoDBLocal, free_port
from dataplatform.web import wiring
from tests.conftest import unique_config


@pytest.fixture
def point_at(settings: pytest.FixtureRequest) -> Iterator[object]:
    """Point the app at an endpoint (and fresh tables) for one test."""

    def apply(endpoint: str, *, create: bool = True) -> None:
        config = unique_config(endpoint_url=endpoint)
        if create:
            Pipeline(config).sync_tables()
        settings.PIPELINE_CONFIG = config  # type: ignore[attr-defined]
        settings.HEALTH_CACHE_SECONDS = 5  # type: ignore[attr-defined]
        wiring.reset()

    yield apply
    wiring.reset()


def test_live_needs_nothing(client: Client, point_at: object) -> None:
    point_at(f"http://127.0.0.1:{free_port()}", create=False)  # type: ignore[operator]
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_with_both_tables_and_the_auth_database(
    client: Client, point_at: object, ddb_local_server: DynamoDBLocal, db: None
) -> None:
    point_at(ddb_local_server.endpoint_url)  # type: ignore[operator]
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("evaluator")["status"] == "unknown"  # reported beside the checks (tests/alerts/test_health.py)
    assert body == {"status": "ok", "checks": {"runs": "ok", "files": "ok", "database": "ok"}}
    page = client.get("/health/")
    assert page.status_code == 200
    assert b"ready" in page.content


def test_ready_reports_missing_tables_without_naming_them(
    client: Client, point_at: object, ddb_local_server: DynamoDBLocal
) -> None:
    point_at(ddb_local_server.endpoint_url, create=False)  # type: ignore[operator]
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.content.decode()
    assert response.json()["status"] == "unavailable"
    assert "RunTable" not in body
    assert "FileTable" not in body


@pytest.mark.parametrize("target", ["closed_port", "hung_endpoint"])
def test_ready_is_503_within_3s_when_dynamodb_is_down_or_hangs(
    client: Client, point_at: object, target: str, request: pytest.FixtureRequest
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    endpoint = closed if target == "closed_port" else request.getfixturevalue("hung_endpoint")
    point_at(endpoint, create=False)  # type: ignore[operator]
    for path in ["/health/ready", "/health/"]:
        wiring.reset()
        started = time.monotonic()
        response = client.get(path)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert elapsed < 3.0, f"{path} took {elapsed:.2f}s"
    assert "Traceback" not in response.content.decode()


def test_probe_storm_costs_at_most_one_read_per_table(
    client: Client, point_at: object, ddb_local_server: DynamoDBLocal, db: None
) -> None:
    point_at(ddb_local_server.endpoint_url)  # type: ignore[operator]
    checker = wiring.get_health_checker()
    calls: list[str] = []
    checker._client().meta.events.register(
        "before-parameter-build.dynamodb.GetItem", lambda **kw: calls.append(kw["params"]["TableName"])
    )

    def probe(_: int) -> int:
        return Client().get("/health/ready").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(probe, range(100)))
    assert codes == [200] * 100
    assert len(calls) == 2
    assert len(set(calls)) == 2


def test_ready_is_degraded_but_ready_when_the_shared_cache_is_down(
    client: Client, point_at: object, ddb_local_server: DynamoDBLocal, db: None, settings: pytest.FixtureRequest
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHE_URL = closed  # type: ignore[attr-defined]
    settings.CACHES = {"default": {  # type: ignore[attr-defined]
        "BACKEND": "dataplatform.web.cache.ResilientRedisCache", "LOCATION": closed,
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    point_at(ddb_local_server.endpoint_url)  # type: ignore[operator]
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("evaluator")["status"] == "unknown"
    assert body == {
        "status": "degraded", "checks": {"runs": "ok", "files": "ok", "database": "ok", "cache": "unavailable"},
    }
    page = client.get("/health/")
    assert page.status_code == 200
    assert b"degraded" in page.content


def test_a_failing_required_part_makes_readiness_unavailable() -> None:
    from dataplatform.pipeline.health import HealthChecker

    def broken() -> str:
        raise RuntimeError("boom")

    checker = HealthChecker(
        unique_config(endpoint_url=f"http://127.0.0.1:{free_port()}"),
        parts={"database": lambda: "unavailable", "cache": broken}, optional=frozenset({"cache"}),
    )
    report = checker.check()
    assert report.status == "unavailable"
    assert report.checks["database"] == "unavailable"
    assert report.checks["cache"] == "error"  # a part that raises still answers
