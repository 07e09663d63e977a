"""Expectations: what should have happened for one (dataset, environment, business date).

`expectation_for` is pure: from a dataset's configuration, a business date, the runs of that
date and an instant `now` it derives one state. `expectations_for` is the selector that feeds
it: one Query per dataset over the whole date window (RunTable `datasetName-businessDate-index`,
`businessDate BETWEEN`, every page), never one per run or file.

Times (all UTC, derived in the schedule's timezone, see `datasets.Schedule`)
-------------------------------------------------------------------------------
- ``expectedAt``: by when a run must exist; ``missingAt`` = expectedAt + startGraceMinutes.
- ``dueAt``: by when the run must be success; ``lateAt`` = dueAt + dueGraceMinutes.

Which run counts
----------------
Runs of the dataset's registry environment and of that business date, created at or before
`now` (evaluating as of an earlier instant ignores runs that did not exist yet; their status
is the one stored now). Cancelled runs are ignored: a cancelled run delivered nothing, so a date
whose only runs were cancelled has "no run" (and becomes ``missing`` after the grace). Of the
rest, the latest by ``createdAt`` is "the run".

States, checked in this order
-----------------------------
``skipped``   no schedule; the date is before the schedule's ``since``; the date is before
              the day (in the schedule's timezone) the dataset was registered; or not a
              business day (``reason``: weekend, the holiday's name, the exchange closure ...).
no run:
``upcoming``  now < expectedAt
``awaiting``  expectedAt <= now < missingAt
``missing``   now >= missingAt                                    -> alert ``missing``
the run is success, finished at its ``updatedAt`` (else ``createdAt``):
``met``       finished <= lateAt
``met_late``  finished > lateAt (``lateMinutes`` = finished - dueAt)
the run is failed:
``failed``                                                        -> alert ``failed``
              (failed supersedes late: no late alert for a run known to have failed)
the run is in flight (pending, dispatched, processing); idle = now - (updatedAt else createdAt):
``stuck``     idle >= stuckAfterMinutes                           -> alert ``stuck``
``late``      not stuck and now >= lateAt                         -> alert ``late``
``running``   otherwise
A stuck run past lateAt is both: state ``stuck``, alerts ``stuck`` and ``late``.

``lateMinutes`` is how far past dueAt (not lateAt) the date is: at `now` for missing, late,
stuck and failed, at the finish for met_late; None when not past dueAt.

Environments: a dataset's schedule belongs to its registry environment, so expectations exist
only for that environment; runs of the dataset in another environment (possible only for items
written before the registry decided environments) are ignored: asked about another environment,
every date is ``skipped`` ("scheduled in prod only"). The ``environment`` argument of the selector
filters datasets by their registry environment.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .datasets import DatasetConfig
from .errors import ValidationFailed
from .models import Environment, Run
from .states import RUN_IN_FLIGHT, RunStatus
from .timeutil import format_ts

if TYPE_CHECKING:
    from .app import Pipeline

MAX_EXPECTATION_DAYS = 92


class ExpectationState(StrEnum):
    UPCOMING = "upcoming"
    AWAITING = "awaiting"
    MISSING = "missing"
    RUNNING = "running"
    LATE = "late"
    STUCK = "stuck"
    FAILED = "failed"
    MET = "met"
    MET_LATE = "met_late"
    SKIPPED = "skipped"


class AlertKind(StrEnum):
    MISSING = "missing"
    LATE = "late"
    STUCK = "stuck"
    FAILED = "failed"


@dataclass(frozen=True)
class Expectation:
    """The state of one (dataset, environment, business date) at `evaluated_at`."""

    dataset_name: str
    environment: Environment
    business_date: date
    state: ExpectationState
    evaluated_at: datetime
    reason: str | None = None
    run: Run | None = None
    runs: int = 0
    expected_at: datetime | None = None
    missing_at: datetime | None = None
    due_at: datetime | None = None
    late_at: datetime | None = None
    late_minutes: int | None = None
    idle_minutes: int | None = None
    alerts: frozenset[AlertKind] = field(default_factory=frozenset)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dataset_name, self.environment.value, self.business_date.isoformat())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (camelCase, ISO-8601 UTC), for the API and the pages."""

        def ts(value: datetime | None) -> str | None:
            return format_ts(value) if value else None

        return {
            "datasetName": self.dataset_name,
            "environment": self.environment.value,
            "businessDate": self.business_date.isoformat(),
            "state": self.state.value,
            "reason": self.reason,
            "runId": self.run.run_id if self.run else None,
            "runStatus": self.run.status.value if self.run else None,
            "runs": self.runs,
            "expectedAt": ts(self.expected_at),
            "missingAt": ts(self.missing_at),
            "dueAt": ts(self.due_at),
            "lateAt": ts(self.late_at),
            "lateMinutes": self.late_minutes,
            "idleMinutes": self.idle_minutes,
            "alerts": sorted(kind.value for kind in self.alerts),
            "evaluatedAt": ts(self.evaluated_at),
        }


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _past_due(moment: datetime, due_at: datetime) -> int | None:
    return _minutes(moment - due_at) if moment > due_at else None


