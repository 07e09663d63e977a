"""Notify (issue 15, core): channels, silences, and the delivery of alert notifications.

Django-free. The web side calls the repositories (`pipeline.channels`, `pipeline.silences`,
`pipeline.notifications`) and these functions; the evaluator calls `deliver_notifications`."""

from .channels import Channel, ChannelCreate, ChannelPatch, ChannelRepository, ChannelResult, redact_url
from .delivery import DeliveryResult, deliver_notifications
from .models import AuditFacts
from .outbox import NotificationRepository
from .service import TestResult, channel_test
from .settings import NotifySettings
from .signing import generate_secret, sign
from .silences import Silence, SilenceCreate, SilenceRepository, SilenceResult, WeeklyWindow
from .transports import AttemptOutcome, HttpResponse, OutgoingEmail, SmtpSender, Transports, urllib_post

__all__ = [
    "AttemptOutcome",
    "AuditFacts",
    "Channel",
    "ChannelCreate",
    "ChannelPatch",
    "ChannelRepository",
    "ChannelResult",
    "DeliveryResult",
    "HttpResponse",
    "NotificationRepository",
    "NotifySettings",
    "OutgoingEmail",
    "Silence",
    "SilenceCreate",
    "SilenceRepository",
    "SilenceResult",
    "SmtpSender",
    "TestResult",
    "Transports",
    "WeeklyWindow",
    "channel_test",
    "deliver_notifications",
    "generate_secret",
    "redact_url",
    "sign",
    "urllib_post",
]
