"""File page: where a file is, what the worker reported about it, and a retry for operators."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from dataplatform.pipeline import selectors, services
from dataplatform.pipeline.errors import InvalidTransition, ValidationFailed
from dataplatform.pipeline.states import FileStatus
from dataplatform.web.decorators import (
    actor_for,
    admin_action,
    dashboard_page,
    is_htmx,
    is_operator,
    operator_only,
    render_page,
)
from dataplatform.web.throttle import throttled
from dataplatform.web.wiring import get_pipeline

FILE_CHANGED_EVENT = "file-changed"


def _file_context(request: HttpRequest, file_id: str, **extra: Any) -> dict[str, Any]:
    record = selectors.file_get(get_pipeline(), file_id=file_id)
    return {
        "file": record,
        "can_act": is_operator(request),
        "can_retry": record.status == FileStatus.FAILED,
        **extra,
    }


@require_GET
@dashboard_page
def file_page(request: HttpRequest, file_id: str) -> HttpResponse:
    return render_page(request, "files/file_detail.html", _file_context(request, file_id), partial="file-summary")


@require_POST
@dashboard_page
@operator_only
@admin_action("file_retry", target="file_id")
@throttled()
def file_retry(request: HttpRequest, file_id: str) -> HttpResponse:
    """Put one failed file back to pending and dispatch it again."""
    try:
        record = services.file_retry(get_pipeline(), file_id=file_id, actor=actor_for(request))
        notice, level = f"File is {record.status.value} again and was dispatched.", messages.SUCCESS
    except (InvalidTransition, ValidationFailed) as exc:
        notice, level = f"Retry refused: {exc.message}", messages.ERROR
    if is_htmx(request):
        context = _file_context(request, file_id, notice=notice, notice_level=messages.DEFAULT_TAGS.get(level, "info"))
        response = render_page(request, "files/file_detail.html", context, partial="file-summary")
        return trigger_client_event(response, FILE_CHANGED_EVENT)
    messages.add_message(request, level, notice)
    return redirect("file-page", file_id=file_id)
