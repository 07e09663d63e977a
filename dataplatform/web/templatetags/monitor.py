"""Display filters of the dashboard: ages, sizes, JSON, status labels, progress numbers, console links.

Markup lives in templates (named partials in templates/components.html), not here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django import template
from django.conf import settings

from dataplatform.accounts import roles
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.states import RUN_IN_FLIGHT, RunStatus
from dataplatform.pipeline.triage import is_stalled

register = template.Library()

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@register.filter
def utc(value: datetime | None) -> str:
    """`2025-01-31 14:02:11 UTC` (seconds precision)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def age(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative age: `just now`, `12 min ago`, `3 h ago`, `2 days ago`."""
    if value is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days != 1 else ''} ago"


@register.filter
def human_size(value: int | None) -> str:
    """1536 -> `1.5 KiB` (binary units; bytes below 1 KiB)."""
    if value is None:
        return ""
    size = float(value)
    for unit in _SIZE_UNITS:
        if size < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON text; autoescaping still applies where it is rendered."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def in_flight(run: Run) -> bool:
    return run.status in RUN_IN_FLIGHT


@register.filter
def progress(run: Run) -> dict[str, Any]:
    """The progress bar of a run: counts and widths (percent of resolved files) of the processed
    and failed segments; files neither processed nor failed are "pending", or "not processed"
    once the run was cancelled (they never will be).

    The widths and the summary (the bar's title and accessible name) are text already: a runs
    page renders one bar per row, and each number the template localises costs more than the
    whole of this function."""
    total = max(run.resolved_files, 0)
    done, failed = max(run.processed_files, 0), max(run.failed_files, 0)
    rest = max(total - done - failed, 0)
    done_pct = min(100.0, 100.0 * done / total) if total else 0.0
    failed_pct = min(100.0 - done_pct, 100.0 * failed / total) if total else 0.0
    rest_label = "not processed" if run.status is RunStatus.CANCELLED else "pending"
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "rest": rest,
        "rest_label": rest_label,
        "done_pct": str(round(done_pct, 2)),
        "failed_pct": str(round(failed_pct, 2)),
        "percent": round(100.0 * (done + failed) / total) if total else 0,
        "summary": f"{done} preprocessed, {failed} failed, {rest} {rest_label} of {total}",
    }


@register.filter
def s3_parts(location: str) -> tuple[str, str] | None:
    """(bucket, key) of an s3:// location, else None."""
    if not location.startswith("s3://"):
        return None
    bucket, _, key = location[len("s3://") :].partition("/")
    return bucket, key


@register.filter
def console_url(location: str) -> str:
    """The AWS console page of an s3:// object (settings.AWS_CONSOLE_URL); '' for other locations."""
    parts = s3_parts(location)
    if parts is None:
        return ""
    bucket, key = parts
    base = settings.AWS_CONSOLE_URL.rstrip("/")
    return f"{base}/s3/object/{quote(bucket, safe='')}?prefix={quote(key, safe='/')}"


@register.filter
def http_url(location: str) -> str:
    """The location itself when it is an http(s) URL (never javascript: or data:), else ''."""
    return location if location.startswith(("https://", "http://")) else ""


@register.filter
def has_role(user: Any, role: str) -> bool:
    return roles.has_role(user, role)


@register.filter
def role_label(user: Any) -> str:
    """The role shown next to the user name in the header."""
    return roles.label(user)


STATUS_LABELS = {
    "pending": "Pending",
    "dispatched": "Dispatched",
    "processing": "Processing",
    "success": "Success",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "fetched": "Fetched",
    "verified": "Verified",
    "preprocessed": "Preprocessed",
    "missing": "Missing",
    "none": "No run",
    "allowed": "Allowed",
    "refused": "Refused",
    "stalled": "Stalled",
    "upcoming": "Upcoming",
    "awaiting": "Awaiting",
    "running": "Running",
    "late": "Late",
    "stuck": "Stuck",
    "met": "Met",
    "met_late": "Met late",
    "skipped": "Not expected",
}
# A shape per status, so the badge reads without colour too.
STATUS_ICONS = {
    "pending": "○", "dispatched": "◔", "processing": "◑", "success": "✓", "failed": "✕",
    "cancelled": "⊘", "fetched": "◔", "verified": "◕", "preprocessed": "✓", "missing": "!",
    "none": "·", "allowed": "✓", "refused": "✕", "stalled": "∥",
    "upcoming": "·", "awaiting": "◔", "running": "◑", "late": "!", "stuck": "∥", "met": "✓", "met_late": "✓",
    "skipped": "\N{EN DASH}",
}


@register.filter
def status_label(status: Any) -> str:
    """The human label of a status value (`preprocessed` -> `Preprocessed`)."""
    value = str(getattr(status, "value", status))
    return STATUS_LABELS.get(value, value)


@register.filter
def status_icon(status: Any) -> str:
    """A shape per status, so a badge reads without colour too."""
    return STATUS_ICONS.get(str(getattr(status, "value", status)), "•")


@register.filter
def stalled(run: Run) -> bool:
    """A run in flight whose files made no progress for RUN_STALLED_MINUTES."""
    return is_stalled(run, after_minutes=settings.PIPELINE_CONFIG.stalled_after_minutes)


@register.filter
def get_count(counts: dict[str, int], status: str) -> int:
    """`counts|get_count:status`: one entry of a per-status count map (0 when absent)."""
    return int(counts.get(status, 0))


@register.filter
def weekday_name(day: int) -> str:
    """0 -> Mon ... 6 -> Sun."""
    return ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[int(day) % 7]


@register.filter
def options(field: Any) -> list[tuple[str, str, bool]]:
    """`field|options`: (value, label, selected) of each choice of a bound choice field, the
    current value compared as text once here rather than per option in the template."""
    current = field.value()
    current = "" if current is None else str(current)
    return [(str(value), str(label), str(value) == current) for value, label in field.field.choices]
