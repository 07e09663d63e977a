"""Reconcile: recompute a run's counters from FileTable and roll it up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import PipelineError
from ..models import Run
from .protocol import recount, roll_up, stored_counters
from .requests import Actor

if TYPE_CHECKING:
    from ..app import Pipeline


@dataclass
class ReconcileResult:
    run: Run
    before: dict[str, int]
    after: dict[str, int]
    changed: bool


def run_recount(p: Pipeline, *, run_id: str, actor: Actor | None = None) -> Run:
    """The run with its counters checked against FileTable now (and repaired when they drifted;
    a repair by a person is audited as "recount")."""
    run = p.runs.get(run_id, consistent=True)
    before = stored_counters(run)
    run, after, changed = recount(p, run)
    if changed and actor is not None:
        p.audit.record_action(
            actor=actor.name, request_id=actor.request_id, action="recount", run_id=run_id, outcome="allowed",
            detail={"before": before, "after": after},
        )
    return run


def run_reconcile(p: Pipeline, *, run_id: str, actor: Actor, audit_unchanged: bool = True) -> ReconcileResult:
    """Recompute a run's counters from FileTable (see `recount`) and roll the run up if every
    file is terminal. `audit_unchanged=False` (the evaluator's periodic check) leaves no audit
    record when nothing changed; a refusal or a repair is always recorded."""
    changed = False
    try:
        run = p.runs.get(run_id, consistent=True)
        before = stored_counters(run)
        run, after, changed = recount(p, run)
        rolled = roll_up(p, run)
        changed = changed or rolled.status is not run.status
        run = rolled
    except PipelineError as exc:
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="reconcile", run_id=run_id,
                              outcome="refused", error=exc)
        raise
    # A check every tick that found nothing would bury a run's operator actions in its trail.
    if changed or audit_unchanged:
        p.audit.record_action(
            actor=actor.name, request_id=actor.request_id, action="reconcile", run_id=run_id, outcome="allowed",
            detail={"before": before, "after": after, "changed": changed, "status": run.status.value},
        )
    return ReconcileResult(run=run, before=before, after=stored_counters(run), changed=changed)
