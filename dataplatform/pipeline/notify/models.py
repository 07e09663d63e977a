"""Shared types of the notify core: alert kinds, notification types, subscriptions, audit facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..audit import Outcome

AlertKind = Literal["missing", "late", "stuck", "failed"]
ALERT_KINDS: tuple[str, ...] = ("missing", "late", "stuck", "failed")
NotificationType = Literal["alert.opened", "alert.reminder", "alert.resolved"]
OPENED = "alert.opened"
REMINDER = "alert.reminder"
RESOLVED = "alert.resolved"
BATCH = "alert.batch"
TEST = "channel.test"


class StrictBody(BaseModel):
    """Request bodies: unknown fields refused, strings stripped, checked on assignment too."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


@dataclass(frozen=True)
class AuditFacts:
    """What the Django side passes to `AuditRepository.record` for one admin action."""

    action: str
    actor: str
    target_id: str
    target: str
    outcome: Outcome = "allowed"
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def record_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `AuditRepository.record` (add request_id at the call site)."""
        return {
            "target_id": self.target_id,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail or None,
        }


def matches(values: list[str], value: str | None) -> bool:
    """A subscription list matches everything when empty, else only the listed values."""
    return not values or (value is not None and value in values)
