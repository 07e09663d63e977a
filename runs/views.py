"""Run pages: the runs list (filters, paging, one live poll for the page) and one run (counts,
triage, files, audit, actions, one live poll that refreshes all of it).

Each page is one template; htmx requests get a named partial of it (chosen by HX-Target)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from dataplatform.pipeline import selectors, services
from dataplatform.pipeline.audit import AuditRecord
from dataplatform.pipeline.dynamo import Page
from dataplatform.pipeline.errors import InvalidCursor, InvalidTransition, ValidationFailed
from dataplatform.pipeline.listing import Position, RunFilters
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.states import RUN_IN_FLIGHT, FileStatus, run_accepts_retry
from dataplatform.pipeline.triage import FailureGroup
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
from runs.forms import ALL_FILES, CancelForm, FileFilterForm, RunFilterForm

PAGE_SIZE = 50
FILES_PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 25
RUN_CHANGED_EVENT = "run-changed"

# htmx target on the run page -> (partial, reads it needs besides the run item).
RUN_PARTIALS: dict[str, tuple[str, frozenset[str]]] = {
    "run-actions": ("actions", frozenset()),
    "files": ("files", frozenset({"files"})),
    "files-more": ("file-rows", frozenset({"files"})),
    "events": ("events", frozenset({"events"})),
    "events-more": ("event-rows", frozenset({"events"})),
    "failures": ("failures", frozenset({"groups"})),
}


def poll_seconds() -> float:
    return float(settings.POLL_INTERVAL_SECONDS)


# ---------------------------------------------------------------------------- runs list


@require_GET
@dashboard_page
def runs_page(request: HttpRequest) -> HttpResponse:
    """Runs newest first, filtered by the query string; htmx "load more" gets only new rows."""
    form = RunFilterForm(request.GET)
    context: dict[str, Any] = {
        "form": form, "runs": [], "cursor": None, "problems": [], "hints": [], "listed": False,
        "poll_seconds": poll_seconds(), "query": "",
    }
    if form.is_valid():
        filters = _resolve_dataset(form.filters(), context)
        cursor = form.cleaned_data.get("cursor") or None
        context["query"] = _query(request, drop=("cursor",), dataset=filters.dataset_name)
        try:
            page = selectors.runs_list(get_pipeline(), **_kwargs(filters), limit=PAGE_SIZE, cursor=cursor)
        except InvalidCursor:
            context["problems"].append("That page link has expired or was altered; showing the first page.")
            page = selectors.runs_list(get_pipeline(), **_kwargs(filters), limit=PAGE_SIZE)
            cursor = None
        context.update(runs=page.items, cursor=page.cursor, listed=True)
        if page.unreadable:
            context["problems"].append(_unreadable_notice("run", page.unreadable))
        context["top"] = _position_text(page.items[0]) if page.items and not cursor else ""
    else:
        context["problems"] = [
            f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in form.errors.items()
        ]
    partial = "rows" if htmx_target(request) == "load-more" else "results"
    return render_page(request, "runs/runs.html", context, partial=partial)


# Registered dataset names per registry table, kept for REGISTRY_NAMES_SECONDS: the filter's
# case-insensitive match and its suggestions read them on every runs page, and the registry
# changes only when someone loads datasets (a new name shows here within that time).
REGISTRY_NAMES_SECONDS = 60.0
_registry_names: dict[str, tuple[float, list[str]]] = {}


def _dataset_names() -> list[str]:
    pipeline = get_pipeline()
    key = pipeline.config.dataset_table
    now = time.monotonic()
    cached = _registry_names.get(key)
    if cached is None or now - cached[0] > REGISTRY_NAMES_SECONDS:
        cached = (now, selectors.dataset_names(pipeline))
        _registry_names[key] = cached
    return cached[1]


def _resolve_dataset(filters: RunFilters, context: dict[str, Any]) -> RunFilters:
    """The dataset filter matched against the registry ignoring case; a name that is not
    registered is still listed (other tools' runs), with a visible note and suggestions."""
    typed = filters.dataset_name
    if not typed:
        return filters
    names = _dataset_names()
    if typed not in names:
        # Not registered as typed (or registered since the names were read): read them again.
        _registry_names.pop(get_pipeline().config.dataset_table, None)
        names = _dataset_names()
    exact, similar = selectors.match_dataset(names, text=typed)
    if exact is not None:
        if exact != typed:
            context["hints"].append(f"Showing dataset {exact} (matched ignoring case).")
        return RunFilters(exact, filters.business_date, filters.status, filters.environment)
    note = f"No dataset named {typed!r} is registered."
    if similar:
        note += " Did you mean: " + ", ".join(similar[:8]) + "?"
    context["hints"].append(note)
    return filters


def _kwargs(filters: RunFilters) -> dict[str, Any]:
    return {
        "dataset_name": filters.dataset_name, "business_date": filters.business_date,
        "status": filters.status, "environment": filters.environment,
    }


def _unreadable_notice(kind: str, ids: list[str]) -> str:
    """Says that items of a list were left out because they could not be read (by id)."""
    count = f"{len(ids)} {kind}{'' if len(ids) == 1 else 's'}"
    return (f"{count} on this page could not be read and {'is' if len(ids) == 1 else 'are'} not shown (another tool "
            f"stored values this monitor does not know; the log says which): {', '.join(ids)}.")


def _position_text(run: Run) -> str:
    item = run.to_item()
    return f"{item['createdAt']}|{run.run_id}"


def _position(text: str) -> Position | None:
    created_at, _, run_id = text.partition("|")
    return Position(created_at, run_id) if created_at and run_id else None


def _query(request: HttpRequest, *, drop: tuple[str, ...], dataset: str | None = None) -> str:
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    if dataset:
        params["datasetName"] = dataset
    return params.urlencode()


@require_GET
@dashboard_page
def runs_poll(request: HttpRequest) -> HttpResponse:
    """The one poll of a runs page: its in-flight rows (`live=`) as they are now and the runs
    created since its top row that match its filters, in one BatchGetItem (plus one Query when
    the newest run moved since the last poll). 204 when nothing changed."""
    form = RunFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(status=204)
    filters = form.filters()
    ids = [i for i in request.GET.getlist("live") if i][: selectors.MAX_LIVE_ROWS]
    top_text = request.GET.get("top", "")[:600]
    seen_head = request.GET.get("head", "")[:600] or None
    rows, fresh, head = selectors.runs_changed(
        get_pipeline(), run_ids=ids, filters=filters, top=_position(top_text), seen_head=seen_head
    )
    if not rows and not fresh and head == seen_head:
        return HttpResponse(status=204)
    context = {
        "rows": rows,
        "fresh": fresh,
        "head": head or "",
        "top": _position_text(fresh[0]) if fresh else top_text,
        "query": _query(request, drop=("live", "top", "head", "cursor")),
        "poll_seconds": poll_seconds(),
    }
    response = render_page(request, "runs/runs.html", context, partial="poll-result")
    patch_vary_headers(response, ("HX-Request",))
    return response


# ---------------------------------------------------------------------------- one run


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
        # Without JavaScript, the link of the lazy sections asks for them by query string.
        needs = frozenset({"files", "events", "groups"})
        partial = None
    else:
        partial, needs = RUN_PARTIALS.get(target, ("actions", frozenset()))
    context = _run_context(request, selectors.run_get(get_pipeline(), run_id=run_id), needs=needs)
    return render_page(request, "runs/run_detail.html", context, partial=partial)


@require_GET
@dashboard_page
def run_live(request: HttpRequest, run_id: str) -> HttpResponse:
    """The one poll of a run page. One GetItem tells what changed since the page last looked
    (the versions it sends back); the sections that need a read (files page in view, audit
    trail, failure groups) are refreshed one per poll, the others wait for the next poll, so a
    poll costs at most 2 DynamoDB requests. When the run has ended and every section shows its
    final state, the poller is rendered without a trigger: polling stops."""
    run = selectors.run_get(get_pipeline(), run_id=run_id)
    seen = {name: request.GET.get(name, "")[:600] for name in ("v", "f", "e", "g", "a")}
    current = _versions(run)
    stale = [name for name in ("f", "e", "g") if seen[name] != current[name]]
    fresh = stale[:1]  # one read per poll
    needs = frozenset({{"f": "files", "e": "events", "g": "groups"}[name] for name in fresh})
    context = _run_context(request, run, needs=needs)
    # What the page holds after this answer: what changed now, and the old version of what waits.
    shown = dict(current)
    for name in stale[1:]:
        shown[name] = seen[name]
    context.update(
        live_versions=shown,
        live=run.status in RUN_IN_FLIGHT or bool(stale[1:]),
        refresh={
            "status": seen["v"] != current["v"],
            "actions": seen["a"] != current["a"],
            "files": "f" in fresh,
            "events": "e" in fresh,
            "groups": "g" in fresh,
        },
    )
    if not any(context["refresh"].values()) and context["live"]:
        return HttpResponse(status=204)
    response = render_page(request, "runs/run_detail.html", context, partial="live-result")
    patch_vary_headers(response, ("HX-Request",))
    return response


def _versions(run: Run) -> dict[str, str]:
    """What each live section of the run page was rendered from."""
    return {
        "v": run.version(),
        "f": run.version(),
        "e": run.last_event_id or "",
        "g": f"{run.failed_files}:{run.status.value}" if run.failed_files else "",
        "a": _actions_key(run),
    }


def _actions_key(run: Run) -> str:
    offered = [
        name for name, ok in (
            ("retry", run_accepts_retry(run.status) and run.failed_files > 0),
            ("cancel", run.status in RUN_IN_FLIGHT),
            ("redispatch", run.status in RUN_IN_FLIGHT),
        ) if ok
    ]
    return ",".join(offered) or "none"


def _file_status(request: HttpRequest, run: Run, problems: list[str]) -> tuple[str, str | None]:
    """The files tab in view: the one asked for, else `failed` when the run has failed files
    (what an operator opens the page for), else all."""
    form = FileFilterForm(request.GET)
    if not form.is_valid():
        problems.append("Unknown file status filter; showing all files.")
        return ALL_FILES, None
    chosen = form.cleaned_data["fileStatus"] or (FileStatus.FAILED.value if run.failed_files else ALL_FILES)
    error = form.cleaned_data["error"] if form.cleaned_data["error"] is not None and chosen == "failed" else None
    return chosen, error


def _run_context(
    request: HttpRequest, run: Run, *, needs: frozenset[str] = frozenset(), **extra: Any
) -> dict[str, Any]:
    """The run plus what `needs` asks for: "files" (the page in view), "events" (one page),
    "groups" (failed files by error)."""
    pipeline = get_pipeline()
    problems: list[str] = []
    file_status, error = _file_status(request, run, problems)
    form = FileFilterForm(request.GET)
    files_cursor = events_cursor = None
    if form.is_valid():
        files_cursor = form.cleaned_data["filesCursor"] or None
        events_cursor = form.cleaned_data["eventsCursor"] or None
    status = None if file_status == ALL_FILES else file_status
    files: Page[FileRecord] | None = None
    if "files" in needs:
        try:
            files = selectors.files_list(
                pipeline, run_id=run.run_id, status=status, error_message=error, limit=FILES_PAGE_SIZE,
                cursor=files_cursor,
            )
        except InvalidCursor:
            problems.append("That page link has expired or was altered; showing the first page of files.")
            files = selectors.files_list(
                pipeline, run_id=run.run_id, status=status, error_message=error, limit=FILES_PAGE_SIZE
            )
    if files is not None and files.unreadable:
        problems.append(_unreadable_notice("file", files.unreadable))
    events: Page[AuditRecord] | None = None
    if "events" in needs:
        try:
            events = selectors.run_events(pipeline, run_id=run.run_id, limit=EVENTS_PAGE_SIZE, cursor=events_cursor)
        except InvalidCursor:
            problems.append("That page link has expired or was altered; showing the newest events.")
            events = selectors.run_events(pipeline, run_id=run.run_id, limit=EVENTS_PAGE_SIZE)
    groups: list[FailureGroup] | None = None
    if "groups" in needs and run.failed_files:
        groups = selectors.run_failure_groups(pipeline, run_id=run.run_id)
    in_flight = run.status in RUN_IN_FLIGHT
    return {
        "run": run,
        "counts": run.counts(),
        "files_loaded": files is not None,
        "files": files.items if files else [],
        "files_cursor": files.cursor if files else None,
        "file_status": file_status,
        "file_error": error,
        "file_tabs": [ALL_FILES, *(s.value for s in FileStatus)],
        "events_loaded": events is not None,
        "events": events.items if events else [],
        "events_cursor": events.cursor if events else None,
        "groups_loaded": groups is not None,
        "groups": groups or [],
        # Fewer than the run's failed files when the groups read only the first GROUPED_FILES_MAX.
        "grouped": sum(g.count for g in groups or []),
        "can_act": is_operator(request),
        "can_retry": run_accepts_retry(run.status) and run.failed_files > 0,
        "can_cancel": in_flight,
        "can_redispatch": in_flight,
        "live": in_flight,
        "live_versions": _versions(run),
        "poll_seconds": poll_seconds(),
        "problems": problems,
        "cancel_form": CancelForm(),
        **extra,
    }


def _action_done(request: HttpRequest, run_id: str, *, notice: str, level: int, **extra: Any) -> HttpResponse:
    """htmx: the actions box in place (+ an event so the live poll refreshes at once); without
    JS: a message and a redirect to the run page (POST-redirect-GET)."""
    if is_htmx(request):
        tag = messages.DEFAULT_TAGS.get(level, "info")
        run = selectors.run_get(get_pipeline(), run_id=run_id)
        context = _run_context(request, run, notice=notice, notice_level=tag, **extra)
        # The actions box shows the outcome; every other section is refreshed by the live poll,
        # which now starts over (no section is known to be current) and runs at once.
        context["live_versions"] = {"v": "", "f": "", "e": "", "g": "", "a": _actions_key(run)}
        response = render_page(request, "runs/run_detail.html", context, partial="action-result")
        return trigger_client_event(response, RUN_CHANGED_EVENT, after="settle")
    messages.add_message(request, level, notice)
    return redirect("run-page", run_id=run_id)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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
            context = _run_context(request, preview.run, retry_preview=preview)
            return render_page(request, "runs/run_detail.html", context, partial="actions")
        result = services.run_retry(pipeline, run_id=run_id, dry_run=False, actor=actor)
    except (InvalidTransition, ValidationFailed) as exc:
        return _action_done(request, run_id, notice=f"Retry refused: {exc.message}", level=messages.ERROR)
    notice = f"Retrying {_plural(result.retried, 'failed file')}." if result.retried else "No failed files to retry."
    return _action_done(request, run_id, notice=notice, level=messages.SUCCESS)


@require_POST
@dashboard_page
@operator_only
@admin_action("redispatch", target="run_id")
@throttled()
def run_redispatch(request: HttpRequest, run_id: str) -> HttpResponse:
    """Step 1: how many pending files made no progress for RUN_STALLED_MINUTES (or the dataset's
    shorter stuckAfterMinutes); step 2
    (`confirm=yes`): dispatch them again, each exactly once."""
    pipeline = get_pipeline()
    actor = actor_for(request)
    try:
        if request.POST.get("confirm") != "yes":
            preview = services.run_redispatch(pipeline, run_id=run_id, dry_run=True, actor=actor)
            if preview.redispatched == 0:
                notice = "No pending file has been idle long enough to re-dispatch."
                return _action_done(request, run_id, notice=notice, level=messages.INFO)
            context = _run_context(request, preview.run, redispatch_preview=preview)
            return render_page(request, "runs/run_detail.html", context, partial="actions")
        result = services.run_redispatch(pipeline, run_id=run_id, dry_run=False, actor=actor)
    except (InvalidTransition, ValidationFailed) as exc:
        return _action_done(request, run_id, notice=f"Re-dispatch refused: {exc.message}", level=messages.ERROR)
    notice = f"Dispatched {_plural(result.redispatched, 'pending file')} again."
    return _action_done(request, run_id, notice=notice, level=messages.SUCCESS)


@require_POST
@dashboard_page
@throttled("exact-counts")
def run_recount(request: HttpRequest, run_id: str) -> HttpResponse:
    """Count the run's files in FileTable now and repair drifted counters (any role: it only
    makes the shown counts true)."""
    before = selectors.run_get(get_pipeline(), run_id=run_id)
    run = services.run_recount(get_pipeline(), run_id=run_id, actor=actor_for(request))
    same = before.counts() == run.counts() and before.resolved_files == run.resolved_files
    notice = "Counts checked against the files: they were right." if same else "Counts checked and corrected."
    if is_htmx(request):
        context = _run_context(request, run, counts_notice=notice)
        response = render_page(request, "runs/run_detail.html", context, partial="status")
        return trigger_client_event(response, RUN_CHANGED_EVENT, after="settle")
    messages.add_message(request, messages.SUCCESS, notice)
    return redirect("run-page", run_id=run_id)


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
