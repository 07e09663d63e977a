"""The alerts and expectations API on DynamoDB Local: filters, defaults, paging, the alert's
notification history, and ack (roles, audit, repeats, refusals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.evaluator import evaluate
from dataplatform.pipeline.notify import HttpResponse, Transports, deliver_notifications
from tests.alerts.conftest import DATASET, at, scheduled_dataset, tick, trigger
from tests.api.conftest import assert_json_error

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_expectations_default_to_each_datasets_own_today(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    scheduled_dataset(pipeline, "utc-prices")
    scheduled_dataset(pipeline, "tokyo-prices", timezone="Asia/Tokyo")
    with time_machine.travel(at("23:30"), tick=False):
        body = client_for("viewer").get("/api/v1/expectations/").json()
    dates = {row["datasetName"]: row["businessDate"] for row in body["results"]}
    assert dates == {"tokyo-prices": "2026-03-03", "utc-prices": "2026-03-02"}
    assert body["next"] is None


def test_expectations_of_a_date_show_the_state_and_the_run_behind_it(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    with time_machine.travel(at("06:10"), tick=False):
        run = trigger(pipeline)
    body = client_for("viewer").get(f"/api/v1/expectations/?date=2026-03-02&datasetName={DATASET}").json()
    (row,) = body["results"]
    assert (row["state"], row["runId"], row["runs"]) == ("stuck", run.run_id, 1)  # months without progress
    assert row["dueAt"] == "2026-03-02T08:00:00.000000Z"
    assert sorted(row["alerts"]) == ["late", "stuck"]


def test_expectations_filters_and_bad_input(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    client = client_for("viewer")
    assert client.get("/api/v1/expectations/?date=2026-03-02&environment=prod").json()["results"] == []
    assert client.get("/api/v1/expectations/?date=2026-03-02&environment=staging").json()["results"][0][
        "state"] == "missing"
    assert client.get("/api/v1/expectations/?date=2026-03-01").json()["results"][0]["state"] == "skipped"
    assert_json_error(client.get("/api/v1/expectations/?datasetName=nope"), 404)
    assert assert_json_error(client.get("/api/v1/expectations/?date=2026-02-30"), 400)["fields"]["date"]
    assert_json_error(client.get("/api/v1/expectations/?environment=dev"), 400)


def test_alerts_are_newest_first_filtered_and_paged_with_next(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    for minute, name in (("07:00", "a-set"), ("07:01", "b-set"), ("07:02", "c-set")):
        # Registered one tick apart: the episodes open one minute apart.
        scheduled_dataset(pipeline, name)
        evaluate(pipeline, now=at(minute))
    client = client_for("viewer")
    first = client.get("/api/v1/alerts/?limit=2").json()
    assert [a["datasetName"] for a in first["results"]] == ["c-set", "b-set"]
    assert all(a["state"] == "open" and a["kind"] == "missing" for a in first["results"])
    second = client.get(_path(first["next"])).json()
    assert [a["datasetName"] for a in second["results"]] == ["a-set"]
    assert second["next"] is None
    assert client.get("/api/v1/alerts/?kind=failed").json()["results"] == []
    assert [a["datasetName"] for a in client.get("/api/v1/alerts/?datasetName=b-set").json()["results"]] == ["b-set"]
    assert client.get("/api/v1/alerts/?state=resolved").json()["results"] == []
    assert_json_error(client.get("/api/v1/alerts/?state=closed"), 400)
    assert_json_error(client.get("/api/v1/alerts/?kind=late&cursor=" + first["next"].split("cursor=")[1]), 400)


def _webhook_channel(p: Pipeline) -> str:
    result = p.channels.create(
        {"kind": "webhook", "name": "ops-hook", "url": "https://hooks.example.com/run-monitor"}, actor="test"
    )
    return result.channel.channel_id


def test_alert_detail_lists_who_was_told_and_every_attempt(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    _webhook_channel(pipeline)
    answers = iter([HttpResponse(503, "busy"), HttpResponse(200, "ok")])
    sent: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpResponse:
        sent.append(headers["webhook-id"])
        return next(answers)

    def deliver(p: Pipeline, now: datetime) -> Any:
        return deliver_notifications(p, now, transports=Transports(http_post=post))

    result = evaluate(pipeline, now=at("07:00"), deliver=deliver)
    (opened,) = result.opened
    deliver(pipeline, at("07:05"))  # the retry after the 1-minute backoff
    body = client_for("viewer").get(f"/api/v1/alerts/{opened.alert_id}/").json()
    assert body["kind"] == "missing"
    assert body["state"] == "open"
    (notification,) = body["notifications"]
    assert notification["type"] == "alert.opened"
    assert notification["outcome"] == "sent"
    (delivery,) = notification["deliveries"]
    assert (delivery["channelName"], delivery["channelKind"], delivery["status"]) == ("ops-hook", "webhook", "sent")
    assert [a["statusCode"] for a in delivery["attempts"]] == [503, 200]
    assert delivery["attempts"][0]["error"].startswith("HTTP 503")
    assert len(set(sent)) == 1  # the same webhook-id on the retry
    assert [s["itemType"] for s in body["schedules"]] == ["reminder"]


def test_alert_detail_of_an_unknown_or_malformed_id_is_404(
    pipeline: Pipeline, client_for: Callable[[str], APIClient]
) -> None:
    client = client_for("viewer")
    assert_json_error(client.get(f"/api/v1/alerts/{'0' * 32}/"), 404)
    assert_json_error(client.get("/api/v1/alerts/evaluator%23heartbeat/"), 404)


def _audit(p: Pipeline, alert_id: str) -> list[Any]:
    return p.audit.for_target(f"alert#{alert_id}", limit=50).items


def test_ack_records_who_and_why_and_repeats_change_nothing(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    client = client_for("operator")
    url = f"/api/v1/alerts/{opened.alert_id}/ack/"
    body = client.post(url, {"note": "upstream is late, on it"}, format="json").json()
    assert (body["state"], body["acknowledgedBy"], body["ackNote"]) == (
        "acknowledged", "operator-user", "upstream is late, on it")
    again = client.post(url, {}, format="json")
    assert again.status_code == 200
    assert again.json()["acknowledgedAt"] == body["acknowledgedAt"]
    records = _audit(pipeline, opened.alert_id)
    assert [(r.action, r.outcome, r.detail["noop"]) for r in reversed(records)] == [
        ("ack", "allowed", False), ("ack", "allowed", True)]
    assert records[-1].reason == "upstream is late, on it"
    # Acknowledged episodes stay active: the evaluator does not reopen or resolve them.
    assert tick(pipeline, "07:05").opened == []
    assert pipeline.alerts.get(opened.alert_id).state == "acknowledged"


def test_ack_of_a_resolved_alert_is_409_and_audited_as_refused(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    pipeline.alerts.resolve(opened, now=at("07:10"), resolution="test")
    body = assert_json_error(
        client_for("operator").post(f"/api/v1/alerts/{opened.alert_id}/ack/", {}, format="json"), 409
    )
    assert body["current"] == "resolved"
    (record,) = _audit(pipeline, opened.alert_id)
    assert (record.outcome, record.detail["error"]) == ("refused", "invalid_transition")


def test_ack_refusals_by_role_and_input_write_nothing(
    pipeline: Pipeline, dataset: DatasetConfig, client_for: Callable[[str], APIClient]
) -> None:
    (opened,) = tick(pipeline, "07:00").opened
    url = f"/api/v1/alerts/{opened.alert_id}/ack/"
    assert_json_error(client_for("viewer").post(url, {}, format="json"), 403)
    assert_json_error(client_for("anonymous").post(url, {}, format="json"), 401)
    operator = client_for("operator")
    assert assert_json_error(operator.post(url, {"note": "x" * 1001}, format="json"), 400)["fields"]["note"]
    assert_json_error(operator.post(url, {"note": "ok", "extra": 1}, format="json"), 400)
    assert_json_error(operator.post(f"/api/v1/alerts/{'a' * 32}/ack/", {}, format="json"), 404)
    assert pipeline.alerts.get(opened.alert_id).state == "open"
    assert _audit(pipeline, opened.alert_id) == []


def test_the_fast_representation_equals_the_alert_serializer(pipeline: Pipeline, dataset: DatasetConfig) -> None:
    from dataplatform.alerts.serializers import AlertSerializer
    from dataplatform.api.represent import represent, to_json

    (opened,) = tick(pipeline, "07:00").opened
    acked = pipeline.alerts.ack(opened.alert_id, by="someone", now=at("07:01"), note="n")
    resolved = pipeline.alerts.resolve(acked, now=at("07:30"), resolution="done")
    for alert in (opened, acked, resolved):
        assert represent(AlertSerializer, alert) == dict(AlertSerializer(to_json(alert)).data)