def latest_run(runs: Iterable[Run]) -> Run | None:
    """The run that decides a date: the newest by createdAt (then runId) that is not cancelled."""
    candidates = [r for r in runs if r.status is not RunStatus.CANCELLED]
    return max(candidates, key=lambda r: (r.created_at, r.run_id)) if candidates else None


def expectation_for(
    config: DatasetConfig,
    *,
    business_date: date,
    runs: Iterable[Run],
    now: datetime,
    registered_at: datetime | None = None,
    environment: Environment | None = None,
) -> Expectation:
    """The expectation of one business date (rules in the module docstring). Pure."""
    env = environment or config.environment
    base: dict[str, Any] = {
        "dataset_name": config.dataset_name, "environment": env, "business_date": business_date, "evaluated_at": now,
    }
    schedule = config.schedule
    if schedule is None:
        return Expectation(**base, state=ExpectationState.SKIPPED, reason="no schedule")
    mine = [
        r for r in runs
        if r.environment == env and r.business_date == business_date and r.created_at <= now
    ]
    base["runs"] = len(mine)
    skipped = None
    if env != config.environment:
        skipped = f"scheduled in {config.environment.value} only"
    elif schedule.since is not None and business_date < schedule.since:
        skipped = f"before since ({schedule.since.isoformat()})"
    elif registered_at is not None and business_date < schedule.local_date(registered_at):
        skipped = f"before registration ({schedule.local_date(registered_at).isoformat()})"
    else:
        skipped = schedule.closure(business_date)
    if skipped is not None:
        return Expectation(**base, state=ExpectationState.SKIPPED, reason=skipped, run=latest_run(mine))

    expected_at = schedule.expected_at(business_date)
    due_at = schedule.due_at(business_date)
    missing_at = expected_at + timedelta(minutes=schedule.start_grace_minutes)
    late_at = due_at + timedelta(minutes=schedule.due_grace_minutes)
    base.update(expected_at=expected_at, missing_at=missing_at, due_at=due_at, late_at=late_at)
    run = latest_run(mine)

    if run is None:
        if now < expected_at:
            return Expectation(**base, state=ExpectationState.UPCOMING)
        if now < missing_at:
            return Expectation(**base, state=ExpectationState.AWAITING)
        return Expectation(
            **base, state=ExpectationState.MISSING, late_minutes=_past_due(now, due_at),
            alerts=frozenset({AlertKind.MISSING}),
        )
    base["run"] = run
    if run.status is RunStatus.SUCCESS:
        finished = run.updated_at or run.created_at
        if finished <= late_at:
            return Expectation(**base, state=ExpectationState.MET)
        return Expectation(**base, state=ExpectationState.MET_LATE, late_minutes=_past_due(finished, due_at))
    if run.status is RunStatus.FAILED:
        return Expectation(
            **base, state=ExpectationState.FAILED, late_minutes=_past_due(now, due_at),
            alerts=frozenset({AlertKind.FAILED}),
        )
    if run.status not in RUN_IN_FLIGHT:  # pragma: no cover - cancelled runs were filtered out above
        raise AssertionError(f"unexpected run status {run.status}")
    idle = now - (run.updated_at or run.created_at)
    stuck = schedule.stuck_after_minutes is not None and idle >= timedelta(minutes=schedule.stuck_after_minutes)
    late = now >= late_at
    alerts = frozenset(
        ({AlertKind.STUCK} if stuck else set()) | ({AlertKind.LATE} if late else set())
    )
    state = ExpectationState.STUCK if stuck else ExpectationState.LATE if late else ExpectationState.RUNNING
    return Expectation(
        **base, state=state, idle_minutes=max(0, _minutes(idle)),
        late_minutes=_past_due(now, due_at), alerts=alerts,
    )


