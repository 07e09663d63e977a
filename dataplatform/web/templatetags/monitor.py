"""Display helpers of the dashboard: ages, sizes, JSON, progress geometry, console links."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from typing import Any
from urllib.parse import quote

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString

from dataplatform.accounts import roles
from dataplatform.pipeline.models import FileRecord, Run
from dataplatform.pipeline.states import RUN_IN_FLIGHT

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


def progress(run: Run) -> dict[str, float | int]:
    """Widths (percent of resolved files) of the processed, failed and in-progress segments."""
    total = max(run.resolved_files, 0)
    done, failed = max(run.processed_files, 0), max(run.failed_files, 0)
    working = max(total - done - failed, 0)
    if total == 0:
        return {"total": 0, "done": 0, "failed": 0, "working": 0, "done_pct": 0, "failed_pct": 0, "percent": 0}
    done_pct = min(100.0, 100.0 * done / total)
    failed_pct = min(100.0 - done_pct, 100.0 * failed / total)
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "working": working,
        "done_pct": round(done_pct, 2),
        "failed_pct": round(failed_pct, 2),
        "percent": round(100.0 * (done + failed) / total),
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
}
# A shape per status, so the badge reads without colour too.
STATUS_ICONS = {
    "pending": "○", "dispatched": "◔", "processing": "◑", "success": "✓", "failed": "✕",
    "cancelled": "⊘", "fetched": "◔", "verified": "◕", "preprocessed": "✓", "missing": "!",
    "none": "·", "allowed": "✓", "refused": "✕",
}


# The components below run for every row of a page (50 runs or files), so they build their
# HTML with the standard library's escape instead of format_html, whose lazy-string checks
# cost ~10 us per value. Numbers need no escaping; every string is escaped.


@register.simple_tag
def badge(status: Any) -> SafeString:
    """A status badge: colour class, icon and the text label (colour-blind safe)."""
    value = str(getattr(status, "value", status))
    css, icon, label = (
        escape(value), escape(STATUS_ICONS.get(value, "•")), escape(STATUS_LABELS.get(value, value))
    )
    return SafeString(
        f'<span class="badge badge-{css}"><span class="badge-icon" aria-hidden="true">{icon}</span>{label}</span>'
    )


@register.simple_tag
def progress_bar(run: Run) -> SafeString:
    """The progress of a run: an SVG bar (processed, failed) and the counts in words."""
    bar = progress(run)
    done, failed, working, total = (int(bar[key]) for key in ("done", "failed", "working", "total"))
    done_pct, failed_pct, percent = (float(bar[key]) for key in ("done_pct", "failed_pct", "percent"))
    words = f"{done} processed, {failed} failed, {working} pending of {total}"
    failed_text = f' + <span class="n-failed">{failed} failed</span>' if failed else ""
    working_text = f' <span class="muted">({working} pending)</span>' if working else ""
    return SafeString(
        f'<div class="progress" title="{words}">'
        '<svg class="progress-bar" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" '
        f'aria-label="{percent:g}% done: {words}">'
        '<rect class="progress-track" x="0" y="0" width="100" height="6"></rect>'
        f'<rect class="progress-done" x="0" y="0" width="{done_pct:g}" height="6"></rect>'
        f'<rect class="progress-failed" x="{done_pct:g}" y="0" width="{failed_pct:g}" height="6"></rect></svg>'
        f'<span class="progress-text" data-progress><span class="n-done">{done}</span>{failed_text} / {total}'
        f"{working_text}</span></div>"
    )


def _time(value: datetime) -> str:
    """`<time>` with the exact UTC instant in its title and a relative age as its text."""
    return f'<time datetime="{escape(value.isoformat())}" title="{utc(value)}">{escape(age(value))}</time>'


@register.simple_tag
def run_row(run: Run) -> SafeString:
    """One row of the runs table; a run in flight polls its own row every 5 s (htmx)."""
    run_id = escape(run.run_id)
    poll = (
        f' data-poll hx-get="{escape(href("run-row", run.run_id))}" hx-trigger="every 5s, poll-now"'
        ' hx-swap="outerHTML"' if run.status in RUN_IN_FLIGHT else ""
    )
    env, source = escape(str(run.environment.value)), escape(str(run.source_type.value))
    return SafeString(
        f'<tr id="run-{run_id}" class="run-row"{poll}>'
        f'<td class="col-status">{badge(run.status)}</td>'
        f'<td class="col-dataset"><a class="strong" href="{escape(href("run-page", run.run_id))}">'
        f'{escape(run.dataset_name)}</a><div class="sub mono" title="Run id">{run_id}</div></td>'
        f'<td class="col-date mono">{run.business_date.isoformat()}</td>'
        f'<td class="col-env"><span class="tag tag-{env}">{env}</span></td>'
        f'<td class="col-source">{source}</td>'
        f'<td class="col-created">{_time(run.created_at)}<div class="sub mono">{utc(run.created_at)}</div></td>'
        f'<td class="col-progress">{progress_bar(run)}</td></tr>'
    )


ERROR_TEXT_LENGTH = 140
NO_VALUE = "\N{EN DASH}"


@register.simple_tag
def file_row(record: FileRecord) -> SafeString:
    """One row of a run's files table."""
    error = record.error
    text = ""
    if error:
        text = str((error.get("message") if isinstance(error, dict) else None) or error)
        if len(text) > ERROR_TEXT_LENGTH:
            text = text[: ERROR_TEXT_LENGTH - 1] + "…"
    location = escape(record.location)
    return SafeString(
        f'<tr><td class="col-status">{badge(record.status)}</td>'
        f'<td><a class="mono" href="{escape(href("file-page", record.file_id))}">{escape(record.file_id)}</a></td>'
        f'<td class="mono loc" title="{location}">{location}</td>'
        f'<td class="num">{escape(human_size(record.file_size)) or NO_VALUE}</td>'
        f'<td class="num">{int(record.attempts)}</td>'
        f"<td>{_time(record.last_updated)}</td>"
        f'<td class="err">{escape(text)}</td></tr>'
    )


