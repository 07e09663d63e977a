"""Re-dispatch: the pending files of a stalled run are handed to the workers again, once each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ..dispatch import FileMessage
from ..dynamo import Update
from ..errors import InvalidTransition, NotFound, PipelineError, ValidationFailed
from ..models import FileRecord, Run
from ..states import RUN_IN_FLIGHT, FileStatus, RunStatus
from ..timeutil import format_ts, utc_now
from .protocol import each
from .requests import Actor

if TYPE_CHECKING:
    from ..app import Pipeline

# Longest idle time an operator may ask for (a week).
MAX_IDLE_MINUTES = 10080
# File ids named in the audit record (the count is always there).
AUDITED_FILE_IDS = 50


@dataclass
class RedispatchResult:
    redispatched: int
    file_ids: list[str]
    run: Run
    dry_run: bool


def _in_flight(p: Pipeline, run_id: str) -> Run:
    run = p.runs.get(run_id, consistent=True)
    if run.status not in RUN_IN_FLIGHT:
        raise InvalidTransition(
            f"Run {run_id!r} is {run.status.value!r}; only a run in flight has files to re-dispatch.",
            current=run.status.value, target=RunStatus.DISPATCHED.value,
        )
    return run


def _idle_files(p: Pipeline, run_id: str, idle_before: str) -> list[FileRecord]:
    return [f for f in p.files.iter_run(run_id, status=FileStatus.PENDING) if format_ts(f.last_updated) < idle_before]


def default_idle_minutes(p: Pipeline, run: Run) -> int:
    """How long a pending file must have been idle to be re-dispatched when the caller does not
    say: RUN_STALLED_MINUTES, or the dataset's `stuckAfterMinutes` when that is shorter, so a run
    the evaluator alerted as stuck always has files idle long enough for the alert's action."""
    minutes = p.config.stalled_after_minutes
    try:
        schedule = p.datasets.get(run.dataset_name).schedule
    except NotFound:  # runs of unregistered datasets: the global setting alone
        return minutes
    stuck = schedule.stuck_after_minutes if schedule is not None else None
    return min(minutes, stuck) if stuck else minutes


def _finish_registration(p: Pipeline, run: Run) -> Run:
    """A run stuck in `pending` died after registering its files and before dispatching them:
    count them and move it to `dispatched` (what the trigger would have done)."""
    count = sum(1 for _ in p.files.iter_run(run.run_id))
    try:
        return p.runs.transition(
            run.run_id, RunStatus.DISPATCHED,
            update=Update(set_values={"resolvedFiles": count, "pendingFiles": count, "updatedAt": utc_now()}),
        )
    except InvalidTransition:
        return _in_flight(p, run.run_id)  # a repeated trigger finished it meanwhile


def run_redispatch(
    p: Pipeline, *, run_id: str, older_than_minutes: int | None = None, dry_run: bool = False, actor: Actor
) -> RedispatchResult:
    """Dispatch again the run's `pending` files that made no progress for `older_than_minutes`
    (default: `default_idle_minutes`). Each file is claimed with one conditional write (still
    pending, not touched since the cut-off) before its message is sent, so concurrent requests
    dispatch each file exactly once. Refused (InvalidTransition) for cancelled or finished runs.
    A dry run only lists the files."""
    minutes = older_than_minutes
    claimed: list[FileRecord] = []
    try:
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_IDLE_MINUTES
        ):
            raise ValidationFailed(
                f"olderThanMinutes must be a whole number from 0 to {MAX_IDLE_MINUTES}.",
                fields={"olderThanMinutes": "out of range"},
            )
        run = _in_flight(p, run_id)
        if minutes is None:
            minutes = default_idle_minutes(p, run)
        now = utc_now()
        idle_before = format_ts(now - timedelta(minutes=minutes)) if minutes else format_ts(now + timedelta(seconds=1))
        candidates = _idle_files(p, run_id, idle_before)
        if dry_run:
            return RedispatchResult(len(candidates), [f.file_id for f in candidates], run, dry_run=True)
        if run.status is RunStatus.PENDING and candidates:
            run = _finish_registration(p, run)
        stamp = format_ts(now)
        claimed = [
            f for f in each(p, candidates, lambda f: p.files.redispatch_claim(f.file_id, idle_before=idle_before,
                                                                                   now=stamp))
            if f is not None
        ]
        if claimed:
            run = p.runs.update(run_id, Update(set_values={"updatedAt": now}), require_status=RUN_IN_FLIGHT)
            p.dispatcher.dispatch([FileMessage(f.run_id, f.file_id, f.location, f.attempts) for f in claimed])
    except PipelineError as exc:
        p.audit.record_action(
            actor=actor.name, request_id=actor.request_id, action="redispatch", run_id=run_id, outcome="refused",
            error=exc, detail={"redispatched": len(claimed)},
        )
        raise
    ids = [f.file_id for f in claimed]
    p.audit.record_action(
        actor=actor.name, request_id=actor.request_id, action="redispatch", run_id=run_id, outcome="allowed",
        detail={"redispatched": len(ids), "olderThanMinutes": minutes, "fileIds": ids[:AUDITED_FILE_IDS]},
    )
    return RedispatchResult(len(ids), ids, run, dry_run=False)
