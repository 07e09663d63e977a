"""UTC timestamps: one fixed format on write, tolerant parsing on read."""

from __future__ import annotations

from datetime import UTC, datetime

# Fixed write format: microseconds and an explicit Z, so strings sort chronologically.
_WRITE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(value: datetime) -> str:
    """Format an aware datetime in the one format we write (naive values are refused)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime refused: timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime(_WRITE_FORMAT)


def parse_ts(value: str | datetime) -> datetime:
    """Parse an ISO-8601 timestamp; naive values written by older writers are read as UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