@register.simple_tag
def page_assets() -> SafeString:
    """The stylesheet and scripts of every page (no inline code: CSP allows only self)."""
    return _page_assets()


@lru_cache(maxsize=1)
def _page_assets() -> SafeString:
    # Static URLs are fixed for the life of a process (hashed names come from the manifest
    # read at start-up), so the tags are built once instead of on every page.
    from django.templatetags.static import static
    from django_htmx.jinja import htmx_script

    return SafeString(
        f'<link rel="stylesheet" href="{escape(static("css/app.css"))}">\n  {htmx_script()}\n'
        f'  <script src="{escape(static("js/app.js"))}" defer></script>'
    )


@receiver(setting_changed)
def _forget_cached_tags(*, setting: str, **_: Any) -> None:
    """Tests that change static or URL settings get fresh asset tags and paths."""
    if setting in {"STATIC_URL", "STORAGES", "STATIC_ROOT", "DEBUG"}:
        _page_assets.cache_clear()
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _path_parts.cache_clear()


_ARG = "RunMonitorPathArgument"
# Characters Django's reverse() leaves unquoted in a path argument, minus "/" (a str converter
# argument is one path segment).
_SEGMENT_SAFE = "!$&'()*+,;=~:@"


@lru_cache(maxsize=128)
def _path_parts(name: str, with_arg: bool, prefix: str, urlconf: Any) -> tuple[str, str]:
    url = reverse(name, args=[_ARG] if with_arg else None)
    head, _, tail = url.partition(_ARG)
    return head, tail


@register.simple_tag
def href(name: str, arg: Any = None) -> str:
    """The path of the URL pattern `name` with at most one argument, like {% url %} but reversed
    once per pattern: row templates call it for every run and file of a page."""
    head, tail = _path_parts(name, arg is not None, get_script_prefix(), get_urlconf())
    if arg is None:
        return head
    return f"{head}{quote(str(arg), safe=_SEGMENT_SAFE)}{tail}"


@register.simple_tag
def choice_select(field: Any) -> SafeString:
    """A <select> for a ChoiceField of a filter form, built in Python (Django's widget renders
    a template per option); the submitted value stays selected."""
    current = field.value()
    current = "" if current is None else str(current)
    options = "".join(
        f'<option value="{escape(str(value))}"{" selected" if str(value) == current else ""}>'
        f"{escape(str(label))}</option>"
        for value, label in field.field.choices
    )
    return SafeString(f'<select name="{escape(field.html_name)}" id="{escape(field.auto_id)}">{options}</select>')


@register.filter
def weekday_name(day: int) -> str:
    """0 -> Mon ... 6 -> Sun."""
    return ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[int(day) % 7]
