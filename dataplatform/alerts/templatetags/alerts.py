"""Template tags of the alert pages: badges for alert kinds, episode and expectation states,
and the open-alerts box the run and dataset pages include."""

from __future__ import annotations

from typing import Any

from django import template

from dataplatform.pipeline.alerts import ACTIVE_STATES, Alert
from dataplatform.pipeline.timeutil import parse_ts
from dataplatform.web.wiring import get_pipeline

register = template.Library()

LABELS = {
    "missing": "Missing", "late": "Late", "stuck": "Stuck", "failed": "Failed",
    "open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved",
    "upcoming": "Upcoming", "awaiting": "Awaiting", "running": "Running", "met": "Met",
    "met_late": "Met late", "skipped": "Skipped",
}
# A shape per value, so the badge reads without colour too.
ICONS = {
    "missing": "!", "late": "◷", "stuck": "∥", "failed": "✕", "open": "●", "acknowledged": "◉",
    "resolved": "✓", "upcoming": "○", "awaiting": "◔", "running": "◑", "met": "✓", "met_late": "✓",
    "skipped": "\N{EN DASH}",
}


@register.inclusion_tag("alerts/badge.html")
def alert_badge(value: Any) -> dict[str, str]:
    """A badge for an alert kind, an episode state or an expectation state."""
    text = str(getattr(value, "value", value))
    return {"value": text, "icon": ICONS.get(text, "•"), "label": LABELS.get(text, text)}


@register.inclusion_tag("alerts/open_alerts.html")
def open_alerts_for_run(run_id: str) -> dict[str, Any]:
    """The active episodes naming this run (one Query on runId-openedAt-index)."""
    return {"open_alerts": get_pipeline().alerts.active_for_run(run_id), "scope": "run"}


@register.inclusion_tag("alerts/open_alerts.html")
def open_alerts_for_dataset(dataset_name: str, environment: Any = None) -> dict[str, Any]:
    """The active episodes of this dataset (one Query on datasetName-openedAt-index per state
    that is active, filtered by environment when given)."""
    env = getattr(environment, "value", environment) or None
    alerts: list[Alert] = []
    for state in ACTIVE_STATES:
        cursor: str | None = None
        while True:
            page = get_pipeline().alerts.list_by_dataset(dataset_name, state=state, environment=env, cursor=cursor)
            alerts.extend(page.items)
            cursor = page.cursor
            if not cursor:
                break
    alerts.sort(key=lambda a: a.opened_at, reverse=True)
    return {"open_alerts": alerts, "scope": "dataset"}


@register.filter
def minutes_open(alert: Alert, now: Any) -> int:
    """Minutes from opening to resolution (or to `now` while active)."""
    return alert.minutes_open(now)


@register.filter
def iso_utc(value: Any) -> str:
    """A stored ISO-8601 UTC instant as `2026-03-02 08:00:00 UTC` (unreadable text shown as it is)."""
    if not value:
        return ""
    try:
        return f"{parse_ts(str(value)):%Y-%m-%d %H:%M:%S} UTC"
    except ValueError:
        return str(value)
