"""Read side of the core (selectors): what the API, the pages and the CLI show.

Every read is a GetItem or an index Query; nothing here scans a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from .audit import AuditRecord
from .datasets import DatasetConfig, expected_dates, is_overdue
from .dynamo import Page
from .errors import ValidationFailed
from .expectations import ExpectationState, expectation_for
from .models import Environment, FileRecord, Run, parse_business_date
from .states import RUN_IN_FLIGHT, FileStatus, RunStatus
from .timeutil import utc_now

if TYPE_CHECKING:
    from .app import Pipeline

MAX_LIMIT = 500
# Default length of a dataset calendar (pages and API).
DEFAULT_CALENDAR_DAYS = 30
MAX_CALENDAR_DAYS = 400
# Failed runs and runs still moving are what an operator looks at first.
ATTENTION_STATUSES = (RunStatus.FAILED, *sorted(RUN_IN_FLIGHT))
SETTLED_STATUSES = (RunStatus.SUCCESS, RunStatus.CANCELLED)

E = TypeVar("E", RunStatus, FileStatus, Environment)


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}.", fields={"limit": "out of range"})
    return limit


def _enum(kind: type[E], value: E | str | None, field: str) -> E | None:
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationFailed(f"{field} must be one of: {allowed}.", fields={field: "unknown value"}) from exc


def _date(value: date | str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return parse_business_date(value).isoformat()
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={field: str(exc)}) from exc


def run_get(p: Pipeline, *, run_id: str) -> Run:
    """One run (NotFound if absent)."""
    return p.runs.get(run_id)


def run_file_counts(p: Pipeline, *, run_id: str) -> dict[str, int]:
    """Exact per-status file counts of a run, counted from FileTable (not the stored counters)."""
    return p.files.count_by_status(run_id)


def runs_list(
    p: Pipeline,
    *,
    dataset_name: str | None = None,
    business_date: date | str | None = None,
    status: RunStatus | str | None = None,
    environment: Environment | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Run]:
    """Runs, newest first, by dataset (datasetName-businessDate-index) or else by status
    (status-index); at least one of the two is required so the read is always a Query."""
    run_status = _enum(RunStatus, status, "status")
    env = _enum(Environment, environment, "environment")
    day = _date(business_date, "businessDate")
    size = _limit(limit)
    if dataset_name:
        return p.runs.by_dataset(
            dataset_name, business_date=day, status=run_status, environment=env, limit=size, cursor=cursor
        )
    if run_status is not None:
        return p.runs.by_status(run_status, business_date=day, environment=env, limit=size, cursor=cursor)
    raise ValidationFailed(
        "Give a datasetName or a status to list runs.",
        fields={"datasetName": "datasetName or status is required", "status": "datasetName or status is required"},
    )


def runs_recent(p: Pipeline, *, limit: int = 50) -> list[Run]:
    """The runs an operator should see first: failed and in-flight runs (newest first), then
    recently finished ones (newest first). One status-index Query per status, no Scan; the
    Queries of a group are made at once, and finished runs are read only to fill the rest."""
    size = _limit(limit)

    def newest(statuses: tuple[RunStatus, ...], wanted: int) -> list[Run]:
        pages = p.reads.map(lambda status: p.runs.by_status(status, limit=wanted).items, statuses)
        found = [run for page in pages for run in page]
        found.sort(key=lambda run: run.created_at, reverse=True)
        return found[:wanted]

    runs = newest(ATTENTION_STATUSES, size)
    if len(runs) < size:
        runs += newest(SETTLED_STATUSES, size - len(runs))
    return runs


def files_list(
    p: Pipeline,
    *,
    run_id: str,
    status: FileStatus | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[FileRecord]:
    """Files of a run, optionally in one status (a direct Query when the status index exists)."""
    return p.files.by_run(run_id, status=_enum(FileStatus, status, "status"), limit=_limit(limit), cursor=cursor)


def file_get(p: Pipeline, *, file_id: str) -> FileRecord:
    """One file (NotFound if absent)."""
    return p.files.get(file_id)


def run_events(p: Pipeline, *, run_id: str, limit: int = 50, cursor: str | None = None) -> Page[AuditRecord]:
    """The audit trail of a run, newest first, paged."""
    return p.audit.for_target(run_id, limit=_limit(limit), cursor=cursor)


def datasets_list(p: Pipeline, *, limit: int = 100, cursor: str | None = None) -> Page[DatasetConfig]:
    """Registered datasets in name order, paged."""
    return p.datasets.list(limit=_limit(limit), cursor=cursor)


def dataset_get(p: Pipeline, *, name: str) -> DatasetConfig:
    """One registered dataset (NotFound when it is not in the registry)."""
    return p.datasets.get(name)


@dataclass(frozen=True)
class CalendarDay:
    """One business date of a dataset's calendar.

    status: the latest run's status; 'missing' when the schedule expected a run, its due
    time has passed and there is none; 'none' otherwise (not expected, or not due yet —
    `expected` tells which)."""

    business_date: date
    status: str
    run_id: str | None
    expected: bool
    runs: int
    # The expectation state of the date in `environment` (SPEC section 9: upcoming ... skipped)
    # and the reason of a skipped date; None for a dataset without a schedule.
    state: str | None = None
    reason: str | None = None


def calendar_window(
    *, start: date | None = None, end: date | None = None, days: int | None = None
) -> tuple[date, date]:
    """The calendar's [start, end]: `end` defaults to today (UTC), `start` to `days` (default
    DEFAULT_CALENDAR_DAYS) business dates up to `end`. The one default for pages and API."""
    last = end or utc_now().date()
    first = start or last - timedelta(days=(days or DEFAULT_CALENDAR_DAYS) - 1)
    return first, last


def dataset_calendar(
    p: Pipeline, *, name: str, start: date | None = None, end: date | None = None, now: datetime | None = None,
    environment: Environment | str | None = None,
) -> list[CalendarDay]:
    """Per business date in [start, end] (default: `calendar_window()`): the latest run and
    its status, or 'missing', and the date's expectation state in `environment` (default: the
    dataset's registry environment; another environment has no expectations: `skipped`).
    One Query (businessDate BETWEEN start AND end) covers the range, plus two GetItems (the
    registry entry and its registration time)."""
    start, end = calendar_window(start=start, end=end)
    if end < start:
        raise ValidationFailed("The calendar's end is before its start.", fields={"to": "before from"})
    if (end - start).days + 1 > MAX_CALENDAR_DAYS:
        raise ValidationFailed(
            f"A calendar covers at most {MAX_CALENDAR_DAYS} days.", fields={"to": "range too long"}
        )
    config = p.datasets.get(name)
    env = _enum(Environment, environment, "environment") or config.environment
    registered_at = p.datasets.registered_at(name) if config.schedule is not None else None
    latest: dict[date, Run] = {}
    counts: dict[date, int] = {}
    by_date: dict[date, list[Run]] = {}
    for run in p.runs.between_dates(name, start.isoformat(), end.isoformat()):
        by_date.setdefault(run.business_date, []).append(run)
        counts[run.business_date] = counts.get(run.business_date, 0) + 1
        current = latest.get(run.business_date)
        if current is None or run.created_at > current.created_at:
            latest[run.business_date] = run
    expected = set(expected_dates(config, start, end))
    moment = now or utc_now()
    days: list[CalendarDay] = []
    for offset in range((end - start).days + 1):
        day = date.fromordinal(start.toordinal() + offset)
        latest_run = latest.get(day)
        if latest_run is not None:
            status: str = latest_run.status.value
        elif day in expected and is_overdue(config, day, moment):
            status = "missing"
        else:
            status = "none"
        state = reason = None
        if config.schedule is not None:
            if env == config.environment:
                e = expectation_for(config, business_date=day, runs=by_date.get(day, []), now=moment,
                                    registered_at=registered_at)
                state, reason = e.state.value, e.reason
            else:
                state, reason = ExpectationState.SKIPPED.value, f"scheduled in {config.environment.value} only"
        days.append(
            CalendarDay(
                business_date=day,
                status=status,
                run_id=latest_run.run_id if latest_run else None,
                expected=day in expected,
                runs=counts.get(day, 0),
                state=state,
                reason=reason,
            )
        )
    return days


def calendar_summary(days: list[CalendarDay]) -> dict[str, int]:
    """Counts of calendar days per status (for headers and tests)."""
    summary: dict[str, int] = {}
    for day in days:
        summary[day.status] = summary.get(day.status, 0) + 1
    return summary
