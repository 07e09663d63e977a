"""The API token page: a signed-in user creates, replaces and revokes their own token; a new key
is shown once (never cached) and works at once; a revoked one stops working."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer() -> tuple[User, Client]:
    user = User.objects.create_user("tokyo", password="not-used-1234")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client()
    client.force_login(user)
    return user, client


def new_key(response: Any) -> str:
    found = re.search(r'value="([0-9a-f]{40})" size="44" data-new-token', response.content.decode())
    assert found, "no new key in the page"
    return found.group(1)


def test_a_new_token_is_shown_once_and_works(viewer: tuple[User, Client], web_pipeline: Any) -> None:
    user, client = viewer
    created = client.post("/accounts/tokens/", {"action": "create"})
    assert created.status_code == 201
    assert "no-store" in created["Cache-Control"]
    key = new_key(created)
    assert Token.objects.get(user=user).key == key
    later = client.get("/accounts/tokens/")
    assert later.status_code == 200
    assert key not in later.content.decode()
    assert 'data-token-state="active"' in later.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/datasets/").status_code == 200


def test_replacing_a_token_stops_the_old_one(viewer: tuple[User, Client]) -> None:
    user, client = viewer
    first = new_key(client.post("/accounts/tokens/", {"action": "create"}))
    second = new_key(client.post("/accounts/tokens/", {"action": "create"}))
    assert first != second
    assert list(Token.objects.filter(user=user).values_list("key", flat=True)) == [second]


def test_revoking_a_token_ends_it(viewer: tuple[User, Client], caplog: pytest.LogCaptureFixture) -> None:
    user, client = viewer
    key = new_key(client.post("/accounts/tokens/", {"action": "create"}))
    caplog.set_level(logging.INFO, logger="dataplatform.accounts.views")
    response = client.post("/accounts/tokens/", {"action": "revoke"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=user).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/datasets/").status_code == 401
    assert any("revoke" in r.getMessage() and "tokyo" in r.getMessage() for r in caplog.records)
    assert 'data-token-state="none"' in client.get("/accounts/tokens/").content.decode()


def test_an_unknown_action_changes_nothing(viewer: tuple[User, Client]) -> None:
    user, client = viewer
    assert client.post("/accounts/tokens/", {"action": "steal"}).status_code == 302
    assert not Token.objects.filter(user=user).exists()


def test_the_page_needs_a_signed_in_user_and_a_csrf_token(viewer: tuple[User, Client]) -> None:
    anonymous = Client()
    response = anonymous.get("/accounts/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    user, _ = viewer
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/accounts/tokens/", {"action": "create"}).status_code == 403
    assert not Token.objects.filter(user=user).exists()


def test_creating_tokens_is_rate_limited(viewer: tuple[User, Client], settings: Any) -> None:
    settings.PAGE_ACTION_RATE = "2/min"
    _, client = viewer
    codes = [client.post("/accounts/tokens/", {"action": "create"}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
