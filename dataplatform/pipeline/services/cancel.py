"""Cancel: stop a run; every later file move of it is compensated (see `protocol`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dynamo import Update
from ..errors import InvalidTransition, PipelineError
from ..models import Run
from ..states import RunStatus
from ..timeutil import utc_now
from .requests import Actor, CancelRequest, parse_request

if TYPE_CHECKING:
    from ..app import Pipeline


def run_cancel(p: Pipeline, *, run_id: str, reason: str | None, actor: Actor) -> Run:
    """pending | dispatched | processing -> cancelled, recording who, why and when.

    Already cancelled: returned unchanged (idempotent). success/failed: InvalidTransition."""
    noop = False
    cleaned: str | None = None
    try:
        cleaned = parse_request(CancelRequest, {"reason": reason}, what="cancel").reason
        now = utc_now()
        try:
            run = p.runs.transition(
                run_id, RunStatus.CANCELLED,
                update=Update(set_values={
                    "cancelledBy": actor.name, "cancelReason": cleaned, "cancelledAt": now, "updatedAt": now,
                }),
            )
        except InvalidTransition as exc:
            if exc.current != RunStatus.CANCELLED.value:
                raise
            run, noop = p.runs.get(run_id, consistent=True), True
    except PipelineError as exc:
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="cancel", run_id=run_id,
                              outcome="refused", error=exc, reason=reason if isinstance(reason, str) else None)
        raise
    p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="cancel", run_id=run_id,
                          outcome="allowed", reason=cleaned, detail={"noop": noop, "counts": run.counts()})
    return run
