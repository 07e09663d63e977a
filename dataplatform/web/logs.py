"""JSON log lines: one object per line, UTC time, request id, no secrets.

json.dumps escapes newlines and control characters, so user input cannot forge log lines."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from dataplatform.pipeline import metrics

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|cookie|csrf|api[_-]?key)", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(value: Any, key: str = "") -> Any:
    """Replace values whose key names a secret, recursively."""
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": getattr(record, "request_id", None),
        }
        # The core (also used by Lambdas without this formatter) logs JSON objects as messages:
        # merge their fields into this line rather than nesting a JSON string.
        if message.startswith("{"):
            try:
                fields = json.loads(message)
            except ValueError:
                fields = None
            if isinstance(fields, dict):
                line["message"] = str(fields.pop("event", "event"))
                for key, value in fields.items():
                    line.setdefault(key, redact(value, key))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = redact(value, key)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """LOG_FORMAT=plain (bin/run's terminal): the classic line plus the record's extra fields as
    key=value (the access line's method, path, status, ...), secrets redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [
            f"{key}={json.dumps(redact(value, key), default=str, ensure_ascii=False)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        ]
        return f"{line} {' '.join(extra)}" if extra else line


access_logger = logging.getLogger("dataplatform.access")


class AccessLogMiddleware:
    """One JSON line per request: method, path, status, user, duration and DynamoDB cost."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with metrics.scope() as stats:
            response = self.get_response(request)
        user = getattr(request, "user", None)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "user": user.get_username() if user is not None and user.is_authenticated else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "dynamodb_calls": stats.calls,
                "dynamodb_ms": stats.milliseconds,
            },
        )
        return response
