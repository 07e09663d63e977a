"""The silence API (/api/v1/silences/) on moto: create (always with an end), list by status,
expire, weekly maintenance windows, validation, roles, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from tests.api.conftest import assert_json_error

from .conftest import audit_actions, audit_count

pytestmark = pytest.mark.django_db

Clients = Callable[[str], APIClient]


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def silence(client: APIClient, **body: Any) -> Any:
    payload = {"endsAt": iso(timedelta(hours=2)), "reason": "vendor outage", **body}
    return client.post("/api/v1/silences/", payload, format="json")


def test_operator_creates_a_silence_and_viewers_list_it(pipeline: Pipeline, client_for: Clients) -> None:
    response = silence(client_for("operator"), matchers={"datasetName": "sales", "kind": "late"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["matchers"] == {"datasetName": "sales", "kind": "late"}
    assert created["status"] == "active"
    assert created["author"] == "operator-user"
    assert created["reason"] == "vendor outage"

    listing = client_for("viewer").get("/api/v1/silences/")
    assert listing.status_code == 200
    assert [s["silenceId"] for s in listing.json()["results"]] == [created["silenceId"]]
    assert listing.json()["next"] is None
    assert client_for("viewer").get("/api/v1/silences/?status=expired").json()["results"] == []
    assert client_for("viewer").get("/api/v1/silences/?status=active").json()["results"][0]["silenceId"] == (
        created["silenceId"])


def test_upcoming_silence_with_a_weekly_maintenance_window(pipeline: Pipeline, client_for: Clients) -> None:
    window = {"days": ["sat", "sun"], "start": "22:00", "end": "02:00", "timezone": "Europe/London"}
    response = silence(client_for("operator"), startsAt=iso(timedelta(days=1)), endsAt=iso(timedelta(days=120)),
                       window=window, matchers={"environment": "prod"})
    assert response.status_code == 201, response.content
    assert response.json()["window"] == window
    assert response.json()["status"] == "upcoming"
    assert [s["status"] for s in client_for("viewer").get("/api/v1/silences/?status=upcoming").json()["results"]] == [
        "upcoming"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endsAt": None}, "endsAt"),
        ({"endsAt": "2026-03-02T07:00:00"}, "endsAt"),  # no offset: ambiguous
        ({"endsAt": 1772434800}, "endsAt"),
        ({"endsAt": "tomorrow"}, "endsAt"),
        ({"reason": ""}, "reason"),
        ({"matchers": {"team": "x"}}, "matchers"),
        ({"matchers": {"kind": "loud"}}, "matchers"),
        ({"matchers": "sales"}, "matchers"),
        ({"window": {"days": ["sat"], "start": "25:00", "end": "02:00"}}, "window"),
        ({"window": {"days": ["sat"], "start": "22:00", "end": "02:00", "timezone": "Mars/Olympus"}}, "window"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_silence_bodies_get_400_with_fields_and_write_nothing(
    body: dict[str, Any], field: str, pipeline: Pipeline, client_for: Clients
) -> None:
    payload = {"endsAt": iso(timedelta(hours=2)), "reason": "vendor outage", **body}
    if payload["endsAt"] is None:
        del payload["endsAt"]
    before = audit_count(pipeline)
    response = client_for("operator").post("/api/v1/silences/", payload, format="json")
    error = assert_json_error(response, 400)
    assert any(name.split(".")[0] == field for name in error.get("fields", {})), error
    assert pipeline.silences.all() == []
    assert audit_count(pipeline) == before


@pytest.mark.parametrize(
    ("starts", "ends"),
    [
        (timedelta(hours=2), timedelta(hours=1)),  # ends before it starts
        (None, timedelta(hours=-1)),  # already over
        (None, timedelta(days=91)),  # longer than 90 days
    ],
)
def test_silences_that_would_not_end_properly_are_refused(
    starts: timedelta | None, ends: timedelta, pipeline: Pipeline, client_for: Clients
) -> None:
    extra = {"startsAt": iso(starts)} if starts else {}
    response = silence(client_for("operator"), endsAt=iso(ends), **extra)
    error = assert_json_error(response, 400)
    assert "endsAt" in error["fields"]
    assert pipeline.silences.all() == []


def test_delete_expires_now_and_a_second_delete_is_a_conflict(pipeline: Pipeline, client_for: Clients) -> None:
    operator = client_for("operator")
    silence_id = silence(operator).json()["silenceId"]
    expired = operator.delete(f"/api/v1/silences/{silence_id}/")
    assert expired.status_code == 200, expired.content
    assert expired.json()["status"] == "expired"
    assert expired.json()["expiredBy"] == "operator-user"
    again = assert_json_error(operator.delete(f"/api/v1/silences/{silence_id}/"), 409)
    assert again["current"] == "expired"
    assert_json_error(operator.delete("/api/v1/silences/nope123/"), 404)
    assert [s["silenceId"] for s in operator.get("/api/v1/silences/?status=expired").json()["results"]] == [silence_id]


def test_viewers_cannot_create_or_expire(pipeline: Pipeline, client_for: Clients) -> None:
    silence_id = silence(client_for("operator")).json()["silenceId"]
    viewer = client_for("viewer")
    assert_json_error(silence(viewer), 403)
    assert_json_error(viewer.delete(f"/api/v1/silences/{silence_id}/"), 403)
    assert len(pipeline.silences.all()) == 1
    assert_json_error(client_for("anonymous").get("/api/v1/silences/"), 401)
    assert_json_error(client_for("viewer").get("/api/v1/silences/?status=forever"), 400)


def test_silence_actions_are_audited(pipeline: Pipeline, client_for: Clients) -> None:
    operator = client_for("operator")
    silence_id = silence(operator, matchers={"datasetName": "sales"}).json()["silenceId"]
    operator.delete(f"/api/v1/silences/{silence_id}/")
    operator.delete(f"/api/v1/silences/{silence_id}/")
    assert audit_actions(pipeline, f"silence#{silence_id}") == [
        ("silence.create", "allowed"),
        ("silence.expire", "allowed"),
        ("silence.expire", "refused"),
    ]
    created = pipeline.audit.for_target(f"silence#{silence_id}", limit=10).items[-1]
    assert created.reason == "vendor outage"
    assert created.detail is not None
    assert created.detail["matchers"] == {"datasetName": "sales"}
