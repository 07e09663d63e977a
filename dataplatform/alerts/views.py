"""Alert pages: the attention page at `/`, the alert list and one alert (with ack).

One template per page; htmx polls ask for a named partial of it (django-template-partials)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dataplatform.alerts.serializers import history_json
from dataplatform.pipeline.alerts import MAX_NOTE_LENGTH, Alert, AlertState, alert_ack
from dataplatform.pipeline.errors import InvalidCursor, InvalidTransition, NotFound, ValidationFailed
from dataplatform.pipeline.expectations import AlertKind
from dataplatform.pipeline.models import DATASET_NAME_RE, Run
from dataplatform.pipeline.states import RUN_IN_FLIGHT, run_accepts_retry
from dataplatform.pipeline.timeutil import parse_ts, utc_now
from dataplatform.web.decorators import actor_for, dashboard_page, htmx_target, is_operator, operator_only, render_page
from dataplatform.web.wiring import get_pipeline

# Most severe first: a failed run needs hands now; a missing run may still be on its way
# upstream; a stuck run may recover by itself; late is a warning. Ties: newest first.
SEVERITY = {AlertKind.FAILED: 0, AlertKind.MISSING: 1, AlertKind.STUCK: 2, AlertKind.LATE: 3}
IN_FLIGHT_LIMIT = 50
ALERT_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
ALERTS_PAGE_SIZE = 50


def _check_id(alert_id: str) -> None:
    # Episode ids are uuid4 hex: anything else (a guard key, a 2,000-character id) is unknown.
    if not ALERT_ID_RE.match(alert_id):
        raise NotFound(f"Alert {alert_id[:64]!r} does not exist.")


def attention_order(alerts: list[Alert]) -> list[Alert]:
    """Most severe first (failed > missing > stuck > late), newest first within a kind;
    acknowledged episodes after the open ones of the same kind (someone is on them)."""
    by_newest = sorted(alerts, key=lambda a: (a.opened_at, a.alert_id), reverse=True)
    return sorted(by_newest, key=lambda a: (SEVERITY[a.kind], a.state is AlertState.ACKNOWLEDGED))


def runs_in_flight(limit: int = IN_FLIGHT_LIMIT) -> list[Run]:
    """The newest runs in flight across datasets (one status-index Query per in-flight
    status, made at once; no Scan)."""
    p = get_pipeline()
    pages = p.reads.map(lambda status: p.runs.by_status(status, limit=limit).items, sorted(RUN_IN_FLIGHT))
    runs = [run for page in pages for run in page]
    runs.sort(key=lambda run: run.created_at, reverse=True)
    return runs[:limit]


def _today(snapshot: dict[str, Any] | None) -> tuple[list[dict[str, Any]], datetime | None]:
    """Each dataset's expectation for today as of the evaluator's last tick, and that tick's time."""
    if not snapshot:
        return [], None
    rows = [row for row in snapshot.get("today") or [] if isinstance(row, dict)]
    evaluated = snapshot.get("evaluatedAt")
    try:
        at = parse_ts(str(evaluated)) if evaluated else None
    except ValueError:
        at = None
    return rows, at


@require_GET
@dashboard_page
def attention_page(request: HttpRequest) -> HttpResponse:
    """What needs someone now: active alerts (most severe first), runs in flight, today's
    expectations. The page polls itself (one request per interval) for the `attention` partial.

    Reads: two Queries (open and acknowledged episodes), three (runs in flight), one GetItem
    (the evaluator's snapshot: today's expectation per dataset), whatever the number of datasets."""
    p = get_pipeline()
    alerts = attention_order(p.alerts.active())
    today, evaluated_at = _today(p.alerts.snapshot())
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.kind.value] = counts.get(alert.kind.value, 0) + 1
    context = {
        "alerts": alerts,
        "alert_counts": [(kind.value, counts.get(kind.value, 0)) for kind in sorted(SEVERITY, key=SEVERITY.get)],
        "inflight": runs_in_flight(),
        "today": today,
        "evaluated_at": evaluated_at,
        "now": utc_now(),
        "can_act": is_operator(request),
        "poll_seconds": settings.ATTENTION_POLL_SECONDS,
        "retryable": {a.alert_id for a in alerts if a.kind is AlertKind.FAILED and a.run_id},
        "redispatchable": {a.alert_id for a in alerts if a.kind is AlertKind.STUCK and a.run_id},
        "next_url": request.get_full_path() if htmx_target(request) is None else "/",
    }
    return render_page(request, "alerts/attention.html", context, partial="attention")


class AlertFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "open (default)")] + [(s.value, s.value) for s in
                                                                                  AlertState])
    datasetName = forms.CharField(required=False, max_length=128, label="Dataset")
    kind = forms.ChoiceField(required=False, choices=[("", "any kind")] + [(k.value, k.value) for k in AlertKind])
    cursor = forms.CharField(required=False, max_length=4096)

    def clean_datasetName(self) -> str:
        value = str(self.cleaned_data.get("datasetName") or "").strip()
        if value and not DATASET_NAME_RE.match(value):
            raise forms.ValidationError("Not a valid dataset name.")
        return value


@require_GET
@dashboard_page
def alerts_page(request: HttpRequest) -> HttpResponse:
    """Alert episodes newest first, filtered by state, dataset and kind (kept in the URL)."""
    form = AlertFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "alerts": [], "cursor": None, "problems": [], "query": ""}
    if form.is_valid():
        data = form.cleaned_data
        p = get_pipeline()

        def page(cursor: str | None) -> Any:
            if data["datasetName"]:
                return p.alerts.list_by_dataset(data["datasetName"], state=data["state"] or None,
                                                kind=data["kind"] or None, limit=ALERTS_PAGE_SIZE, cursor=cursor)
            return p.alerts.list_by_state(data["state"] or AlertState.OPEN, kind=data["kind"] or None,
                                          limit=ALERTS_PAGE_SIZE, cursor=cursor)

        try:
            found = page(data["cursor"] or None)
        except InvalidCursor:
            context["problems"].append("That page link has expired or was altered; showing the first page.")
            found = page(None)
        params = request.GET.copy()
        params.pop("cursor", None)
        context.update(alerts=found.items, cursor=found.cursor, query=params.urlencode())
    else:
        context["problems"] = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
    partial = "alert-rows" if htmx_target(request) == "alerts-more" else None
    return render_page(request, "alerts/alerts.html", context, partial=partial)


@require_GET
@dashboard_page
def alert_page(request: HttpRequest, alert_id: str) -> HttpResponse:
    """One episode: what, since when, the run behind it, who was told and every attempt; ack."""
    _check_id(alert_id)
    p = get_pipeline()
    alert = p.alerts.get(alert_id)  # NotFound: the decorator's 404 page
    history = history_json(p.notifications.alert_history(alert_id))
    run = None
    if alert.run_id:
        try:
            run = p.runs.get(alert.run_id)
        except NotFound:
            run = None  # the alert stays readable when its run is gone
    context = {
        "alert": alert,
        "run": run,
        "notifications": history["notifications"],
        "schedules": history["schedules"],
        "now": utc_now(),
        "can_act": is_operator(request),
        "can_retry": run is not None and alert.kind is AlertKind.FAILED and run_accepts_retry(run.status)
        and run.failed_files > 0,
        "stuck_in_flight": run is not None and alert.kind is AlertKind.STUCK and run.status in RUN_IN_FLIGHT,
        "max_note": MAX_NOTE_LENGTH,
        "next_url": request.get_full_path(),
    }
    return render_page(request, "alerts/alert_detail.html", context)


class AckForm(forms.Form):
    note = forms.CharField(required=False, max_length=MAX_NOTE_LENGTH, strip=True)
    confirm = forms.ChoiceField(choices=[("yes", "yes")], error_messages={
        "required": "Confirm the acknowledgement.", "invalid_choice": "Confirm the acknowledgement.",
    })
    next = forms.CharField(required=False, max_length=2048)


def _back(request: HttpRequest, target: str | None, alert_id: str) -> HttpResponse:
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("alert-page", alert_id=alert_id)


@require_POST
@dashboard_page
@operator_only
def alert_ack_view(request: HttpRequest, alert_id: str) -> HttpResponse:
    """Acknowledge (note optional, `confirm=yes` required); POST-redirect-GET back to `next`."""
    _check_id(alert_id)
    form = AckForm(request.POST)
    if not form.is_valid():
        text = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, f"Not acknowledged: {text}")
        return _back(request, request.POST.get("next"), alert_id)
    try:
        alert = alert_ack(get_pipeline(), alert_id=alert_id, note=form.cleaned_data["note"] or None,
                          actor=actor_for(request))
    except (InvalidTransition, ValidationFailed) as exc:
        messages.error(request, f"Not acknowledged: {exc.message}")
        return _back(request, form.cleaned_data["next"], alert_id)
    messages.success(
        request, f"Acknowledged the {alert.kind.value} alert of {alert.dataset_name} {alert.business_date}: "
                 "repeats stop; it resolves by itself when the condition clears.",
    )
    return _back(request, form.cleaned_data["next"], alert_id)
