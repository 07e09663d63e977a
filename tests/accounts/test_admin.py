"""Django's admin at /admin/: superusers only; users with roles; deactivation as an action;
tokens through DRF's authtoken admin; one log line per admin action; the site's CSP applies."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-password-123"))
    return client


def test_only_superusers_open_the_admin() -> None:
    staff = User.objects.create_user("staffer", password="x-password-123", is_staff=True)
    operator = User.objects.create_user("olga", password="x-password-123")
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    for user in (staff, operator):
        client = Client()
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_admin_lists_users_with_their_roles_under_the_sites_csp(root: Client) -> None:
    User.objects.create_user("vera").groups.add(Group.objects.get_or_create(name="viewer")[0])
    response = root.get("/admin/auth/user/")
    assert response.status_code == 200
    assert "viewer" in response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    for path in ("/admin/auth/group/", "/admin/authtoken/tokenproxy/", "/admin/auth/user/add/"):
        assert root.get(path).status_code == 200, path


def test_a_superuser_creates_a_user_with_a_password_and_a_role(root: Client) -> None:
    response = root.post("/admin/auth/user/add/", {
        "username": "newbie", "password1": "newbie-password-2026", "password2": "newbie-password-2026",
        "usable_password": "true",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="newbie")
    operator = Group.objects.get_or_create(name="operator")[0]
    change = root.get(f"/admin/auth/user/{user.pk}/change/")
    assert change.status_code == 200
    form = {
        "username": "newbie", "is_active": "on", "groups": [str(operator.pk)],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    assert root.post(f"/admin/auth/user/{user.pk}/change/", form).status_code == 302
    assert list(user.groups.values_list("name", flat=True)) == ["operator"]
    signed_in = Client()
    assert signed_in.login(username="newbie", password="newbie-password-2026")
    assert signed_in.get("/accounts/tokens/").status_code == 200


def test_deactivating_users_stops_their_tokens_and_logs_one_line(
    root: Client, caplog: pytest.LogCaptureFixture, web_pipeline: Any
) -> None:
    user = User.objects.create_user("victor")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    token = Token.objects.create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/datasets/").status_code == 200
    caplog.set_level(logging.INFO, logger="dataplatform.accounts.admin")
    response = root.post("/admin/auth/user/", {"action": "deactivate", "_selected_action": [str(user.pk)]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert api.get("/api/v1/datasets/").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "dataplatform.accounts.admin"]
    assert any("changed user 'victor' by root" in line for line in lines), lines
    assert any(line.startswith("admin action POST /admin/auth/user/ by root: 302") for line in lines), lines


def test_a_superuser_cannot_deactivate_themselves(root: Client) -> None:
    me = User.objects.get(username="root")
    root.post("/admin/auth/user/", {"action": "deactivate", "_selected_action": [str(me.pk)]})
    me.refresh_from_db()
    assert me.is_active
