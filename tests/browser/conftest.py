"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server,
on DynamoDB Local loaded with the demo data (through the same services/repositories as `bin/run`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import override_settings

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.demo import DemoLoadResult, load_demo
from dataplatform.pipeline.engine import DynamoDBLocal
from dataplatform.web import wiring
from tests.conftest import CHROMIUM, unique_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password-1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def demo(ddb_local_server: DynamoDBLocal) -> Iterator[tuple[Pipeline, DemoLoadResult]]:
    """Fresh tables with the demo registry and history; the web app points at them."""
    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    with override_settings(PIPELINE_CONFIG=config):
        wiring.reset()
        pipeline = wiring.get_pipeline()
        pipeline.sync_tables()
        result = load_demo(pipeline)
        yield pipeline, result
    wiring.reset()


@pytest.fixture(autouse=True)
def _short_poll_interval(settings: Any) -> None:
    """Live pages poll every second in browser tests ("within two intervals" stays short)."""
    settings.POLL_INTERVAL_SECONDS = 1.0


@pytest.fixture
def users(transactional_db: None) -> dict[str, str]:
    for username, role in (("operator", "operator"), ("viewer", "viewer")):
        user = User.objects.create_user(username=username, password=PASSWORD)
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return {"operator": PASSWORD, "viewer": PASSWORD}


def login(page: Any, base_url: str, username: str, next_path: str = "/runs/") -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}*")


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def tables(ddb_local_server: DynamoDBLocal) -> Iterator[Pipeline]:
    """Fresh tables on DynamoDB Local; the live server's app points at them."""
    with override_settings(PIPELINE_CONFIG=unique_config(endpoint_url=ddb_local_server.endpoint_url)):
        wiring.reset()
        pipeline = wiring.get_pipeline()
        pipeline.sync_tables()
        yield pipeline
    wiring.reset()
