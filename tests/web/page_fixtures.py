"""Page tests: the Django test client against a fresh DynamoDB Local-backed pipeline per test."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from dataplatform.pipeline.app import Pipeline

PASSWORD = "pw-for-tests-only-123"


@pytest.fixture
def pipeline(web_pipeline: Pipeline) -> Pipeline:
    """The web app's Pipeline on fresh DynamoDB Local tables (see tests/conftest.py)."""
    return web_pipeline


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
