"""Who may call what: a matrix over every URL pattern under /api/v1/, and CSRF for sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.expectations import AlertKind
from dataplatform.pipeline.timeutil import utc_now
from tests.api.conftest import ROLES, assert_json_error, make_user, scan_all, seed_dataset, seed_run

pytestmark = pytest.mark.django_db

READERS = {"viewer", "operator", "superuser"}
OPERATORS = {"operator", "superuser"}
TRIGGERERS = {"operator", "pipeline", "superuser"}
REPORTERS = {"pipeline", "superuser"}
ADMINS = {"superuser"}


@dataclass
class Call:
    """One method of one route: who may call it (SPEC section 4), and how to build the call."""

    method: str
    allowed: set[str]
    url: Callable[[dict[str, str]], str]
    body: Callable[[dict[str, str]], Any] = field(default=lambda ids: None)


# Every named route under /api/v1/. A route missing here fails test_matrix_covers_every_route.
MATRIX: dict[str, list[Call]] = {
    "run-list": [
        Call("get", READERS, lambda ids: "/api/v1/runs/?datasetName=sales"),
        Call("post", TRIGGERERS, lambda ids: "/api/v1/runs/",
             lambda ids: {"datasetName": "sales", "businessDate": "2024-03-05", "idempotencyKey": "matrix"}),
    ],
    "run-detail": [Call("get", READERS, lambda ids: f"/api/v1/runs/{ids['run']}/")],
    "run-files": [Call("get", READERS, lambda ids: f"/api/v1/runs/{ids['run']}/files/")],
    "run-events": [Call("get", READERS, lambda ids: f"/api/v1/runs/{ids['run']}/events/")],
    "run-retry": [Call("post", OPERATORS, lambda ids: f"/api/v1/runs/{ids['run']}/retry/", lambda ids: {})],
    "run-cancel": [
        Call("post", OPERATORS, lambda ids: f"/api/v1/runs/{ids['run']}/cancel/", lambda ids: {"reason": "matrix"})
    ],
    "run-redispatch": [
        Call("post", OPERATORS, lambda ids: f"/api/v1/runs/{ids['run']}/redispatch/", lambda ids: {"dryRun": True})
    ],
    "search-list": [Call("get", READERS, lambda ids: f"/api/v1/search/?q={ids['run']}")],
    "file-detail": [Call("get", READERS, lambda ids: f"/api/v1/files/{ids['file']}/")],
    "file-retry": [Call("post", OPERATORS, lambda ids: f"/api/v1/files/{ids['failed']}/retry/", lambda ids: {})],
    "file-status": [
        Call("post", REPORTERS, lambda ids: f"/api/v1/files/{ids['file']}/status/", lambda ids: {"status": "fetched"})
    ],
    "dataset-list": [Call("get", READERS, lambda ids: "/api/v1/datasets/")],
    "dataset-calendar": [
        Call("get", READERS, lambda ids: "/api/v1/datasets/sales/calendar/?from=2024-03-01&to=2024-03-07")
    ],
    "channel-list": [
        Call("get", ADMINS, lambda ids: "/api/v1/channels/"),
        Call("post", ADMINS, lambda ids: "/api/v1/channels/",
             lambda ids: {"kind": "email", "name": "matrix", "to": ["matrix@example.com"]}),
    ],
    "channel-detail": [
        Call("get", ADMINS, lambda ids: f"/api/v1/channels/{ids['channel']}/"),
        Call("patch", ADMINS, lambda ids: f"/api/v1/channels/{ids['channel']}/", lambda ids: {"kinds": ["late"]}),
        Call("delete", ADMINS, lambda ids: f"/api/v1/channels/{ids['channel']}/"),
    ],
    "channel-test": [Call("post", ADMINS, lambda ids: f"/api/v1/channels/{ids['channel']}/test/", lambda ids: {})],
    "silence-list": [
        Call("get", READERS, lambda ids: "/api/v1/silences/"),
        Call("post", OPERATORS, lambda ids: "/api/v1/silences/",
             lambda ids: {"endsAt": "2999-01-01T00:00:00Z", "startsAt": "2998-12-01T00:00:00Z", "reason": "matrix"}),
    ],
    "silence-detail": [Call("delete", OPERATORS, lambda ids: f"/api/v1/silences/{ids['silence']}/")],
    "expectation-list": [Call("get", READERS, lambda ids: "/api/v1/expectations/?date=2024-03-04")],
    "alert-list": [Call("get", READERS, lambda ids: "/api/v1/alerts/")],
    "alert-detail": [Call("get", READERS, lambda ids: f"/api/v1/alerts/{ids['alert']}/")],
    "alert-ack": [
        Call("post", OPERATORS, lambda ids: f"/api/v1/alerts/{ids['alert']}/ack/", lambda ids: {"note": "matrix"})
    ],
    "api-schema": [Call("get", READERS, lambda ids: "/api/v1/schema/")],
    "api-docs": [Call("get", READERS, lambda ids: "/api/v1/docs/")],
}
# Not an endpoint: the JSON 404 for any other URL under /api/v1/ (same answer for everyone).
CATCH_ALL = "api-not-found"


def api_patterns() -> list[URLPattern]:
    """Every URL pattern mounted under api/v1/ (walks the resolver, includes flattened)."""

    def walk(patterns: list[Any]) -> list[URLPattern]:
        out: list[URLPattern] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                out.extend(walk(pattern.url_patterns))
            else:
                out.append(pattern)
        return out

    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/v1/":
            return walk(entry.url_patterns)
    raise AssertionError("api/v1/ is not mounted")


def http_methods(pattern: URLPattern) -> set[str]:
    """The HTTP methods a route answers (viewset action maps, or an APIView's handlers); HEAD is
    GET without the body, so it is covered by GET's entry."""
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        return set(actions) - {"head"}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return set()
    return {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)}


