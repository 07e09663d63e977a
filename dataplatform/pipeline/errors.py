"""Domain errors of the pipeline core, and `error_answer`: the one place where they become
HTTP answers (API, pages, Lambda)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class PipelineError(Exception):
    """Base of every error the core raises on purpose."""

    code = "pipeline_error"
    http_status = 500  # what an HTTP adapter (API, Lambda) answers; one mapping for both

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(PipelineError):
    """Input refused before anything was written."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class NotFound(PipelineError):
    code = "not_found"
    http_status = 404


class InvalidTransition(PipelineError):
    """A conditional status write was refused; `current` is the state found (None if unknown)."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, message: str, *, current: str | None, target: str | None = None) -> None:
        super().__init__(message)
        self.current = current
        self.target = target


class InvalidCursor(PipelineError):
    """A page cursor was tampered with, malformed, or belongs to another query."""

    code = "invalid_cursor"
    http_status = 400


class StoreUnavailable(PipelineError):
    """DynamoDB could not be reached, timed out, or kept throttling after retries."""

    code = "store_unavailable"
    http_status = 503


class DispatchFailed(PipelineError):
    """Some messages could not be handed to the dispatcher after retries."""

    code = "dispatch_failed"
    http_status = 503

    def __init__(self, message: str, failed_ids: list[str]) -> None:
        super().__init__(message)
        self.failed_ids = failed_ids


class AlreadyExists(PipelineError):
    """A conditional create found an item with the same key."""

    code = "already_exists"
    http_status = 409


class IdempotencyConflict(PipelineError):
    """An idempotency key was repeated with a different request (another file list)."""

    code = "idempotency_conflict"
    http_status = 409

    def __init__(self, message: str, *, current: str | None = None) -> None:
        super().__init__(message)
        self.current = current


class UnreadableItem(PipelineError):
    """A stored item holds values this code cannot read as what it should be (another tool or an
    older version wrote it): said as such, naming the item and the values; `key` is its id."""

    code = "unreadable_item"
    http_status = 500

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


RETRY_AFTER_SECONDS = 5
SERVER_ERROR_DETAIL = "The server could not complete the request."


@dataclass(frozen=True)
class ErrorAnswer:
    """A domain error as an HTTP answer: status, JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return str(self.body["code"])


def error_answer(exc: PipelineError) -> ErrorAnswer:
    """The one mapping from a domain error to its HTTP answer, used by the admin API, the
    dashboard pages and the Lambda handler alike: `{"detail", "code"}` plus `fields` (a list
    of messages per field) for invalid input, `current` for conflicts, `failedFiles` for a
    dispatch failure; 503 carries Retry-After; any other 5xx says no more than that it failed."""
    body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
    headers: dict[str, str] = {}
    status = exc.http_status
    if isinstance(exc, ValidationFailed) and exc.fields:
        body["fields"] = {name: [message] for name, message in exc.fields.items()}
    elif isinstance(exc, InvalidTransition):
        body["current"] = exc.current
    elif isinstance(exc, AlreadyExists):
        body["current"] = None
    elif isinstance(exc, IdempotencyConflict):
        body["current"] = exc.current
    elif isinstance(exc, DispatchFailed):
        body["failedFiles"] = len(exc.failed_ids)
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    elif status >= 500 and not isinstance(exc, UnreadableItem):  # that one is about data, not internals
        body = {"detail": SERVER_ERROR_DETAIL, "code": "server_error"}
    return ErrorAnswer(status, body, headers)