@dataclass
class DatasetWindow:
    """One dataset's registry entry, registration and every run of a date range."""

    config: DatasetConfig
    registered_at: datetime | None
    runs: list[Run]

    def runs_by_date(self) -> dict[date, list[Run]]:
        out: dict[date, list[Run]] = {}
        for run in self.runs:
            out.setdefault(run.business_date, []).append(run)
        return out


def read_windows(
    p: Pipeline,
    configs: Sequence[DatasetConfig],
    start: date,
    end: date,
    registrations: dict[str, datetime] | None = None,
) -> list[DatasetWindow]:
    """Every run of each dataset with start <= businessDate <= end: one Query (all pages) per
    dataset, made concurrently, plus one Query for the registrations when not given."""
    known = p.datasets.registrations() if registrations is None else registrations

    def read(config: DatasetConfig) -> DatasetWindow:
        runs = list(p.runs.between_dates(config.dataset_name, start.isoformat(), end.isoformat()))
        return DatasetWindow(config=config, registered_at=known.get(config.dataset_name), runs=runs)

    return p.reads.map(read, list(configs))


def parse_environment(value: Environment | str | None) -> Environment | None:
    """None, or an Environment; ValidationFailed naming the allowed values."""
    if value is None or isinstance(value, Environment):
        return value
    try:
        return Environment(value)
    except ValueError as exc:
        allowed = ", ".join(e.value for e in Environment)
        raise ValidationFailed(
            f"environment must be one of {allowed}.", fields={"environment": f"{value!r} is not one of {allowed}"}
        ) from exc


def expectations_for(
    p: Pipeline,
    *,
    dates: Iterable[date],
    now: datetime,
    environment: Environment | str | None = None,
    dataset_name: str | None = None,
) -> builtins.list[Expectation]:
    """Expectations per (dataset, environment, date) for the scheduled datasets (one dataset
    when `dataset_name` is given: NotFound if unregistered), sorted by dataset then date.

    Reads: the registry (or one GetItem), the registrations, and one Query per dataset over
    min(dates)..max(dates)."""
    wanted = sorted(set(dates))
    if not wanted:
        raise ValidationFailed("Give at least one business date.", fields={"dates": "empty"})
    if (wanted[-1] - wanted[0]).days + 1 > MAX_EXPECTATION_DAYS:
        raise ValidationFailed(
            f"Expectations cover at most {MAX_EXPECTATION_DAYS} days at once.", fields={"dates": "range too long"}
        )
    env = parse_environment(environment)
    configs = [p.datasets.get(dataset_name)] if dataset_name else p.datasets.all()
    configs = [c for c in configs if c.schedule is not None and (env is None or c.environment == env)]
    if not configs:
        return []
    out: list[Expectation] = []
    for window in read_windows(p, configs, wanted[0], wanted[-1]):
        by_date = window.runs_by_date()
        for day in wanted:
            out.append(
                expectation_for(
                    window.config, business_date=day, runs=by_date.get(day, []), now=now,
                    registered_at=window.registered_at,
                )
            )
    out.sort(key=lambda e: (e.dataset_name, e.business_date))
    return out


def expectations_today(
    p: Pipeline,
    *,
    now: datetime,
    environment: Environment | str | None = None,
    dataset_name: str | None = None,
) -> builtins.list[Expectation]:
    """Each scheduled dataset's expectation for ITS today: the business date of `now` in the
    dataset's own timezone (so at 23:30 UTC a Tokyo dataset is already on tomorrow). Same
    reads as `expectations_for`: one Query per dataset over the (at most two or three)
    distinct local dates, made at once; sorted by dataset."""
    env = parse_environment(environment)
    configs = [p.datasets.get(dataset_name)] if dataset_name else p.datasets.all()
    configs = [c for c in configs if c.schedule is not None and (env is None or c.environment == env)]
    if not configs:
        return []
    today = {c.dataset_name: c.schedule.local_date(now) for c in configs if c.schedule is not None}
    out: builtins.list[Expectation] = []
    for window in read_windows(p, configs, min(today.values()), max(today.values())):
        day = today[window.config.dataset_name]
        out.append(
            expectation_for(
                window.config, business_date=day, runs=window.runs_by_date().get(day, []), now=now,
                registered_at=window.registered_at,
            )
        )
    out.sort(key=lambda e: (e.dataset_name, e.environment.value))
    return out
