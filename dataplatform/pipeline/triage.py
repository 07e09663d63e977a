"""Triage of a run: is it stalled, and what do its failures have in common."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .models import FileRecord, Run
from .states import RUN_IN_FLIGHT
from .timeutil import utc_now

# Longest error message kept as a group's key (and as the filter of its files).
MAX_GROUP_MESSAGE = 300
NO_MESSAGE = ""


def last_progress(run: Run) -> datetime:
    """When the run last changed (a file report, a retry, a dispatch): updatedAt, else createdAt."""
    return run.updated_at or run.created_at


def is_stalled(run: Run, *, after_minutes: int, now: datetime | None = None) -> bool:
    """A run in flight whose files made no progress for `after_minutes`."""
    if run.status not in RUN_IN_FLIGHT:
        return False
    return (now or utc_now()) - last_progress(run) >= timedelta(minutes=after_minutes)


def error_message(error: dict[str, Any] | None) -> str:
    """The message of a stored error map ('' when it has none), as groups and filters use it."""
    if not error:
        return NO_MESSAGE
    message = error.get("message")
    return str(message)[:MAX_GROUP_MESSAGE] if message is not None else NO_MESSAGE


@dataclass(frozen=True)
class FailureGroup:
    """Failed files of a run that share an error message (and code, when they carry one)."""

    message: str
    codes: tuple[str, ...]
    count: int
    example_file_id: str


def group_failures(files: list[FileRecord]) -> list[FailureGroup]:
    """Failed files grouped by error message, largest group first (then by message)."""
    groups: dict[str, list[FileRecord]] = {}
    for record in files:
        groups.setdefault(error_message(record.error), []).append(record)
    out = []
    for message, members in groups.items():
        codes = sorted({str(m.error.get("code")) for m in members if m.error and m.error.get("code") is not None})
        out.append(FailureGroup(message, tuple(codes), len(members), members[0].file_id))
    out.sort(key=lambda g: (-g.count, g.message))
    return out
