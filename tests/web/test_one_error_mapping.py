"""One mapping from domain errors to HTTP answers: the admin API, a dashboard page and the
Lambda handler answer the same domain error with the same status and `code`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.test import APIClient

from dataplatform.pipeline import lambda_handler, selectors
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import (
    DispatchFailed,
    InvalidCursor,
    InvalidTransition,
    NotFound,
    PipelineError,
    StoreUnavailable,
    ValidationFailed,
    error_answer,
)

ERRORS = [
    NotFound("Run 'x' does not exist."),
    ValidationFailed("Invalid input.", fields={"datasetName": "bad name"}),
    InvalidTransition("Run 'x' is 'success'.", current="success"),
    InvalidCursor("The cursor was altered."),
    StoreUnavailable("DynamoDB timed out."),
    DispatchFailed("2 messages were not sent.", failed_ids=["a", "b"]),
]


def _raise(exc: PipelineError) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


@pytest.mark.django_db
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_api_page_and_lambda_answer_a_domain_error_alike(
    error: PipelineError, pipeline: Pipeline, client_for: Callable[[str], APIClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = error_answer(error)
    monkeypatch.setattr(selectors, "run_get", _raise(error))
    monkeypatch.setattr(lambda_handler, "run_trigger", _raise(error))

    api = client_for("viewer").get("/api/v1/runs/r-1/")
    assert (api.status_code, api.json()["code"]) == (expected.status, expected.code)

    user = User.objects.create_user(username="page-viewer", password="pw-for-tests-only-123")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    browser = Client()
    browser.force_login(user)
    page = browser.get("/runs/r-1/")
    assert page.status_code == expected.status
    assert re.findall(r'data-code="([a-z_]+)"', page.content.decode())[0] == expected.code

    event = {"body": json.dumps({"datasetName": "ds", "businessDate": "2024-03-04", "files": ["s3://b/k"]})}
    answer = lambda_handler.api_lambda_handler(event, None)
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (expected.status, expected.code)
    # The same body shape too: `fields` as lists of messages, `current` on conflicts.
    assert json.loads(answer["body"]) == api.json() == expected.body
    assert answer["headers"].get("Retry-After") == api.headers.get("Retry-After") == expected.headers.get("Retry-After")
