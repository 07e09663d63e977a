"""Dataset pages: the registry index and a calendar of business dates per dataset."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dataplatform.datasets.forms import CalendarForm
from dataplatform.pipeline import selectors
from dataplatform.pipeline.cursor import MAX_CURSOR_LENGTH
from dataplatform.pipeline.errors import InvalidCursor
from dataplatform.pipeline.models import Environment
from dataplatform.pipeline.selectors import CalendarDay
from dataplatform.web.decorators import dashboard_page, render_page
from dataplatform.web.wiring import get_pipeline

DATASETS_PAGE_SIZE = 100


@require_GET
@dashboard_page
def datasets_page(request: HttpRequest) -> HttpResponse:
    """Every registered dataset, name order, with a link to its calendar."""
    cursor = request.GET.get("cursor", "")[:MAX_CURSOR_LENGTH] or None
    problems: list[str] = []
    try:
        page = selectors.datasets_list(get_pipeline(), limit=DATASETS_PAGE_SIZE, cursor=cursor)
    except InvalidCursor:
        problems.append("That page link has expired or was altered; showing the first page.")
        page = selectors.datasets_list(get_pipeline(), limit=DATASETS_PAGE_SIZE)
    overview = selectors.datasets_overview(get_pipeline(), configs=page.items)
    context: dict[str, Any] = {
        "datasets": overview, "cursor": page.cursor, "problems": problems,
        "environments": [e.value for e in Environment],
    }
    return render_page(request, "datasets/datasets.html", context, partial="dataset-rows")


@require_GET
@dashboard_page
def dataset_suggestions(request: HttpRequest) -> HttpResponse:
    """The registered dataset names as a <datalist> (loaded once when a dataset filter gets focus)."""
    context = {"names": selectors.dataset_names(get_pipeline())}
    return render_page(request, "datasets/datasets.html", context, partial="suggestions")


@require_GET
@dashboard_page
def dataset_page(request: HttpRequest, name: str) -> HttpResponse:
    """The last N business dates (`?days=`, default `selectors.calendar_window`) coloured by the latest run's status."""
    form = CalendarForm(request.GET)
    problems: list[str] = []
    days = None
    environment = None
    if form.is_valid():
        days = form.cleaned_data["days"] or None
        environment = form.cleaned_data["environment"] or None
    else:
        problems.extend(error for errors in form.errors.values() for error in errors)
    start, end = selectors.calendar_window(days=days)
    pipeline = get_pipeline()
    dataset = selectors.dataset_get(pipeline, name=name)  # NotFound: the decorator's 404
    # Days coloured by the expectation state of `?environment=` (default: the dataset's own).
    environment = environment or dataset.environment.value
    calendar = selectors.dataset_calendar(pipeline, name=name, start=start, end=end, environment=environment)
    context: dict[str, Any] = {
        "name": name,
        "dataset": dataset,
        "environment": environment,
        "environments": [e.value for e in Environment],
        "days": (end - start).days + 1,
        "weeks": _weeks(calendar),
        "summary": _summary(calendar),
        "problems": problems,
        "day_choices": [7, 30, 90],
        "weekday_names": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "legend": ["success", "failed", "processing", "dispatched", "pending", "cancelled", "missing", "none"],
        "state_legend": ["met", "met_late", "running", "awaiting", "upcoming", "late", "stuck", "failed", "missing",
                         "skipped"],
    }
    return render_page(request, "datasets/dataset_calendar.html", context, partial="calendar")


def _summary(days: list[CalendarDay]) -> list[tuple[bool, str, int]]:
    """(is an expectation state, value, days) per value, in the vocabulary the cells show: the
    expectation state where the day has one, else the run status (a dataset without a schedule)."""
    counts: dict[tuple[bool, str], int] = {}
    for day in days:
        key = (True, day.state) if day.state else (False, day.status)
        counts[key] = counts.get(key, 0) + 1
    return [(is_state, value, n) for (is_state, value), n in counts.items()]


def _weeks(days: list[CalendarDay]) -> list[list[CalendarDay | None]]:
    """Chronological Monday-to-Sunday rows; blanks pad the first and last week."""
    if not days:
        return []
    cells: list[CalendarDay | None] = [None] * days[0].business_date.weekday() + list(days)
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]
