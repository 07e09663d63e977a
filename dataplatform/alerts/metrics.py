"""/metrics: Prometheus text built per request from the evaluator's snapshot (SPEC section 9).

Correct under gunicorn's several worker processes without prometheus_client's multiprocess
mode: nothing is counted in a process. Every scrape reads the snapshot item (one GetItem) and
builds a fresh `CollectorRegistry` from it, so every worker and every instance serves the same
numbers. The gauges are the snapshot the last evaluator tick wrote; the notification counter
(`runmon_notifications_total`) is the ADD-only counters the evaluator keeps on the same item
after each sender tick. Labels never carry run ids or dates."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from rest_framework.exceptions import AuthenticationFailed

from dataplatform.accounts.backends import RoleTokenAuthentication
from dataplatform.accounts.roles import OPERATOR, VIEWER, has_role
from dataplatform.pipeline.errors import PipelineError, error_answer
from dataplatform.pipeline.expectations import AlertKind
from dataplatform.pipeline.models import Environment
from dataplatform.web.wiring import get_pipeline


class SnapshotCollector(Collector):
    """The metric families of one snapshot (a dict from `AlertRepository.snapshot()`)."""

    def __init__(self, snapshot: dict[str, Any] | None) -> None:
        self.snapshot = snapshot or {}

    def _rows(self, name: str) -> Iterable[dict[str, Any]]:
        rows = self.snapshot.get(name)
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "runmon_runs", "Runs of the evaluator's window (business dates) per dataset, environment and status.",
            labels=["dataset", "environment", "status"],
        )
        for row in self._rows("runs"):
            runs.add_metric([str(row["dataset"]), str(row["environment"]), str(row["status"])], float(row["count"]))
        yield runs

        expectations = GaugeMetricFamily(
            "runmon_expectations", "Business dates of the evaluator's window per dataset, environment and state.",
            labels=["dataset", "environment", "state"],
        )
        for row in self._rows("expectations"):
            expectations.add_metric(
                [str(row["dataset"]), str(row["environment"]), str(row["state"])], float(row["count"])
            )
        yield expectations

        alerts = GaugeMetricFamily(
            "runmon_alerts_open", "Active (open or acknowledged) alert episodes per kind and environment.",
            labels=["kind", "environment"],
        )
        counts = {(str(r["kind"]), str(r["environment"])): float(r["count"]) for r in self._rows("alertsOpen")}
        # Every kind and environment, zeros included: an alert rule on "> 0" must not see "absent".
        keys = {(k.value, e.value) for k in AlertKind for e in Environment} | set(counts)
        for key in sorted(keys):
            alerts.add_metric(list(key), counts.get(key, 0.0))
        yield alerts

        oldest = GaugeMetricFamily(
            "runmon_run_oldest_inflight_start_timestamp_seconds",
            "Creation time (Unix seconds) of the oldest run still in flight per dataset and environment.",
            labels=["dataset", "environment"],
        )
        for row in self._rows("oldestInflightStart"):
            oldest.add_metric([str(row["dataset"]), str(row["environment"])], float(row["timestamp"]))
        yield oldest

        last_success = GaugeMetricFamily(
            "runmon_run_last_success_timestamp_seconds",
            "Finish time (Unix seconds) of the newest successful run per dataset and environment.",
            labels=["dataset", "environment"],
        )
        for row in self._rows("lastRunSuccess"):
            last_success.add_metric([str(row["dataset"]), str(row["environment"])], float(row["timestamp"]))
        yield last_success

        evaluator = GaugeMetricFamily(
            "runmon_evaluator_last_success_timestamp_seconds",
            "The instant (Unix seconds) the last successful evaluator tick evaluated.",
        )
        if isinstance(self.snapshot.get("evaluatorLastSuccess"), int | float):
            evaluator.add_metric([], float(self.snapshot["evaluatorLastSuccess"]))
        yield evaluator

        notifications = CounterMetricFamily(
            "runmon_notifications", "Notification delivery attempts per channel kind and outcome "
            "(sent, failed, retried, skipped), counted in DynamoDB by every sender.",
            labels=["channel_kind", "outcome"],
        )
        for row in self._rows("notifications"):
            notifications.add_metric([str(row["channelKind"]), str(row["outcome"])], float(row["count"]))
        yield notifications


def render_metrics(snapshot: dict[str, Any] | None) -> bytes:
    """The Prometheus text exposition of `snapshot`, from a registry made for this call."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


def _plain(status: int, text: str, **headers: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may read /metrics: the scraper's bearer token (METRICS_TOKEN,
    compared in constant time), or a viewer/operator by API token or session."""
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    challenge = {"WWW_Authenticate": 'Bearer realm="metrics"'}
    if scheme.lower() == "bearer":
        expected = settings.METRICS_TOKEN
        if expected and hmac.compare_digest(credential.strip().encode(), expected.encode()):
            return None
        return _plain(401, "Invalid metrics token.", **challenge)
    user: Any = None
    if scheme.lower() == "token":
        try:
            found = RoleTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
        except AuthenticationFailed as exc:
            return _plain(401, str(exc.detail), **challenge)
        user = found[0] if found else None
    else:
        user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _plain(401, "Authentication required (Authorization: Bearer <METRICS_TOKEN> or Token <key>).",
                      **challenge)
    if not has_role(user, VIEWER, OPERATOR):
        return _plain(403, "Your role does not allow reading metrics.")
    return None


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics (see the module docstring)."""
    refused = _refusal(request)
    if refused is not None:
        return refused
    try:
        snapshot = get_pipeline().alerts.snapshot()
    except PipelineError as exc:
        answer = error_answer(exc)
        return _plain(answer.status, str(answer.body["detail"]), **{k.replace("-", "_"): v
                                                                     for k, v in answer.headers.items()})
    return HttpResponse(render_metrics(snapshot), content_type=CONTENT_TYPE_LATEST)

