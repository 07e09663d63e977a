"""Sign-in with Django's own backends (ModelBackend and DRF TokenAuthentication, extended at their
documented hooks to read the role names in the same query; the db and cached_db session
engines): few queries per request, and no caching across requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataplatform.accounts import roles
from dataplatform.accounts.backends import RoleModelBackend, RoleTokenAuthentication

pytestmark = pytest.mark.django_db


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(username=name, password="pw-for-tests-only-123")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def test_sign_in_uses_djangos_own_backends(settings) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.backends import ModelBackend
    from django.utils.module_loading import import_string
    from rest_framework.authentication import TokenAuthentication

    assert [import_string(path).__mro__[1] for path in settings.AUTHENTICATION_BACKENDS] == [ModelBackend]
    classes = [import_string(path) for path in settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]]
    assert any(issubclass(cls, TokenAuthentication) for cls in classes)
    assert settings.SESSION_ENGINE in {
        "django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.file"}


@pytest.mark.parametrize("groups", [("operator", "some-other-group"), ()], ids=["with-roles", "no-group"])
def test_backend_refuses_inactive_and_unknown_users(groups: tuple[str, ...]) -> None:
    backend = RoleModelBackend()
    user = _user("bob", *groups)
    assert backend.get_user(user.pk) == user
    assert backend.get_user(str(user.pk)) == user  # session values are strings
    assert backend.get_user(10**9) is None
    assert backend.get_user("not-a-number") is None
    user.is_active = False
    user.save()
    assert backend.get_user(user.pk) is None


def test_the_backend_reads_the_user_and_its_roles_in_one_query(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    user = _user("bea", "operator", "viewer", "some-other-group")
    with django_assert_num_queries(1):
        found = RoleModelBackend().get_user(str(user.pk))
        assert roles.user_roles(found) == {"operator", "viewer"}
    nobody = _user("ned")
    with django_assert_num_queries(1):  # in no group: one row without a group name, no role
        found = RoleModelBackend().get_user(nobody.pk)
        assert found == nobody
        assert roles.user_roles(found) == set()
    boss = User.objects.create_superuser("bo", password="pw-bo-123456789")
    with django_assert_num_queries(1):
        found = RoleModelBackend().get_user(boss.pk)
        assert roles.label(found) == "superuser"


@pytest.mark.parametrize("groups", [("operator", "viewer", "x"), ()], ids=["three-groups", "no-group"])
def test_a_token_reads_its_user_and_roles_in_one_query(  # type: ignore[no-untyped-def]
    django_assert_num_queries, groups: tuple[str, ...]
) -> None:
    token = Token.objects.create(user=_user("tess", *groups))
    with django_assert_num_queries(1):
        user, found = RoleTokenAuthentication().authenticate_credentials(token.key)
        assert found == token
        assert found.user == user
        assert roles.user_roles(user) == set(groups) - {"x"}


@pytest.mark.parametrize("groups", [("operator",), ()], ids=["with-roles", "no-group"])
def test_token_authentication_refuses_unknown_tokens_and_inactive_users(groups: tuple[str, ...]) -> None:
    from rest_framework.exceptions import AuthenticationFailed

    user = _user("carol", *groups)
    token = Token.objects.create(user=user)
    found_user, found_token = RoleTokenAuthentication().authenticate_credentials(token.key)
    assert found_user == user
    assert found_token == token
    assert found_token.created == token.created
    assert roles.user_roles(found_user) == set(groups)
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        RoleTokenAuthentication().authenticate_credentials("0" * 40)
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed, match="inactive"):
        RoleTokenAuthentication().authenticate_credentials(token.key)


def test_roles_come_from_one_query_and_only_role_groups_count(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    user = _user("dave", "operator", "viewer", "some-other-group")
    with django_assert_num_queries(1):
        assert roles.user_roles(user) == {"operator", "viewer"}
        assert roles.user_roles(user) == {"operator", "viewer"}  # kept for the request
    assert roles.label(user) == "operator"


def test_the_header_names_the_strongest_role() -> None:
    assert roles.label(_user("pia", "pipeline")) == "pipeline"
    assert roles.label(_user("vic", "viewer")) == "viewer"
    assert roles.label(_user("nora")) == ""


def test_the_header_names_a_superuser_as_such() -> None:
    boss = _user("root")
    boss.is_superuser = True
    assert roles.label(boss) == "superuser"  # not "operator": channels and users are theirs too


@pytest.mark.parametrize(
    ("engine", "queries"),
    [("django.contrib.sessions.backends.file", 1), ("django.contrib.sessions.backends.db", 2)],
    ids=["file-sessions", "database-sessions"],
)
def test_dashboard_request_costs_one_query_plus_the_session(  # type: ignore[no-untyped-def]
    django_assert_num_queries, web_pipeline, settings, engine: str, queries: int
) -> None:
    """The user with its roles in one query; the session from a file (the SQLite default) or
    one more query (PostgreSQL without a shared cache)."""
    settings.SESSION_ENGINE = engine
    client = Client()
    client.force_login(_user("erin", "operator"))
    client.get("/datasets/")  # warm: first request may set the CSRF cookie etc.
    with django_assert_num_queries(queries):
        response = client.get("/datasets/")
    assert response.status_code == 200
    assert b"operator" in response.content


def test_api_request_costs_one_small_query_with_a_shared_cache(  # type: ignore[no-untyped-def]
    django_assert_num_queries, web_pipeline, settings
) -> None:
    settings.RATE_LIMIT_STORE = "cache"  # the rate-limit counter lives in the cache (Redis)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=_user('frank', 'viewer')).key}")
    with django_assert_num_queries(1):  # token with its user and roles
        response = client.get("/api/v1/datasets/")
    assert response.status_code == 200, response.content


def test_without_a_shared_cache_the_rate_counter_costs_one_statement(  # type: ignore[no-untyped-def]
    django_assert_num_queries, web_pipeline, settings
) -> None:
    settings.RATE_LIMIT_STORE = "database"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=_user('frank', 'viewer')).key}")
    assert client.get("/api/v1/datasets/").status_code == 200  # the window's counter row is created
    # token with its user and roles; the counter: one INSERT ... ON CONFLICT DO UPDATE
    # SET count = count + 1 RETURNING count.
    with django_assert_num_queries(2) as captured:
        response = client.get("/api/v1/datasets/")
    assert response.status_code == 200, response.content
    counter = [q["sql"] for q in captured.captured_queries if "dataplatform_ratecounter" in q["sql"]]
    assert len(counter) == 1
    assert counter[0].startswith("INSERT")
    assert "ON CONFLICT" in counter[0]
    assert "RETURNING" in counter[0]
    assert '"count" + 1' in counter[0]


def test_a_removed_role_applies_on_the_next_request(web_pipeline) -> None:  # type: ignore[no-untyped-def]
    user = _user("grace", "viewer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/v1/datasets/").status_code == 200
    user.groups.clear()
    assert client.get("/api/v1/datasets/").status_code == 403


def test_a_removed_role_applies_on_the_next_page(web_pipeline) -> None:  # type: ignore[no-untyped-def]
    user = _user("gwen", "viewer")
    client = Client()
    client.force_login(user)
    assert client.get("/datasets/").status_code == 200
    user.groups.clear()
    assert client.get("/datasets/").status_code == 403  # the no-role page


def test_sessions_end_on_logout_expiry_and_deactivation(web_pipeline) -> None:  # type: ignore[no-untyped-def]
    user = _user("heidi", "viewer")
    client = Client()
    client.force_login(user)
    assert client.get("/datasets/").status_code == 200
    session = client.session  # whichever engine stores it
    session.set_expiry(timezone.now() - timedelta(seconds=1))
    session.save()
    assert client.get("/datasets/").status_code == 302  # expired: back to the login page

    client.force_login(user)
    assert client.get("/datasets/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/datasets/").status_code == 302

    User.objects.filter(pk=user.pk).update(is_active=True)
    client.force_login(user)
    client.post("/accounts/logout/")
    assert client.get("/datasets/").status_code == 302


def test_the_cached_session_engine_reads_the_cache_then_the_database() -> None:
    """The engine used with CACHE_URL: a session is served from the cache, found in the
    database when the cache lost it, and gone once it ends or expires."""
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.core.cache import cache

    store = SessionStore()
    store["who"] = "ivan"
    store.create()
    key = store.session_key
    assert SessionStore(key).load() == {"who": "ivan"}
    cache.clear()  # e.g. a Redis restart: the database still has it
    assert SessionStore(key).load() == {"who": "ivan"}
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    cache.clear()
    expired = SessionStore(key)
    assert expired.load() == {}
    assert expired.session_key is None
    store.delete()
    assert SessionStore(key).load() == {}