def test_matrix_covers_every_route() -> None:
    patterns = api_patterns()
    names = {p.name for p in patterns}
    assert None not in names, "every API route needs a name"
    assert names == set(MATRIX) | {CATCH_ALL}, f"routes without a matrix entry: {names - set(MATRIX) - {CATCH_ALL}}"
    for pattern in patterns:
        if pattern.name == CATCH_ALL:
            continue
        covered = {call.method for call in MATRIX[pattern.name]}
        assert http_methods(pattern) == covered, (pattern.name, http_methods(pattern), covered)


def _seed(p: Pipeline) -> dict[str, str]:
    seed_dataset(p)
    run = seed_run(p, files=3, fail=1)
    files = sorted(p.files.iter_run(run.run_id), key=lambda f: f.status)
    failed = next(f for f in files if f.status == "failed")
    pending = next(f for f in files if f.status == "pending")
    channel = p.channels.create({"kind": "email", "name": "seed", "to": ["seed@example.com"]}, actor="seed").channel
    assert channel is not None
    span = {"startsAt": "2998-12-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z"}
    silence = p.silences.create({**span, "reason": "seed"}, actor="seed").silence
    alert = p.alerts.open(kind=AlertKind.FAILED, dataset_name="sales", environment=run.environment,
                          business_date=run.business_date.isoformat(), now=utc_now(), summary="matrix",
                          run_id=run.run_id)
    assert alert is not None
    return {"run": run.run_id, "file": pending.file_id, "failed": failed.file_id, "channel": channel.channel_id,
            "silence": silence.silence_id, "alert": alert.alert_id}


