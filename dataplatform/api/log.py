"""Structured (one JSON object per line) log records of the admin API, keyed by request id."""

from __future__ import annotations

import json
import logging
from typing import Any

from dataplatform.web.middleware import current_request_id

logger = logging.getLogger("dataplatform.api")


def log_event(event: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: Any) -> None:
    """Log `event` with `fields` as a single JSON line; the current request id is always included."""
    record: dict[str, Any] = {"event": event, "requestId": current_request_id()}
    record.update(fields)
    logger.log(level, json.dumps(record, sort_keys=True, default=str), exc_info=exc_info)
