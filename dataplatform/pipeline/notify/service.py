"""Channel operations that go beyond the repository: the test message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..timeutil import utc_now
from .models import AuditFacts
from .payloads import render_channel_test
from .settings import NotifySettings
from .transports import AttemptOutcome, SmtpSender, Transports

if TYPE_CHECKING:
    from ..app import Pipeline


@dataclass(frozen=True)
class TestResult:
    """The outcome of a channel's test message, with the audit facts of the action."""

    __test__ = False  # not a pytest class

    channel_id: str
    message_id: str
    outcome: AttemptOutcome
    audit: AuditFacts


def channel_test(
    pipeline: Pipeline,
    channel_id: str,
    *,
    actor: str,
    settings: NotifySettings | None = None,
    transports: Transports | None = None,
    now: datetime | None = None,
) -> TestResult:
    """Send a test message through the channel's transport (even a disabled channel: testing
    is how an admin checks a fix before enabling it). Never disables or retries."""
    settings = settings or NotifySettings.from_env()
    transports = transports or Transports(timeout=settings.attempt_timeout, email_sender=SmtpSender.from_env())
    channel = pipeline.channels.get(channel_id)
    now = now or utc_now()
    message_id = f"test_{uuid.uuid4().hex}"
    rendered = render_channel_test(channel.name, now, settings.public_base_url, message_id)
    outcome = transports.send(channel, rendered)
    audit = AuditFacts(
        action="channel.test",
        actor=actor,
        target_id=f"channel#{channel_id}",
        target=f"channel {channel.name} ({channel.kind})",
        outcome="allowed",
        detail={"channelId": channel_id, "ok": outcome.ok, "statusCode": outcome.status_code, "error": outcome.error},
    )
    return TestResult(channel_id, message_id, outcome, audit)
