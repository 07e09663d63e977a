"""Reconcile: recompute a run's counters from FileTable and roll it up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dynamo import Update
from ..errors import InvalidTransition, PipelineError
from ..models import Run
from ..states import FILE_COUNTER, FileStatus
from ..timeutil import utc_now
from .protocol import roll_up
from .requests import Actor

if TYPE_CHECKING:
    from ..app import Pipeline

RECONCILE_ATTEMPTS = 5
COUNTERS = ("resolvedFiles", *FILE_COUNTER.values())


@dataclass
class ReconcileResult:
    run: Run
    before: dict[str, int]
    after: dict[str, int]
    changed: bool


def _stored_counters(run: Run) -> dict[str, int]:
    counts = run.counts()
    return {"resolvedFiles": run.resolved_files, **{FILE_COUNTER[FileStatus(s)]: n for s, n in counts.items()}}


def run_reconcile(p: Pipeline, *, run_id: str, actor: Actor) -> ReconcileResult:
    """Recompute a run's counters from FileTable and roll the run up if every file is terminal.

    This is the one place where a read feeds a write: the delta (exact - stored) is ADDed under
    a condition that the stored counters are still the values read, retried on conflict. A file
    move between its two writes is still invisible to that condition, so reconcile is exact only
    for a quiescent run (no workers or retries in flight), which is when an operator uses it."""
    changed = False
    try:
        run = p.runs.get(run_id, consistent=True)
        before = _stored_counters(run)
        after = before
        for _attempt in range(RECONCILE_ATTEMPTS):
            stored = _stored_counters(run)
            exact = p.files.count_by_status(run_id)
            after = {"resolvedFiles": sum(exact.values()), **{FILE_COUNTER[FileStatus(s)]: n for s, n in exact.items()}}
            deltas = {k: after[k] - stored[k] for k in COUNTERS if after[k] != stored[k]}
            if not deltas:
                break
            try:
                run = p.runs.update(
                    run_id, Update(add_values=deltas, set_values={"updatedAt": utc_now()}), expect_all=stored
                )
                changed = True
                break
            except InvalidTransition:
                run = p.runs.get(run_id, consistent=True)  # counters moved under us: read again
        else:
            raise InvalidTransition(
                f"Run {run_id!r} kept changing while being reconciled; try again when it is quiet.",
                current=run.status.value,
            )
        rolled = roll_up(p, run)
        changed = changed or rolled.status is not run.status
        run = rolled
    except PipelineError as exc:
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="reconcile", run_id=run_id,
                              outcome="refused", error=exc)
        raise
    p.audit.record_action(
        actor=actor.name, request_id=actor.request_id, action="reconcile", run_id=run_id, outcome="allowed",
        detail={"before": before, "after": after, "changed": changed, "status": run.status.value},
    )
    return ReconcileResult(run=run, before=before, after=_stored_counters(run), changed=changed)
