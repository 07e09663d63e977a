"""Login attempts are limited per account and per client address, on the dashboard's form and
on the admin's; the limits come from settings (LOGIN_RATE_PER_ACCOUNT, LOGIN_RATE_PER_ADDRESS)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-for-tests-1"


@pytest.fixture(autouse=True)
def fast_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test speed only
    settings.LOGIN_RATE_PER_ACCOUNT = "5/min"
    settings.LOGIN_RATE_PER_ADDRESS = "20/min"


def attempt(
    client: Client, username: str, password: str, *, address: str = "192.0.2.1", path: str = "/accounts/login/"
) -> Any:
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_right_password_is_refused_once_an_account_used_up_its_attempts() -> None:
    User.objects.create_user("mallory-target", password=PASSWORD)
    client = Client()
    codes = [attempt(client, "mallory-target", f"guess-{i}", address=f"192.0.2.{i + 1}").status_code for i in range(5)]
    assert codes == [200] * 5  # the form again: wrong username or password
    refused = attempt(client, "Mallory-Target", PASSWORD, address="192.0.2.99")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    text = refused.content.decode()
    assert f"Too many attempts, try again in {refused['Retry-After']} s." in text
    assert "_auth_user_id" not in client.session


def test_one_address_is_limited_across_accounts() -> None:
    client = Client()
    codes = [attempt(client, f"user-{i}", "x", address="198.51.100.50").status_code for i in range(22)]
    assert codes == [200] * 20 + [429] * 2
    assert attempt(client, "user-0", "x", address="198.51.100.51").status_code == 200  # another address


def test_a_successful_sign_in_within_the_limits_still_works() -> None:
    User.objects.create_user("nina", password=PASSWORD)
    response = attempt(Client(), "nina", PASSWORD)
    assert response.status_code == 302


def test_the_admin_sign_in_is_limited_too() -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    client = Client()
    for i in range(5):
        assert attempt(client, "root", f"guess-{i}", path="/admin/login/").status_code == 200
    refused = attempt(client, "root", PASSWORD, path="/admin/login/")
    assert "Too many attempts, try again in" in refused.content.decode()
    assert client.get("/admin/").status_code == 302  # still not signed in
