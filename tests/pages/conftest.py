"""Page tests: the Django test client against a fresh dynalite-backed pipeline per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from pytest_django.fixtures import Settings

from dataplatform import wiring
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.engine import LocalDynalite
from tests.conftest import unique_config

PASSWORD = "pw-for-tests-only-123"


@pytest.fixture
def pipeline(dynalite_server: LocalDynalite, settings: Settings) -> Iterator[Pipeline]:
    """Points the web app (settings.PIPELINE_CONFIG + wiring) at fresh tables on dynalite."""
    settings.PIPELINE_CONFIG = unique_config(endpoint_url=dynalite_server.endpoint_url)
    wiring.reset()
    p = wiring.get_pipeline()
    p.sync_tables()
    yield p
    wiring.reset()


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def operator_client(db: None) -> Client:
    client = Client()
    client.force_login(_user("op", "operator"))
    return client


@pytest.fixture
def viewer_client(db: None) -> Client:
    client = Client()
    client.force_login(_user("view", "viewer"))
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict[str, str]:
    headers = dict(HTMX)
    if target:
        headers["HTTP_HX_TARGET"] = target
    return headers
