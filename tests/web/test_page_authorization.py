"""Who may open what on the dashboard: a matrix over every page route (outside /api/ and Django's
admin). A route missing here fails test_matrix_covers_every_page_route, so a new page cannot
ship without saying who may use it. Refusals are checked (they happen before any lookup, so the
ids in the URLs need not exist): anonymous visitors are sent to the login page, signed-in users
without a role get 403, viewers cannot act, operators cannot manage channels."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dataplatform.pipeline.app import Pipeline

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # anyone (probes, the login form, JSON 404s under /api)
SIGNED_IN = "signed-in"  # any signed-in account (its own API token; logging out)
READERS = "readers"  # viewer, operator, superuser
OPERATORS = "operators"  # operator, superuser
ADMINS = "admins"  # superuser

# route name -> (the method it is used with, who may use it)
PAGES: dict[str, tuple[str, str]] = {
    "health-live": ("get", PUBLIC),
    "health-ready": ("get", PUBLIC),
    "health": ("get", PUBLIC),
    "api-other": ("get", PUBLIC),
    "login": ("get", PUBLIC),
    "favicon": ("get", PUBLIC),  # a redirect to the static favicon.svg
    "metrics": ("get", READERS),  # or the METRICS_TOKEN bearer
    "logout": ("post", SIGNED_IN),
    "api-tokens": ("get", SIGNED_IN),
    "home": ("get", READERS),
    "alerts-page": ("get", READERS),
    "alert-page": ("get", READERS),
    "runs-page": ("get", READERS),
    "runs-poll": ("get", READERS),
    "search-page": ("get", READERS),
    "run-page": ("get", READERS),
    "run-live": ("get", READERS),
    "run-recount": ("post", READERS),
    "file-page": ("get", READERS),
    "datasets-page": ("get", READERS),
    "dataset-suggestions": ("get", READERS),
    "dataset-page": ("get", READERS),
    "silences-page": ("get", READERS),
    "alert-ack": ("post", OPERATORS),
    "run-retry": ("post", OPERATORS),
    "run-redispatch": ("post", OPERATORS),
    "run-cancel": ("post", OPERATORS),
    "file-retry": ("post", OPERATORS),
    "silence-create": ("post", OPERATORS),
    "silence-expire": ("post", OPERATORS),
    "channels-page": ("get", ADMINS),
    "channel-edit": ("post", ADMINS),
    "channel-disable": ("post", ADMINS),
    "channel-enable": ("post", ADMINS),
    "channel-delete": ("post", ADMINS),
    "channel-test": ("post", ADMINS),
}


def page_routes() -> list[tuple[str, str]]:
    """(path with placeholder ids, name) of every route outside /api/ and /admin/."""

    def walk(patterns: list[Any], prefix: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if text.startswith(("api", "admin")):
                    continue
                out.extend(walk(pattern.url_patterns, text))
            elif isinstance(pattern, URLPattern):
                out.append((text, str(pattern.name)))
        return out

    return walk(get_resolver().url_patterns, "")


def example_path(pattern: str) -> str:
    """A concrete path for a route pattern: converters and named groups become `x1`."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "x1", pattern)
    path = re.sub(r"<(?:\w+:)?\w+>", "x1", path)
    path = path.replace("^", "").replace("$", "").replace("(?:/.*)?", "")
    return "/" + path


def client_for(role: str | None) -> Client:
    client = Client()
    if role is None:
        return client
    user = User.objects.create_user(username=f"u-{role}", password="pw-for-tests-only-123",
                                    is_superuser=role == "superuser")
    if role in ("viewer", "operator"):
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client.force_login(user)
    return client


def test_matrix_covers_every_page_route() -> None:
    names = [name for _, name in page_routes()]
    assert "None" not in names, "every page route needs a name"
    missing = sorted(set(names) - set(PAGES))
    assert not missing, f"page routes without an authorisation entry: {missing}"
    assert not sorted(set(PAGES) - set(names)), "entries for routes that no longer exist"


def _routes(*whos: str) -> list[tuple[str, str, str]]:
    return [(example_path(p), name, PAGES[name][0]) for p, name in page_routes() if PAGES[name][1] in whos]


def test_anonymous_visitors_are_sent_to_sign_in(pipeline: Pipeline) -> None:
    client = client_for(None)
    for path, name, method in _routes(READERS, OPERATORS, ADMINS, SIGNED_IN):
        response = getattr(client, method)(path)
        if name == "metrics":
            assert response.status_code == 401, (name, response.status_code)
            continue
        assert response.status_code in (302, 403), (name, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), (name, response["Location"])


def test_public_routes_answer_anyone(pipeline: Pipeline) -> None:
    client = client_for(None)
    for path, name, method in _routes(PUBLIC):
        response = getattr(client, method)(path)
        assert response.status_code in (200, 301, 302, 404, 503), (name, response.status_code)  # 404: JSON /api


@pytest.mark.parametrize(("role", "refused"), [
    ("norole", (READERS, OPERATORS, ADMINS)),
    ("viewer", (OPERATORS, ADMINS)),
    ("operator", (ADMINS,)),
])
def test_each_role_is_refused_what_it_may_not_do(pipeline: Pipeline, role: str, refused: tuple[str, ...]) -> None:
    client = client_for(None if role == "norole" else role)
    if role == "norole":
        client.force_login(User.objects.create_user(username="u-norole", password="pw-for-tests-only-123"))
    for path, name, method in _routes(*refused):
        response = getattr(client, method)(path)
        assert response.status_code == 403, (role, name, response.status_code)