def _call(client: APIClient, call: Call, ids: dict[str, str]) -> Any:
    url = call.url(ids)
    if call.method == "get":
        return client.get(url)
    return getattr(client, call.method)(url, call.body(ids), format="json")


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_role_gets_exactly_what_spec_allows(
    name: str, pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    ids = _seed(pipeline)
    for call in MATRIX[name]:
        # Refused roles first, against a table snapshot: a refused call changes nothing. Nothing
        # writes between two refused calls, so one call's "after" is the next one's "before".
        before = scan_all(pipeline)
        for role in [r for r in ROLES if r not in call.allowed]:
            response = _call(client_for(role), call, ids)
            if role == "anonymous":
                assert_json_error(response, 401)
                assert response["WWW-Authenticate"].startswith("Token")
            else:
                assert_json_error(response, 403)
            # A refused call changes nothing but the audit trail: one record for a signed-in
            # caller's admin action (worker reports are not admin actions; 401s are only logged).
            admin = call.method in ("post", "patch", "delete") and not call.url(ids).endswith("/status/")
            after = scan_all(pipeline)
            assert_refusal_recorded(pipeline, before, after, 1 if admin and role != "anonymous" else 0)
            before = after
        for role in sorted(call.allowed):
            response = _call(client_for(role), call, ids)
            assert response.status_code not in (401, 403), (name, call.method, role, response.content[:300])
            assert response.status_code < 500, (name, call.method, role, response.content[:300])


def test_unknown_urls_under_api_are_json_404_for_everyone(client_for: Callable[[str], APIClient]) -> None:
    for role in ("anonymous", "viewer"):
        for url in ("/api/v1/nope/", "/api/v1/runs/a/b/c/", "/api/v2/runs/", "/api/v1/runs"):
            assert_json_error(client_for(role).get(url), 404)


def test_a_method_a_route_does_not_have_is_405_with_allow_for_every_role(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    """Not a role refusal (a superuser may do everything, yet no one can DELETE the runs list):
    405 and the methods the route has; anonymous callers still get 401 first."""
    for role in ("viewer", "operator", "superuser"):
        client = client_for(role)
        for method, url, allowed in (("delete", "/api/v1/runs/", "GET"), ("post", "/api/v1/datasets/", "GET"),
                                     ("put", "/api/v1/runs/some-run/cancel/", "POST")):
            response = getattr(client, method)(url)
            body = assert_json_error(response, 405)
            assert body["code"] == "method_not_allowed", (role, method, url)
            assert allowed in response["Allow"], (role, method, url, response["Allow"])
    assert_json_error(client_for("anonymous").delete("/api/v1/runs/"), 401)


def test_session_post_without_csrf_token_is_refused(pipeline: Pipeline, db: None) -> None:
    ids = _seed(pipeline)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    before = scan_all(pipeline)
    response = client.post(f"/api/v1/runs/{ids['run']}/cancel/", {"reason": "no token"}, format="json")
    body = assert_json_error(response, 403)
    assert "CSRF" in body["detail"]
    assert_refusal_recorded(pipeline, before, scan_all(pipeline), 1)

    # The same request with the token goes through (the session itself was fine).
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(f"/api/v1/runs/{ids['run']}/cancel/", {"reason": "with token"}, format="json",
                           HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"


def assert_refusal_recorded(
    pipeline: Pipeline, before: dict[str, list[Any]], after: dict[str, list[Any]], records: int
) -> None:
    """Every table but the audit trail unchanged; the audit trail grew by `records` refusals."""
    audit = pipeline.config.audit_table
    for table, items in before.items():
        if table != audit:
            assert after[table] == items, table
    added = [item for item in after[audit] if item not in before[audit]]
    assert len(added) == records, added
    assert all(item["outcome"]["S"] == "refused" for item in added)


def test_session_reads_work_and_browsable_api_is_for_logged_in_users_only(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], settings: Any
) -> None:
    settings.DEBUG = True  # the browsable API exists only there (it needs inline scripts)
    client = APIClient()
    client.force_login(make_user("viewer"))
    page = client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    # Errors stay JSON even when HTML was asked for.
    assert_json_error(client.post("/api/v1/runs/", {}, format="json", HTTP_ACCEPT="text/html"), 403)
    anonymous = APIClient().get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    assert_json_error(anonymous, 401)


def test_inactive_user_token_is_refused(pipeline: Pipeline, client_for: Callable[[str], APIClient]) -> None:
    client = client_for("viewer")
    User.objects.filter(username="viewer-user").update(is_active=False)
    assert_json_error(client.get("/api/v1/datasets/"), 401)
