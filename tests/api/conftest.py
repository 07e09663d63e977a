"""Fixtures of the API tests: the app wired to fresh DynamoDB Local tables, users per role, seed data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.services import Actor, file_report, run_trigger

ROLES = ("anonymous", "norole", "viewer", "operator", "pipeline", "superuser")
DATASET = "sales"
BUSINESS_DATE = "2024-03-04"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pipeline(web_pipeline: Pipeline) -> Pipeline:
    """The process's Pipeline (what the views use), with an empty local dispatch queue."""
    web_pipeline.dispatcher.drain()  # type: ignore[attr-defined]  # the process-wide local queue
    return web_pipeline


def make_user(role: str) -> User:
    user = User.objects.create_user(username=f"{role}-user", password="not-used-1234")
    if role == "superuser":
        user.is_superuser = True
        user.save()
    elif role != "norole":
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def client_for(db: None) -> Callable[[str], APIClient]:
    """An APIClient authenticated with the token of a user holding `role` ("anonymous": none)."""
    clients: dict[str, APIClient] = {}

    def make(role: str) -> APIClient:
        if role not in clients:
            client = APIClient()
            if role != "anonymous":
                token = Token.objects.create(user=make_user(role))
                client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            clients[role] = client
        return clients[role]

    return make


def seed_dataset(p: Pipeline) -> DatasetConfig:
    config = DatasetConfig.model_validate(
        {
            "datasetName": DATASET,
            "locations": ["s3://bucket/{dataset}/{businessDate}/part-{part:03d}.csv"],
            "parts": 3,
            "schedule": {"weekdays": [0, 1, 2, 3, 4], "dueBy": "06:00"},
        }
    )
    return p.datasets.put(config)


def seed_run(p: Pipeline, *, files: int = 3, fail: int = 0, business_date: str = BUSINESS_DATE) -> Run:
    """A dispatched run with `files` pending files, the first `fail` of them reported failed."""
    locations = [f"s3://bucket/{DATASET}/{business_date}/f{i}.csv" for i in range(files)]
    request = {"datasetName": DATASET, "businessDate": business_date, "files": locations}
    run = run_trigger(p, request=request, actor=Actor("seed")).run
    for record in list(p.files.iter_run(run.run_id))[:fail]:
        file_report(p, file_id=record.file_id, status="failed", error={"message": "boom"}, actor=Actor("seed"))
    p.dispatcher.drain()  # type: ignore[attr-defined]
    return p.runs.get(run.run_id)


def scan_all(p: Pipeline) -> dict[str, list[dict[str, Any]]]:
    """Every item of the tables (test code only: the app never scans)."""
    tables = (p.config.run_table, p.config.file_table, p.config.dataset_table, p.config.audit_table,
              p.config.alert_table, p.config.notification_table)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in tables:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = p.client.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[name] = sorted(items, key=repr)
    return out


def assert_json_error(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    """`response` is a JSON error with `detail` and `code` and the expected status."""
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("detail"), str)
    assert body["detail"]
    assert isinstance(body.get("code"), str)
    assert body["code"]
    assert "Traceback" not in response.content.decode()
    return body  # type: ignore[no-any-return]
