"""Worker progress: a worker reports one file fetched, verified, preprocessed or failed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..dynamo import Update
from ..errors import InvalidTransition
from ..models import FileRecord
from ..repository import FileMove
from ..states import FileStatus, RunStatus
from .protocol import commit
from .requests import Actor, FileReport, parse_request

if TYPE_CHECKING:
    from ..app import Pipeline

logger = logging.getLogger("dataplatform.pipeline")

# Run states in which a worker report may commit its counters.
REPORT_RUN_SOURCES = (RunStatus.DISPATCHED, RunStatus.PROCESSING)


def file_report(
    p: Pipeline,
    *,
    file_id: str,
    status: FileStatus | str,
    file_size: int | None = None,
    checksum: str | None = None,
    error: dict[str, Any] | None = None,
    actor: Actor,
) -> FileRecord:
    """A worker reports progress on one file (fetched, verified, preprocessed or failed).

    Conditional file move + atomic counter ADD on the run + roll-up. Refused
    (InvalidTransition) when the run is cancelled or finished; a repeat of a report that took
    effect returns the file unchanged. Worker reports are not admin actions: no audit record."""
    given: dict[str, Any] = {"status": status, "fileSize": file_size, "checksum": checksum, "error": error}
    report = parse_request(FileReport, {k: v for k, v in given.items() if v is not None}, what="file report")
    values = report.values()
    try:
        move = p.files.move(file_id, report.status, update=Update(set_values=values))
    except InvalidTransition as exc:
        if exc.current == report.status.value:
            return p.files.get(file_id, consistent=True)
        raise

    def undo(_: FileMove) -> Update:
        # States a worker moves from never carry an error (a retry clears it).
        return Update(remove=["error"]) if "error" in values else Update()

    commit(p, move.record.run_id, [move], run_sources=REPORT_RUN_SOURCES, undo=undo)
    logger.debug("file %s %s -> %s by %s", file_id, move.previous, report.status, actor.name)
    return move.record
