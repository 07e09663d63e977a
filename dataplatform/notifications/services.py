"""Channel and silence actions as the API and the pages both call them: the core operation
plus its one audit record (allowed or refused) and audit log line.

Refused for invalid input: the audit log line only (`store=False`), so bad input leaves every
table untouched, as the run actions do. Refused by the state (unknown id, already disabled,
already ended): a stored `refused` record. Allowed: the core's `AuditFacts`, stored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from dataplatform.notifications.mail import django_email_sender
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import PipelineError, ValidationFailed
from dataplatform.pipeline.notify import (
    AuditFacts,
    Channel,
    ChannelResult,
    NotifySettings,
    SilenceResult,
    TestResult,
    Transports,
    channel_test,
)
from dataplatform.pipeline.services import Actor

logger = logging.getLogger("dataplatform.notifications")

R = TypeVar("R", ChannelResult, SilenceResult, TestResult)


def record(p: Pipeline, facts: AuditFacts, actor: Actor, *, store: bool = True) -> None:
    """Write the audit record of an action; a store failure is logged, not raised (the action
    has already taken effect or been refused, and its answer must stand)."""
    try:
        p.audit.record(**facts.record_kwargs(), request_id=actor.request_id, store=store)
    except (PipelineError, ClientError):
        logger.exception("audit record of %s on %s could not be stored", facts.action, facts.target_id)


def refuse(p: Pipeline, actor: Actor, *, action: str, target_id: str, target: str, error: PipelineError) -> None:
    """The refused record of an action: log only for invalid input, stored otherwise."""
    invalid = isinstance(error, ValidationFailed)
    detail: dict[str, Any] = {"error": error.code}
    if invalid and error.fields:
        detail["fields"] = sorted(error.fields)
    facts = AuditFacts(
        action=action,
        actor=actor.name,
        target_id=target_id,
        target=target,
        outcome="refused",
        reason="invalid request" if invalid else error.message,
        detail=detail,
    )
    record(p, facts, actor, store=not invalid)


def _audited(p: Pipeline, actor: Actor, *, action: str, target_id: str, target: str, call: Callable[[], R]) -> R:
    try:
        result = call()
    except PipelineError as exc:
        refuse(p, actor, action=action, target_id=target_id, target=target, error=exc)
        raise
    record(p, result.audit, actor)
    return result


def changed(result: ChannelResult) -> Channel:
    """The channel a create / update / enable / disable left (only a delete leaves none)."""
    if result.channel is None:
        raise ValueError(f"{result.audit.action} left no channel")
    return result.channel


def _channel(channel_id: str) -> tuple[str, str]:
    return f"channel#{channel_id}", f"channel {channel_id}"


def channel_create(p: Pipeline, *, body: Any, actor: Actor) -> ChannelResult:
    """Create a channel (a webhook without a secret gets one, in `result.secret`, once)."""
    return _audited(p, actor, action="channel.create", target_id="channel#new", target="channel (new)",
                    call=lambda: p.channels.create(body, actor=actor.name))


def channel_update(p: Pipeline, *, channel_id: str, body: Any, actor: Actor) -> ChannelResult:
    """Change the given fields of a channel (`rotateSecret` returns a new secret once)."""
    target_id, target = _channel(channel_id)
    return _audited(p, actor, action="channel.update", target_id=target_id, target=target,
                    call=lambda: p.channels.patch(channel_id, body, actor=actor.name))


def channel_delete(p: Pipeline, *, channel_id: str, actor: Actor) -> ChannelResult:
    target_id, target = _channel(channel_id)
    return _audited(p, actor, action="channel.delete", target_id=target_id, target=target,
                    call=lambda: p.channels.delete(channel_id, actor=actor.name))


def channel_disable(p: Pipeline, *, channel_id: str, reason: str, actor: Actor) -> ChannelResult:
    target_id, target = _channel(channel_id)
    return _audited(p, actor, action="channel.disable", target_id=target_id, target=target,
                    call=lambda: p.channels.disable(channel_id, reason=reason, actor=actor.name))


def channel_enable(p: Pipeline, *, channel_id: str, actor: Actor) -> ChannelResult:
    target_id, target = _channel(channel_id)
    return _audited(p, actor, action="channel.enable", target_id=target_id, target=target,
                    call=lambda: p.channels.enable(channel_id, actor=actor.name))


def channel_send_test(p: Pipeline, *, channel_id: str, actor: Actor) -> TestResult:
    """Send the channel's test message now (email through Django's backend); the outcome,
    good or bad, is the answer: a test never disables or retries."""
    settings = NotifySettings.from_env()
    transports = Transports(timeout=settings.attempt_timeout, email_sender=django_email_sender())
    target_id, target = _channel(channel_id)
    return _audited(p, actor, action="channel.test", target_id=target_id, target=target,
                    call=lambda: channel_test(p, channel_id, actor=actor.name, settings=settings,
                                              transports=transports))


def silence_create(p: Pipeline, *, body: Any, actor: Actor) -> SilenceResult:
    """Create a silence (it always ends) from the core's flat body."""
    return _audited(p, actor, action="silence.create", target_id="silence#new", target="silence (new)",
                    call=lambda: p.silences.create(body, actor=actor.name))


def silence_expire(p: Pipeline, *, silence_id: str, actor: Actor) -> SilenceResult:
    """End a silence now (refused when it has already ended)."""
    return _audited(p, actor, action="silence.expire", target_id=f"silence#{silence_id}",
                    target=f"silence {silence_id}", call=lambda: p.silences.expire(silence_id, actor=actor.name))
