"""Run pages: the runs list (filters, paging, live rows) and one run (counts, files, audit, actions).

Each page is one template; htmx requests get a named partial of it (chosen by HX-Target)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from dataplatform.pipeline import selectors, services
from dataplatform.pipeline.audit import AuditRecord
from dataplatform.pipeline.dynamo import Page
from dataplatform.pipeline.errors import InvalidCursor, InvalidTransition, ValidationFailed
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.states import RUN_IN_FLIGHT, FileStatus, run_accepts_retry
from dataplatform.web.decorators import (
    actor_for,
    admin_action,
    audit_page_refusal,
    dashboard_page,
    htmx_target,
    is_htmx,
    is_operator,
    operator_only,
    render_page,
)
from dataplatform.web.throttle import throttled
from dataplatform.web.wiring import get_pipeline
from runs.forms import CancelForm, FileFilterForm, RunFilterForm

PAGE_SIZE = 50
FILES_PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 25
RUN_CHANGED_EVENT = "run-changed"

# htmx target id on the run page -> partial of runs/run_detail.html that answers it.
# htmx target -> (partial, data it needs). The full page reads the run and the first page of
# its files (2 DynamoDB requests, whatever the run's size); exact counts (a read of every file
# item) and the audit trail arrive in their own requests, and the 5 s status poll reads only
# the run item (stored counters, kept with ADD).
RUN_PARTIALS: dict[str, tuple[str, frozenset[str]]] = {
    "run-status": ("status", frozenset()),
    "run-actions": ("actions", frozenset()),
    "run-attrs": ("attrs", frozenset()),
    "run-exact": ("exact", frozenset({"exact"})),
    "files": ("files", frozenset({"files"})),
    "files-more": ("file-rows", frozenset({"files"})),
    "events": ("events", frozenset({"events"})),
    "events-more": ("event-rows", frozenset({"events"})),
}


@require_GET
@dashboard_page
def runs_page(request: HttpRequest) -> HttpResponse:
    """Runs newest first, filtered by the query string; htmx "load more" gets only new rows."""
    form = RunFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "runs": [], "cursor": None, "recent_only": False, "problems": []}
    if form.is_valid():
        filters = form.filters()
        cursor = form.cleaned_data.get("cursor") or None
        try:
            context.update(_runs(filters, cursor))
        except InvalidCursor:
            context["problems"].append("That page link has expired or was altered; showing the first page.")
            context.update(_runs(filters, None))
        except ValidationFailed as exc:
            context["problems"].append(exc.message)
        context["query"] = _query(request, drop=("cursor",))
    else:
        context["problems"] = [f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in
                               form.errors.items()]
    partial = "rows" if htmx_target(request) == "load-more" else "results"
    return render_page(request, "runs/runs.html", context, partial=partial)


def _runs(filters: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    pipeline = get_pipeline()
    if filters["dataset_name"] or filters["status"]:
        page = selectors.runs_list(pipeline, **filters, limit=PAGE_SIZE, cursor=cursor)
        return {"runs": page.items, "cursor": page.cursor, "recent_only": False}
    # No dataset and no status: the attention list (failed + in flight first), no Scan.
    runs = selectors.runs_recent(pipeline, limit=PAGE_SIZE)
    day, env = filters["business_date"], filters["environment"]
    runs = [
        r for r in runs
        if (day is None or r.business_date.isoformat() == day) and (env is None or r.environment == env)
    ]
    return {"runs": runs, "cursor": None, "recent_only": True}


def _query(request: HttpRequest, *, drop: tuple[str, ...]) -> str:
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    return params.urlencode()


@require_GET
@dashboard_page
def run_row(request: HttpRequest, run_id: str) -> HttpResponse:
    """One row of the runs table, polled while the run is in flight; 286 stops the polling."""
    run = selectors.run_get(get_pipeline(), run_id=run_id)
    if run.status in RUN_IN_FLIGHT:
        return render_page(request, "runs/runs.html", {"run": run}, partial="run-row")
    html = render_to_string("runs/runs.html#run-row", {"run": run}, request=request)
    response = HttpResponseStopPolling(html)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _wants_exact_counts(request: HttpRequest) -> bool:
    """Exact counts read every file item of the run: they count against PAGE_ACTION_RATE."""
    return request.GET.get("exact") == "1" or htmx_target(request) == "run-exact"


@require_GET
@dashboard_page
@throttled("exact-counts", when=_wants_exact_counts)
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    """Everything about one run; htmx asks for the section named by HX-Target."""
    target = htmx_target(request)
    if target is None:
        # Without JavaScript, the links of the lazy sections ask for them by query string.
        wanted = {name for name in ("exact", "events") if request.GET.get(name) == "1"}
        partial, needs = "status", frozenset({"files", *wanted})
    else:
        partial, needs = RUN_PARTIALS.get(target, ("status", frozenset()))
    context = _run_context(request, run_id, needs=needs)
    if target is not None and partial == "status" and context["run"].status not in RUN_IN_FLIGHT:
        html = render_to_string("runs/run_detail.html#status", context, request=request)
        response = HttpResponseStopPolling(html)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response
    return render_page(request, "runs/run_detail.html", context, partial=partial)


def _run_context(
    request: HttpRequest, run_id: str, *, needs: frozenset[str] = frozenset(), **extra: Any
) -> dict[str, Any]:
    """The run plus what `needs` asks for: "files" (one page), "events" (one page), "exact"
    (per-status counts counted from FileTable)."""
    pipeline = get_pipeline()
    run = selectors.run_get(pipeline, run_id=run_id)
    form = FileFilterForm(request.GET)
    problems: list[str] = []
    status = files_cursor = events_cursor = None
    if form.is_valid():
        status = form.cleaned_data["fileStatus"] or None
        files_cursor = form.cleaned_data["filesCursor"] or None
        events_cursor = form.cleaned_data["eventsCursor"] or None
    else:
        problems.append("Unknown file status filter; showing all files.")
    files: Page[FileRecord] | None = None
    if "files" in needs:
        try:
            files = selectors.files_list(
                pipeline, run_id=run_id, status=status, limit=FILES_PAGE_SIZE, cursor=files_cursor
            )
        except InvalidCursor:
            problems.append("That page link has expired or was altered; showing the first page of files.")
            files = selectors.files_list(pipeline, run_id=run_id, status=status, limit=FILES_PAGE_SIZE)
    events: Page[AuditRecord] | None = None
    if "events" in needs:
        try:
            events = selectors.run_events(pipeline, run_id=run_id, limit=EVENTS_PAGE_SIZE, cursor=events_cursor)
        except InvalidCursor:
            problems.append("That page link has expired or was altered; showing the newest events.")
            events = selectors.run_events(pipeline, run_id=run_id, limit=EVENTS_PAGE_SIZE)
    counts = run.counts()
    exact = selectors.run_file_counts(pipeline, run_id=run_id) if "exact" in needs else None
    return {
        "run": run,
        "counts": counts,
        "counts_total": run.resolved_files,
        "exact_counts": exact,
        "exact_total": sum(exact.values()) if exact is not None else None,
        "exact_differs": exact is not None and exact != counts,
        "files_loaded": files is not None,
        "files": files.items if files else [],
        "files_cursor": files.cursor if files else None,
        "file_status": status or "",
        "file_statuses": [s.value for s in FileStatus],
        "events_loaded": events is not None,
        "events": events.items if events else [],
        "events_cursor": events.cursor if events else None,
        "can_act": is_operator(request),
        "can_retry": run_accepts_retry(run.status) and run.failed_files > 0,
        "can_cancel": run.status in RUN_IN_FLIGHT,
        "problems": problems,
        "cancel_form": CancelForm(),
        **extra,
    }


def _action_done(request: HttpRequest, run_id: str, *, notice: str, level: int, **extra: Any) -> HttpResponse:
    """htmx: the actions box and the run status in place (+ an event so files and audit
    reload); without JS: a message and a redirect to the run page (POST-redirect-GET)."""
    if is_htmx(request):
        tag = messages.DEFAULT_TAGS.get(level, "info")
        context = _run_context(request, run_id, notice=notice, notice_level=tag, **extra)
        response = render_page(request, "runs/run_detail.html", context, partial="action-result")
        return trigger_client_event(response, RUN_CHANGED_EVENT)
    messages.add_message(request, level, notice)
    return redirect("run-page", run_id=run_id)


@require_POST
@dashboard_page
@operator_only
@admin_action("retry", target="run_id")
@throttled()
def run_retry(request: HttpRequest, run_id: str) -> HttpResponse:
    """Step 1 (no `confirm`): a dry run shows how many failed files would be retried.
    Step 2 (`confirm=yes`): retry them; the outcome appears in place of the actions box."""
    pipeline = get_pipeline()
    actor = actor_for(request)
    try:
        if request.POST.get("confirm") != "yes":
            preview = services.run_retry(pipeline, run_id=run_id, dry_run=True, actor=actor)
            if preview.retried == 0:
                return _action_done(request, run_id, notice="No failed files to retry.", level=messages.INFO)
            context = _run_context(request, run_id, retry_preview=preview)
            return render_page(request, "runs/run_detail.html", context, partial="action-result")
        result = services.run_retry(pipeline, run_id=run_id, dry_run=False, actor=actor)
    except (InvalidTransition, ValidationFailed) as exc:
        return _action_done(request, run_id, notice=f"Retry refused: {exc.message}", level=messages.ERROR)
    plural = "" if result.retried == 1 else "s"
    notice = f"Retrying {result.retried} failed file{plural}." if result.retried else "No failed files to retry."
    return _action_done(request, run_id, notice=notice, level=messages.SUCCESS)


@require_POST
@dashboard_page
@operator_only
@admin_action("cancel", target="run_id")
@throttled()
def run_cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    """Cancel with a reason (required; it goes into the audit trail)."""
    form = CancelForm(request.POST)
    if not form.is_valid():
        notice = " ".join(form.errors.get("reason", ["The reason is not valid."]))
        audit_page_refusal(request, reason="invalid request",
                           detail={"error": "invalid", "fields": sorted(form.errors)})
        return _action_done(request, run_id, notice=notice, level=messages.ERROR)
    try:
        run: Run = services.run_cancel(
            get_pipeline(), run_id=run_id, reason=form.cleaned_data["reason"], actor=actor_for(request)
        )
    except (InvalidTransition, ValidationFailed) as exc:
        return _action_done(request, run_id, notice=f"Cancel refused: {exc.message}", level=messages.ERROR)
    return _action_done(request, run_id, notice=f"Run {run.status.value}.", level=messages.SUCCESS)
