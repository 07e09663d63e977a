"""The write protocol every file move follows: "file move with run commit".

No transactions (the local engine lacks TransactWriteItems), so a file move and its run
counters are two conditional writes:

1. a conditional UpdateItem moves the file (FileRepository.move, which also stamps a
   `moveToken` and copies the old status in the same write);
2. a conditional UpdateItem on the run ADDs the counter deltas, guarded by the run status;
3. if the run refuses (cancelled, finished), the file move is undone (compensation, guarded by
   the move token) and the request is refused, so nothing takes effect after a cancel; when
   another request moved the file on from this uncommitted move, its own commit is refused as
   well and its undo comes first (the undo here waits for it, see COMPENSATION_PATIENCE);
4. roll-up: when every file is terminal the run becomes success or failed, guarded by the
   counters observed in step 2.

A crash between steps 1 and 2 leaves the counters off by that move; `run_reconcile`
recomputes them from FileTable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..dispatch import FileMessage
from ..dynamo import Update
from ..errors import InvalidTransition, NotFound
from ..models import Run
from ..repository import FileMove
from ..states import FILE_COUNTER, FileStatus, RunStatus
from ..timeutil import utc_now

if TYPE_CHECKING:
    from ..app import Pipeline

logger = logging.getLogger("dataplatform.pipeline")

T = TypeVar("T")
R = TypeVar("R")

# Below this many files the task pool costs more than it saves.
PARALLEL_THRESHOLD = 8
# A recount retries this often when workers move the counters between its read and its write.
RECOUNT_ATTEMPTS = 5
COUNTERS = ("resolvedFiles", *FILE_COUNTER.values())
# An undo finds the file moved on when another request built on the move before it was
# committed (a retry listing the file as failed, a duplicate worker message reporting the next
# step). That request's own commit is refused too, and its undo puts the file back where this
# move left it; the undo here keeps trying (backing off) for this long so that it runs after it.
COMPENSATION_PATIENCE = 5.0
COMPENSATION_MAX_DELAY = 0.25


def each(p: Pipeline, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
    """`[work(item) for item in items]`, on the pipeline's shared task pool when there are
    enough items to pay off (the pool copies the caller's context into each task, so the
    per-request accounting sees every call)."""
    if len(items) < PARALLEL_THRESHOLD:
        return [work(item) for item in items]
    return p.tasks.map(work, items)


def compensate(p: Pipeline, moves: Sequence[FileMove], undo: Callable[[FileMove], Update] | None) -> None:
    """Undo file moves whose run commit was refused (each only if still where we put it)."""

    def restore(move: FileMove) -> None:
        deadline, delay = time.monotonic() + COMPENSATION_PATIENCE, 0.01
        while not p.files.restore(move, update=undo(move) if undo else None):
            if time.monotonic() >= deadline:
                logger.error("could not undo move of file %s (run %s); reconcile the run",
                             move.record.file_id, move.record.run_id)
                return
            time.sleep(delay)
            delay = min(delay * 2, COMPENSATION_MAX_DELAY)

    each(p, moves, restore)


def commit(
    p: Pipeline,
    run_id: str,
    moves: Sequence[FileMove],
    *,
    run_sources: Iterable[RunStatus],
    undo: Callable[[FileMove], Update] | None = None,
) -> Run:
    """Steps 2-4 of the protocol: ADD the counter deltas on the run (guarded by its status),
    compensate and refuse when the run does not accept them, then roll up."""
    deltas: dict[str, int] = {}
    for move in moves:
        source, target = FILE_COUNTER[move.previous], FILE_COUNTER[move.record.status]
        deltas[source] = deltas.get(source, 0) - 1
        deltas[target] = deltas.get(target, 0) + 1
    update = Update(
        set_values={"status": RunStatus.PROCESSING.value, "updatedAt": utc_now()},
        add_values={k: v for k, v in deltas.items() if v},
        remove=["error"],
    )
    try:
        run = p.runs.update(run_id, update, require_status=run_sources)
    except (InvalidTransition, NotFound) as exc:
        compensate(p, moves, undo)
        if isinstance(exc, NotFound):
            raise
        raise InvalidTransition(
            f"Run {run_id!r} is {exc.current!r}; the change was refused and nothing was moved.",
            current=exc.current, target=exc.target,
        ) from exc
    return roll_up(p, run)


def roll_up(p: Pipeline, run: Run) -> Run:
    """processing -> success | failed once every file is terminal, guarded by the counters
    observed; a refused roll-up means someone changed the run meanwhile (not an error)."""
    if run.status is not RunStatus.PROCESSING or run.resolved_files <= 0:
        return run
    if run.processed_files + run.failed_files != run.resolved_files:
        return run
    expect = {"processedFiles": run.processed_files, "failedFiles": run.failed_files}
    if run.failed_files == 0:
        target, update = RunStatus.SUCCESS, Update(set_values={"updatedAt": utc_now()}, remove=["error"])
    else:
        error = {
            "message": f"{run.failed_files} of {run.resolved_files} files failed",
            "failedFiles": run.failed_files,
        }
        target, update = RunStatus.FAILED, Update(set_values={"updatedAt": utc_now(), "error": error})
    try:
        ended = p.runs.transition(run.run_id, target, update=update, expect=expect)
    except InvalidTransition:
        return run
    # Checked once when it ends: a counter a crashed writer left off shows up here, not later.
    try:
        return recount(p, ended)[0]
    except InvalidTransition:
        logger.warning("counts of run %s kept changing after it ended; not checked", run.run_id)
        return ended


def stored_counters(run: Run) -> dict[str, int]:
    """The run's counters by attribute name (resolvedFiles and one per file status)."""
    counts = run.counts()
    return {"resolvedFiles": run.resolved_files, **{FILE_COUNTER[FileStatus(s)]: n for s, n in counts.items()}}


def recount(p: Pipeline, run: Run) -> tuple[Run, dict[str, int], bool]:
    """Count a run's files in FileTable, repair its counters to match and stamp
    `countsCheckedAt`. Returns (the run as stored now, its counters, whether they changed).

    The one place where a read feeds a write: the difference is written under a condition that
    the stored counters are still the values read (ADD; SET where a run never had them), retried
    on conflict. A file move between its two writes is invisible to that condition, so a recount
    is exact for a quiescent run (ended, or no workers reporting), which is when it runs."""
    for _attempt in range(RECOUNT_ATTEMPTS):
        stored = stored_counters(run)
        exact = p.files.count_by_status(run.run_id)
        after = {"resolvedFiles": sum(exact.values()), **{FILE_COUNTER[FileStatus(s)]: n for s, n in exact.items()}}
        update = Update(set_values={"countsCheckedAt": utc_now()})
        if run.has_counters:
            update.add_values = {k: after[k] - stored[k] for k in COUNTERS if after[k] != stored[k]}
        else:
            update.set_values.update(after)
        try:
            checked = p.runs.update(run.run_id, update, expect_all=stored)
        except InvalidTransition:
            run = p.runs.get(run.run_id, consistent=True)  # counters moved under us: read again
            continue
        return checked, stored_counters(checked), after != stored
    raise InvalidTransition(
        f"Run {run.run_id!r} kept changing while being counted; try again when it is quiet.",
        current=run.status.value,
    )


def dispatch_moves(p: Pipeline, moves: Sequence[FileMove]) -> None:
    """Hand the moved files to the dispatcher (attempt = 1 + retries so far)."""
    p.dispatcher.dispatch(
        [FileMessage(m.record.run_id, m.record.file_id, m.record.location, m.record.attempts + 1) for m in moves]
    )
