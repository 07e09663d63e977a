"""Read side of the core (selectors): what the API, the pages and the CLI show.

Every read is a GetItem or an index Query; nothing here scans a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar, cast

from .audit import AuditRecord
from .datasets import DatasetConfig, expected_dates, is_overdue
from .dynamo import Page
from .errors import NotFound, ValidationFailed
from .expectations import Expectation, ExpectationState, expectation_for, read_windows
from .listing import Position, RunFilters
from .models import Environment, FileRecord, Run, parse_business_date
from .services.reconcile import run_recount
from .states import RUN_IN_FLIGHT, FileStatus, RunStatus
from .timeutil import utc_now
from .triage import FailureGroup, group_failures

if TYPE_CHECKING:
    from .app import Pipeline
    from .services.requests import Actor

MAX_LIMIT = 500
# In-flight rows one runs-page poll refreshes, and new runs it adds at the top.
MAX_LIVE_ROWS = 500
NEW_RUNS_LIMIT = 50
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


def run_detail(p: Pipeline, *, run_id: str, exact: bool = False, actor: Actor | None = None) -> Run:
    """One run whose counters can be shown as its file counts: one GetItem, except when `exact`
    asks for a recount (repairing drifted counters) or the run never had per-status counters
    (written by another tool), which is counted once and its counters stored."""
    run = run_get(p, run_id=run_id)
    if exact or not run.has_counters:
        run = run_recount(p, run_id=run_id, actor=actor)
    return run


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
    """Runs, newest first, for any combination of filters (none: every run), complete across
    pages; each combination is an index Query (listing.py), never a Scan."""
    return p.runs.find(run_filters(dataset_name=dataset_name, business_date=business_date, status=status,
                                   environment=environment), limit=_limit(limit), cursor=cursor)


def run_filters(
    *,
    dataset_name: str | None = None,
    business_date: date | str | None = None,
    status: RunStatus | str | None = None,
    environment: Environment | str | None = None,
) -> RunFilters:
    """Validated list filters (ValidationFailed names the field of an unknown value)."""
    return RunFilters(
        dataset_name=dataset_name or None,
        business_date=_date(business_date, "businessDate"),
        status=_enum(RunStatus, status, "status"),
        environment=_enum(Environment, environment, "environment"),
    )


def runs_changed(
    p: Pipeline, *, run_ids: list[str], filters: RunFilters, top: Position | None, seen_head: str | None
) -> tuple[list[Run], list[Run], str | None]:
    """What a live runs page needs per poll: its in-flight rows as they are now and the runs
    created since its top row that match its filters. One BatchGetItem (the rows and the runs
    head together); a Query only when the head moved since the page last looked.

    Returns (rows, new runs, head token to send next time)."""
    rows, head = p.runs.get_many(run_ids[:MAX_LIVE_ROWS], with_head=True)
    token = f"{head.created_at}|{head.run_id}" if head else None
    fresh: list[Run] = []
    moved = head is not None and token != seen_head and (top is None or (head.created_at, head.run_id) >
                                                          (top.created_at, top.run_id))
    if moved:
        fresh = p.runs.newer(filters, than=top, limit=NEW_RUNS_LIMIT)
    return [rows[i] for i in run_ids if i in rows], fresh, token


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
    error_message: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[FileRecord]:
    """Files of a run, optionally in one status (a direct Query when the status index exists) and
    with one error message ('' for errors without one: a failure group of `run_failure_groups`)."""
    return p.files.by_run(
        run_id, status=_enum(FileStatus, status, "status"), error_message=error_message, limit=_limit(limit),
        cursor=cursor,
    )


# The failure groups read at most this many failed files (one or two Query pages): a run page
# and its poll cost the same in a storm of 50,000 failures as with 50.
GROUPED_FILES_MAX = 1000


def run_failure_groups(p: Pipeline, *, run_id: str) -> list[FailureGroup]:
    """The run's failed files grouped by error message, largest group first: a Query of the
    failed files (runId-status-index), at most GROUPED_FILES_MAX of them (the groups' counts then
    add up to fewer than the run's failed files, and a page says so)."""
    return group_failures(p.files.by_run(run_id, status=FileStatus.FAILED, limit=GROUPED_FILES_MAX).items)


def file_get(p: Pipeline, *, file_id: str) -> FileRecord:
    """One file (NotFound if absent)."""
    return p.files.get(file_id)


def run_events(p: Pipeline, *, run_id: str, limit: int = 50, cursor: str | None = None) -> Page[AuditRecord]:
    """The audit trail of a run, newest first, paged."""
    return p.audit.for_target(run_id, limit=_limit(limit), cursor=cursor)


def datasets_list(p: Pipeline, *, limit: int = 100, cursor: str | None = None) -> Page[DatasetConfig]:
    """Registered datasets in name order, paged."""
    return p.datasets.list(limit=_limit(limit), cursor=cursor)


def dataset_names(p: Pipeline) -> list[str]:
    """Every registered dataset name, in name order (one Query of the registry partition,
    projected to the names)."""
    return p.datasets.names()


def dataset_matches(p: Pipeline, *, text: str, limit: int = 20) -> tuple[str | None, list[str]]:
    """A dataset filter as typed: (the registered name it means, ignoring case, or None;
    registered names that start with it, ignoring case, at most `limit`)."""
    return match_dataset(dataset_names(p), text=text, limit=limit)


def match_dataset(names: list[str], *, text: str, limit: int = 20) -> tuple[str | None, list[str]]:
    """`dataset_matches` over names already read."""
    wanted = text.strip().casefold()
    exact = next((n for n in names if n.casefold() == wanted), None)
    return exact, [n for n in names if n.casefold().startswith(wanted)][:limit]


# Longest search text looked up (a file id is at most 512 characters).
MAX_SEARCH_LENGTH = 512


@dataclass(frozen=True)
class SearchResult:
    """What a search text names: the run and the file with exactly that id, and the registered
    datasets whose name starts with it (ignoring case)."""

    runs: list[Run]
    files: list[FileRecord]
    datasets: list[DatasetConfig]

    def only_match(self) -> tuple[str, str] | None:
        """("run" | "file" | "dataset", id) when the text names exactly one thing."""
        found = [("run", r.run_id) for r in self.runs] + [("file", f.file_id) for f in self.files]
        if not found and len(self.datasets) == 1:
            found = [("dataset", self.datasets[0].dataset_name)]
        return found[0] if len(found) == 1 else None


def search(p: Pipeline, *, text: str, limit: int = 20) -> SearchResult:
    """A run id, a file id or a dataset name prefix: two GetItems and one registry Query, made at
    once. Empty or overlong text finds nothing (no read)."""
    wanted = text.strip()
    if not wanted or len(wanted) > MAX_SEARCH_LENGTH:
        return SearchResult([], [], [])

    def run() -> list[Run]:
        try:
            return [p.runs.get(wanted)] if len(wanted) <= 256 else []
        except NotFound:
            return []

    def file() -> list[FileRecord]:
        try:
            return [p.files.get(wanted)]
        except NotFound:
            return []

    def datasets() -> list[DatasetConfig]:
        prefix = wanted.casefold()
        return [d for d in p.datasets.all() if d.dataset_name.casefold().startswith(prefix)][:limit]

    runs, files, found = p.reads.map(lambda read: read(), [run, file, datasets])
    return SearchResult(cast(list[Run], runs), cast(list[FileRecord], files), cast(list[DatasetConfig], found))


def dataset_get(p: Pipeline, *, name: str) -> DatasetConfig:
    """One registered dataset (NotFound when it is not in the registry)."""
    return p.datasets.get(name)


@dataclass(frozen=True)
class CalendarDay:
    """One business date of a dataset's calendar.

    expected: the schedule expects a run of this environment on this date (never in an
    environment the schedule is not for: the schedule is the registry environment's).
    status: the latest run's status; 'missing' when a run was expected, its due time has passed,
    the date is one the monitor holds the dataset to (not before its registration or `since`,
    i.e. `state` is not skipped) and there is none; 'none' otherwise (not expected, not held
    to, or not due yet)."""

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
    """Per business date in [start, end] (default: `calendar_window()`): the latest run of
    `environment` and its status, or 'missing', and the date's expectation state in `environment` (default: the
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
        if run.environment != env:
            continue
        by_date.setdefault(run.business_date, []).append(run)
        counts[run.business_date] = counts.get(run.business_date, 0) + 1
        current = latest.get(run.business_date)
        if current is None or run.created_at > current.created_at:
            latest[run.business_date] = run
    # The schedule is the registry environment's: another environment expects nothing.
    expected = set(expected_dates(config, start, end)) if env == config.environment else set()
    moment = now or utc_now()
    days: list[CalendarDay] = []
    for offset in range((end - start).days + 1):
        day = date.fromordinal(start.toordinal() + offset)
        latest_run = latest.get(day)
        state = reason = None
        if config.schedule is not None:
            e = expectation_for(config, business_date=day, runs=by_date.get(day, []), now=moment,
                                registered_at=registered_at, environment=env)
            state, reason = e.state.value, e.reason
        if latest_run is not None:
            status: str = latest_run.status.value
        elif day in expected and state != ExpectationState.SKIPPED and is_overdue(config, day, moment):
            status = "missing"
        else:
            status = "none"
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


STRIP_DAYS = 14


@dataclass(frozen=True)
class DatasetOverview:
    """One dataset on the datasets page: per environment, the expectation of each of the last
    STRIP_DAYS days (oldest first; the last one is today in the dataset's timezone)."""

    config: DatasetConfig
    strips: dict[str, list[Expectation]]

    def today(self, environment: str) -> Expectation:
        return self.strips[environment][-1]


def datasets_overview(
    p: Pipeline, *, configs: list[DatasetConfig], now: datetime | None = None
) -> list[DatasetOverview]:
    """Today's state and the last STRIP_DAYS days of each dataset, in every environment side by
    side; "today" is the date in the dataset's own timezone (as on the attention page and in
    `/api/v1/expectations/`: at 23:30 UTC a Tokyo dataset is on tomorrow). One Query per dataset
    (made at once) and one for registrations."""
    moment = now or utc_now()
    today = {c.dataset_name: c.schedule.local_date(moment) if c.schedule else moment.date() for c in configs}
    if not today:
        return []
    out = []
    first, last = min(today.values()) - timedelta(days=STRIP_DAYS - 1), max(today.values())
    for window in read_windows(p, configs, first, last):
        end = today[window.config.dataset_name]
        days = [end - timedelta(days=STRIP_DAYS - 1 - i) for i in range(STRIP_DAYS)]
        by_date = window.runs_by_date()
        strips = {
            env.value: [
                expectation_for(
                    window.config, business_date=day, runs=by_date.get(day, []), now=moment,
                    registered_at=window.registered_at, environment=env,
                )
                for day in days
            ]
            for env in Environment
        }
        out.append(DatasetOverview(config=window.config, strips=strips))
    return out


def calendar_summary(days: list[CalendarDay]) -> dict[str, int]:
    """Counts of calendar days per status (for headers and tests)."""
    summary: dict[str, int] = {}
    for day in days:
        summary[day.status] = summary.get(day.status, 0) + 1
    return summary
