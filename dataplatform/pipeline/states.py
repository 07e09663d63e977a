"""Run and file state machines as data: for each target state, the states it may come from."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FileStatus(StrEnum):
    PENDING = "pending"
    FETCHED = "fetched"
    VERIFIED = "verified"
    PREPROCESSED = "preprocessed"
    FAILED = "failed"


RUN_SOURCES: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset(),
    RunStatus.DISPATCHED: frozenset({RunStatus.PENDING}),
    RunStatus.PROCESSING: frozenset({RunStatus.DISPATCHED, RunStatus.FAILED}),
    RunStatus.SUCCESS: frozenset({RunStatus.PROCESSING}),
    RunStatus.FAILED: frozenset({RunStatus.PROCESSING}),
    RunStatus.CANCELLED: frozenset({RunStatus.PENDING, RunStatus.DISPATCHED, RunStatus.PROCESSING}),
}

FILE_SOURCES: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PENDING: frozenset({FileStatus.FAILED}),
    FileStatus.FETCHED: frozenset({FileStatus.PENDING}),
    FileStatus.VERIFIED: frozenset({FileStatus.FETCHED}),
    FileStatus.PREPROCESSED: frozenset({FileStatus.VERIFIED}),
    FileStatus.FAILED: frozenset({FileStatus.PENDING, FileStatus.FETCHED, FileStatus.VERIFIED}),
}

RUN_IN_FLIGHT = frozenset({RunStatus.PENDING, RunStatus.DISPATCHED, RunStatus.PROCESSING})
FILE_TERMINAL = frozenset({FileStatus.PREPROCESSED, FileStatus.FAILED})

# Per-status counters kept on the run item (updated with ADD only).
FILE_COUNTER: dict[FileStatus, str] = {
    FileStatus.PENDING: "pendingFiles",
    FileStatus.FETCHED: "fetchedFiles",
    FileStatus.VERIFIED: "verifiedFiles",
    FileStatus.PREPROCESSED: "processedFiles",
    FileStatus.FAILED: "failedFiles",
}


# The one retry rule: a run's failed files may be retried while the run is in one of these
# states (the run commit of a retry is guarded by the same set).
RETRY_RUN_SOURCES = frozenset({RunStatus.FAILED, RunStatus.PROCESSING, RunStatus.DISPATCHED})


def run_accepts_retry(status: RunStatus) -> bool:
    """True when the failed files of a run in `status` may be retried."""
    return status in RETRY_RUN_SOURCES
