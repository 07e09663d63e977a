"""Domain errors of the pipeline core. Views map them to HTTP codes in one place."""

from __future__ import annotations


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
