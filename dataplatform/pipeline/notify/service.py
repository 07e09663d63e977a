"""Channel operations that go beyond the repository: the test message."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..timeutil import utc_now
from .models import AuditFacts
from .payloads import Rendered, channel_test_body
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
    body = channel_test_body(channel.name, now, settings.public_base_url)
    text = f"Test message from Run Monitor for channel {channel.name}. Open {settings.public_base_url}/"
    slack = {
        "text": f"Run Monitor test message for {channel.name}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Run Monitor test message*\n{text}"}}],
    }
    rendered = Rendered(
        message_id=message_id,
        webhook_body=json.dumps(body, separators=(",", ":")),
        slack_body=json.dumps(slack, separators=(",", ":")),
        subject=f"[Run Monitor] Test message for {channel.name}",
        text=text,
        html=f"<html><body><p>{text}</p></body></html>".replace(
            f"Open {settings.public_base_url}/", f'<a href="{settings.public_base_url}/">Open Run Monitor</a>'
        ),
    )
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
