"""Retry: failed files of a run (or one failed file) go back to pending and are dispatched
again, exactly once each, after the run commit succeeded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..audit import Outcome
from ..dynamo import Update
from ..errors import DispatchFailed, InvalidTransition, NotFound, PipelineError
from ..models import FileRecord, Run
from ..repository import FileMove
from ..states import RETRY_RUN_SOURCES, FileStatus, RunStatus, run_accepts_retry
from .protocol import commit, dispatch_moves, each
from .requests import Actor, RetryRequest, parse_request

if TYPE_CHECKING:
    from ..app import Pipeline


@dataclass
class RetryResult:
    retried: int
    file_ids: list[str]
    run: Run
    dry_run: bool


def retryable_run(p: Pipeline, run_id: str) -> Run:
    """The run, read consistently; InvalidTransition when its files may not be retried."""
    run = p.runs.get(run_id, consistent=True)
    if not run_accepts_retry(run.status):
        raise InvalidTransition(
            f"Run {run_id!r} is {run.status.value!r}; its files cannot be retried.",
            current=run.status.value, target=RunStatus.PROCESSING.value,
        )
    return run


def _retry_candidates(p: Pipeline, run_id: str, file_ids: list[str] | None) -> list[FileRecord]:
    failed = list(p.files.iter_run(run_id, status=FileStatus.FAILED))
    if file_ids is None:
        return failed
    wanted = set(file_ids)
    return [f for f in failed if f.file_id in wanted]


def _move_to_pending(p: Pipeline, file_id: str) -> FileMove:
    return p.files.move(
        file_id, FileStatus.PENDING, sources=[FileStatus.FAILED],
        update=Update(add_values={"attempts": 1}, remove=["error"]),
    )


def _retry_moves(p: Pipeline, run_id: str, candidates: Sequence[FileRecord]) -> tuple[list[FileMove], Run]:
    """failed -> pending (attempts + 1, error cleared) for each candidate, on the task pool;
    then the run commit. Only files whose conditional move succeeded count as retried."""

    def move(record: FileRecord) -> FileMove | None:
        try:
            return _move_to_pending(p, record.file_id)
        except (InvalidTransition, NotFound):
            return None  # no longer failed (another retry won): not ours to dispatch

    moved = [m for m in each(p, candidates, move) if m is not None]
    if not moved:
        return [], p.runs.get(run_id, consistent=True)
    errors = {c.file_id: c.error for c in candidates}

    def undo(m: FileMove) -> Update:
        return Update(add_values={"attempts": -1}, set_values={"error": errors.get(m.record.file_id)})

    run = commit(p, run_id, moved, run_sources=RETRY_RUN_SOURCES, undo=undo)
    return moved, run


def run_retry(
    p: Pipeline, *, run_id: str, file_ids: list[str] | None = None, dry_run: bool = False, actor: Actor
) -> RetryResult:
    """Retry the failed files of a run (all, or those of `file_ids` that are failed).

    Each file moves failed -> pending with one conditional write (on the task pool for large
    runs); the run commit then moves the run to processing; only after it succeeded is each
    moved file dispatched, exactly once. Refused unless the run accepts retries
    (`states.run_accepts_retry`).

    A dry run is a read: it lists what would be retried and writes nothing at all, not even an
    audit record (nothing happened that needs accounting for)."""
    if dry_run:
        wanted = parse_request(RetryRequest, {"fileIds": file_ids}, what="retry").fileIds
        run = retryable_run(p, run_id)
        candidates = _retry_candidates(p, run_id, wanted)
        return RetryResult(len(candidates), [c.file_id for c in candidates], run, dry_run=True)
    moved: list[FileMove] = []
    try:
        wanted = parse_request(RetryRequest, {"fileIds": file_ids}, what="retry").fileIds
        run = retryable_run(p, run_id)
        candidates = _retry_candidates(p, run_id, wanted)
        moved, run = _retry_moves(p, run_id, candidates)
        if moved:
            dispatch_moves(p, moved)
    except PipelineError as exc:
        # A dispatch failure happens after the retry took effect: the audit says so.
        outcome: Outcome = "allowed" if isinstance(exc, DispatchFailed) else "refused"
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="retry", run_id=run_id,
                              outcome=outcome, error=exc, detail={"retried": len(moved)})
        raise
    ids = [m.record.file_id for m in moved]
    p.audit.record_action(
        actor=actor.name, request_id=actor.request_id, action="retry", run_id=run_id, outcome="allowed",
        detail={"retried": len(ids), "requested": None if file_ids is None else len(file_ids)},
    )
    return RetryResult(len(ids), ids, run, dry_run=False)


def file_retry(p: Pipeline, *, file_id: str, actor: Actor) -> FileRecord:
    """Retry one failed file: failed -> pending, run -> processing, dispatched once.
    InvalidTransition when the file is not failed or the run does not accept retries."""
    target_id = file_id  # until the file is found, the audit record is filed under its id
    try:
        record = p.files.get(file_id, consistent=True)
        target_id = record.run_id
        retryable_run(p, record.run_id)
        try:
            move = _move_to_pending(p, file_id)
        except InvalidTransition as exc:
            raise InvalidTransition(
                f"File {file_id!r} is {exc.current!r}; only failed files can be retried.",
                current=exc.current, target=FileStatus.PENDING.value,
            ) from exc
        commit(
            p, record.run_id, [move], run_sources=RETRY_RUN_SOURCES,
            undo=lambda _: Update(add_values={"attempts": -1}, set_values={"error": record.error}),
        )
        dispatch_moves(p, [move])
    except PipelineError as exc:
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="file_retry",
                              run_id=target_id, target=f"file:{file_id}", outcome="refused", error=exc)
        raise
    p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="file_retry", run_id=target_id,
                          target=f"file:{file_id}", outcome="allowed", detail={"attempts": move.record.attempts})
    return move.record
