"""/metrics: who may read it, the Prometheus text parsed by prometheus_client's own parser, and
numbers that match the expectations API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from dataplatform.alerts.metrics import render_metrics
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.timeutil import utc_now
from tests.alerts.conftest import report_all, scheduled_dataset, trigger

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]
TOKEN = "scraper-token-" + "x" * 24


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _samples(family: Any, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if name is None or s.name == name}


def test_who_may_read_metrics(pipeline: Pipeline, client_for: Callable[[str], APIClient], settings: Any,
                              viewer_client: Client) -> None:
    settings.METRICS_TOKEN = TOKEN
    anonymous = Client()
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client_for("viewer").get("/metrics").status_code == 200  # Token <key>
    assert client_for("norole").get("/metrics").status_code == 403
    assert client_for("pipeline").get("/metrics").status_code == 403
    assert viewer_client.get("/metrics").status_code == 200  # session
    refused = anonymous.get("/metrics", HTTP_AUTHORIZATION="Token not-a-token")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_the_bearer_token_is_off_when_not_configured(pipeline: Pipeline, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_match_the_expectations_api_and_carry_no_run_ids_or_dates(
    pipeline: Pipeline, client_for: Callable[[str], APIClient], settings: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    now = utc_now()
    for name in ("fx-rates", "bond-prices"):
        config = scheduled_dataset(pipeline, name, expectedBy="00:00", dueBy="00:01", startGraceMinutes=0,
                                   dueGraceMinutes=0)
        pipeline.datasets.register(name, now - timedelta(days=10))
        del config
    today = now.date().isoformat()
    yesterday = (now.date() - timedelta(days=1)).isoformat()
    done = trigger(pipeline, "fx-rates", today)
    report_all(pipeline, done.run_id, "preprocessed")
    broken = trigger(pipeline, "bond-prices", yesterday)
    report_all(pipeline, broken.run_id, "failed")
    trigger(pipeline, "bond-prices", today)  # in flight
    call_command("evaluate_alerts", "--once", stdout=StringIO())

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    families = _families(text)
    assert {"runmon_runs", "runmon_expectations", "runmon_alerts_open", "runmon_notifications",
            "runmon_run_oldest_inflight_start_timestamp_seconds",
            "runmon_evaluator_last_success_timestamp_seconds"} <= set(families)

    # runmon_expectations == the expectations API summed over the evaluator's 7-day window.
    client = client_for("viewer")
    expected: Counter[tuple[tuple[str, str], ...]] = Counter()
    for offset in range(7):
        day = (now.date() - timedelta(days=offset)).isoformat()
        for row in client.get(f"/api/v1/expectations/?date={day}").json()["results"]:
            expected[(("dataset", row["datasetName"]), ("environment", row["environment"]),
                      ("state", row["state"]))] += 1
    assert _samples(families["runmon_expectations"]) == {k: float(v) for k, v in expected.items()}

    runs = _samples(families["runmon_runs"])
    assert runs[(("dataset", "fx-rates"), ("environment", "staging"), ("status", "success"))] == 1
    assert runs[(("dataset", "bond-prices"), ("environment", "staging"), ("status", "failed"))] == 1
    open_alerts = _samples(families["runmon_alerts_open"])
    api_alerts = Counter((a["kind"], a["environment"]) for a in client.get("/api/v1/alerts/").json()["results"])
    assert {k: v for k, v in open_alerts.items() if v} == {
        (("environment", env), ("kind", kind)): float(n) for (kind, env), n in api_alerts.items()}
    assert open_alerts[(("environment", "prod"), ("kind", "stuck"))] == 0  # zeros are exported
    (oldest,) = _samples(families["runmon_run_oldest_inflight_start_timestamp_seconds"]).items()
    assert oldest[0] == (("dataset", "bond-prices"), ("environment", "staging"))
    (last,) = families["runmon_evaluator_last_success_timestamp_seconds"].samples
    assert abs(last.value - now.timestamp()) < 120
    # Labels never carry run ids or dates.
    assert done.run_id not in text
    assert broken.run_id not in text
    assert today not in text
    assert yesterday not in text


def test_counters_and_an_empty_store_render(pipeline: Pipeline) -> None:
    assert "runmon_alerts_open" in render_metrics(None).decode()
    pipeline.alerts.add_notification_counts({("webhook", "sent"): 2, ("webhook", "failed"): 1})
    pipeline.alerts.add_notification_counts({("webhook", "sent"): 3, ("bad label!", "sent"): 9})
    families = _families(render_metrics(pipeline.alerts.snapshot()).decode())
    counts = _samples(families["runmon_notifications"], "runmon_notifications_total")
    assert counts == {(("channel_kind", "webhook"), ("outcome", "failed")): 1.0,
                      (("channel_kind", "webhook"), ("outcome", "sent")): 5.0}
    # A snapshot written after the counters keeps them (the write SETs only its own attributes).
    pipeline.alerts.write_snapshot(utc_now(), {"alertsOpen": []})
    again = _families(render_metrics(pipeline.alerts.snapshot()).decode())
    assert _samples(again["runmon_notifications"], "runmon_notifications_total") == counts
