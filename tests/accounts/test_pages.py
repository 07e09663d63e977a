"""Dashboard views through the Django test client, on DynamoDB Local."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_login_page_renders_and_signs_in(client: Client, django_user_model: type) -> None:
    django_user_model.objects.create_user(username="u", password="secret-pass-123")  # type: ignore[attr-defined]
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="password"' in html(page)
    response = client.post("/accounts/login/", {"username": "u", "password": "secret-pass-123", "next": "/datasets/"})
    assert response.status_code == 302
    assert response["Location"] == "/datasets/"


def test_ensure_demo_user_creates_operator_viewer_and_admin(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from io import StringIO

    from django.contrib.auth import authenticate
    from django.core.management import call_command

    from dataplatform.accounts import roles

    monkeypatch.setenv("DEMO_OPERATOR_PASSWORD", "op-demo-password-1")
    out = StringIO()
    call_command("ensure_demo_user", stdout=out)
    assert "username=operator password=op-demo-password-1" in out.getvalue()
    operator = authenticate(username="operator", password="op-demo-password-1")
    assert operator is not None
    assert roles.has_role(operator, roles.OPERATOR)
    viewer_line = next(line for line in out.getvalue().splitlines() if "username=viewer" in line)
    viewer = authenticate(username="viewer", password=viewer_line.split("password=")[1])
    assert viewer is not None
    assert roles.user_roles(viewer) == {roles.VIEWER}
    admin_line = next(line for line in out.getvalue().splitlines() if "username=admin" in line)
    assert admin_line.startswith("Demo superuser:")
    admin = authenticate(username="admin", password=admin_line.split("password=")[1])
    assert admin is not None
    assert admin.is_superuser
    assert admin.is_staff
    assert not viewer.is_superuser
    assert not operator.is_superuser
