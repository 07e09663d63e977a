"""Error mapping, request ids, throttling, logging and the create_api_user command."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataplatform.api import errors as api_errors
from dataplatform.pipeline import selectors
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import StoreUnavailable
from tests.api.conftest import assert_json_error, seed_dataset, seed_run

pytestmark = pytest.mark.django_db


def test_store_unavailable_is_503_with_retry_after(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("The data store is unavailable or throttling; try again shortly.")

    monkeypatch.setattr(selectors, "run_get", down)
    response = client_for("viewer").get("/api/v1/runs/sales-20240101-x/")
    body = assert_json_error(response, 503)
    assert body["code"] == "store_unavailable"
    assert int(response["Retry-After"]) > 0
    assert pipeline.config.run_table not in response.content.decode()


def test_unhandled_error_is_json_500_without_traceback(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"table {pipeline.config.run_table} exploded")

    monkeypatch.setattr(selectors, "file_get", broken)
    response = client_for("viewer").get("/api/v1/files/some-file/")
    body = assert_json_error(response, 500)
    assert body == {"detail": "The server could not complete the request.", "code": "server_error"}
    assert "exploded" not in response.content.decode()


def test_django_level_errors_under_api_are_json() -> None:
    factory = RequestFactory()
    for handler, status in [(api_errors.page_not_found, 404), (api_errors.permission_denied, 403),
                            (api_errors.bad_request, 400)]:
        response = handler(factory.get("/api/v1/x/"), Exception("x"))
        assert response.status_code == status
        assert json.loads(response.content)["code"]
    response = api_errors.server_error(factory.get("/api/v1/x/"))
    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "The server could not complete the request.",
                                            "code": "server_error"}
    assert api_errors.page_not_found(factory.get("/runs/x/"), Exception("x"))["Content-Type"].startswith("text/html")


def test_request_id_is_echoed_or_generated(client_for: Callable[[str], APIClient]) -> None:
    client = client_for("anonymous")
    assert client.get("/api/v1/runs/", HTTP_X_REQUEST_ID="abc-123.X_y")["X-Request-ID"] == "abc-123.X_y"
    for bad in ["a" * 129, "has space", "new\nline", "<script>", ""]:
        generated = client.get("/api/v1/runs/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert generated != bad
        assert len(generated) == 32


def test_throttling_is_per_user_with_a_pipeline_rate(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], settings: Any
) -> None:
    settings.API_THROTTLE_RATE = "3/min"
    settings.API_PIPELINE_THROTTLE_RATE = "5/min"
    viewer, operator, worker = client_for("viewer"), client_for("operator"), client_for("pipeline")
    for _ in range(3):
        assert viewer.get("/api/v1/datasets/").status_code == 200
    response = viewer.get("/api/v1/datasets/")
    assert assert_json_error(response, 429)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert operator.get("/api/v1/datasets/").status_code == 200  # another user has its own budget
    codes = [worker.post("/api/v1/files/nope/status/", {"status": "fetched"}, format="json").status_code
             for _ in range(6)]
    assert codes == [404] * 5 + [429]


def test_admin_actions_and_errors_log_one_json_line_with_the_request_id(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], caplog: pytest.LogCaptureFixture
) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=2, fail=1)
    caplog.set_level(logging.INFO, logger="dataplatform.api")
    caplog.clear()
    client_for("operator").post(f"/api/v1/runs/{run.run_id}/retry/", {}, format="json", HTTP_X_REQUEST_ID="rq-1")
    client_for("operator").post(f"/api/v1/runs/{run.run_id}/cancel/", {"reason": 5}, format="json",
                                HTTP_X_REQUEST_ID="rq-2")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dataplatform.api"]
    actions = [line for line in lines if line["event"] == "admin_action"]
    assert [(a["action"], a["outcome"], a["requestId"]) for a in actions] == [
        ("retry", "allowed", "rq-1"), ("cancel", "refused", "rq-2")
    ]
    errors = [line for line in lines if line["event"] == "api_error"]
    assert [(e["status"], e["requestId"]) for e in errors] == [(400, "rq-2")]


def test_refused_input_for_an_admin_action_is_audited_in_the_log(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], caplog: pytest.LogCaptureFixture
) -> None:
    seed_dataset(pipeline)
    run = seed_run(pipeline, files=1)
    caplog.set_level(logging.INFO, logger="dataplatform.audit")
    caplog.clear()
    client_for("operator").post(f"/api/v1/runs/{run.run_id}/cancel/", {"reason": ""}, format="json",
                                HTTP_X_REQUEST_ID="rq-bad")
    audits = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dataplatform.audit"]
    assert [(a["action"], a["outcome"], a["actor"], a["requestId"]) for a in audits] == [
        ("cancel", "refused", "operator-user", "rq-bad")
    ]


def test_create_api_user_creates_updates_and_prints_the_token_last(db: None) -> None:
    out = io.StringIO()
    call_command("create_api_user", "etl-bot", "--role", "pipeline", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    user = User.objects.get(username="etl-bot")
    assert Token.objects.get(user=user).key == token
    assert [g.name for g in user.groups.all()] == ["pipeline"]
    assert not user.has_usable_password()

    out = io.StringIO()
    call_command("create_api_user", "etl-bot", "--role", "viewer", stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == token  # the token survives a role change
    assert [g.name for g in user.groups.all()] == ["viewer"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/nope/").status_code == 404
    with pytest.raises(Exception, match="invalid choice"):
        call_command("create_api_user", "x", "--role", "admin", stdout=io.StringIO(), stderr=io.StringIO())
