"""Slack (Block Kit, over HTTPS to a local receiver), email (a real local SMTP server), and
each channel's test message."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.notify import (
    NotifySettings,
    SmtpSender,
    Transports,
    channel_test,
    deliver_notifications,
)

from .conftest import T0, Receiver, episode, notification, outbox, webhook_channel


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpSender]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks readiness on its port: it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, SmtpSender(host="127.0.0.1", port=controller.port, from_address="monitor@example.com")
    finally:
        controller.stop()


def slack_channel(p: Pipeline, url: str) -> str:
    result = p.channels.create({"kind": "slack", "name": "#data-alerts", "url": url}, actor="admin")
    assert result.channel is not None
    return result.channel.channel_id


def test_slack_gets_a_block_kit_message(
    moto_pipeline: Pipeline, https_receiver: Receiver, notify_settings: NotifySettings, trusting_post: Any
) -> None:
    p = moto_pipeline
    slack_channel(p, https_receiver.url)
    ep = episode(p, kind="late", run_id="run-7")
    outbox(p, ep, "alert.opened", T0, lateMinutes=95)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports(http_post=trusting_post))

    [request] = https_receiver.requests
    body = request.json
    assert body["text"]
    assert body["blocks"][0]["type"] == "header"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][2]["fields"]}
    assert fields["*Dataset*"] == "bond-prices"
    assert fields["*Business date*"] == "2026-03-01"
    assert fields["*Environment*"] == "prod"
    assert fields["*Kind*"] == "late"
    assert fields["*How late*"] == "1 h 35 min"
    [button] = body["blocks"][3]["elements"]
    assert button["type"] == "button"
    assert button["url"] == "https://monitor.example.com/runs/run-7/"
    assert all(len(b["fields"]) <= 10 for b in body["blocks"] if "fields" in b)


def test_slack_groups_several_alerts_in_one_message(
    moto_pipeline: Pipeline, https_receiver: Receiver, notify_settings: NotifySettings, trusting_post: Any
) -> None:
    p = moto_pipeline
    slack_channel(p, https_receiver.url)
    for name in ("a", "b"):
        outbox(p, episode(p, dataset=name), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports(http_post=trusting_post))

    [request] = https_receiver.requests
    assert request.json["blocks"][0]["text"]["text"] == "2 alert notifications"
    assert sum(b["type"] == "divider" for b in request.json["blocks"]) == 1


def test_slack_invalid_token_disables_the_channel(
    moto_pipeline: Pipeline, https_receiver: Receiver, notify_settings: NotifySettings, trusting_post: Any
) -> None:
    p = moto_pipeline
    channel_id = slack_channel(p, https_receiver.url)
    https_receiver.answer((403, "invalid_token"))
    outbox(p, episode(p), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports(http_post=trusting_post))

    channel = p.channels.get(channel_id)
    assert channel.enabled is False
    assert "invalid_token" in (channel.disabled_reason or "")


def test_slack_rate_limit_is_retried(
    moto_pipeline: Pipeline, https_receiver: Receiver, notify_settings: NotifySettings, trusting_post: Any
) -> None:
    p = moto_pipeline
    channel_id = slack_channel(p, https_receiver.url)
    https_receiver.answer((429, "rate_limited"))
    nid = outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports(http_post=trusting_post))

    assert result.retried == 1
    assert p.channels.get(channel_id).enabled
    assert notification(p, nid)["deliveryState"] == "pending"


def test_email_arrives_with_text_and_html_parts(
    moto_pipeline: Pipeline, smtp: tuple[Mailbox, SmtpSender], notify_settings: NotifySettings
) -> None:
    p = moto_pipeline
    mailbox, sender = smtp
    p.channels.create({"kind": "email", "name": "oncall", "to": ["oncall@example.com"]}, actor="admin")
    ep = episode(p, dataset="fx<rates>")
    nid = outbox(p, ep, "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports(email_sender=sender))

    [message] = mailbox.messages
    assert mailbox.envelopes[0].rcpt_tos == ["oncall@example.com"]
    assert message["From"] == "monitor@example.com"
    assert "fx<rates>" in message["Subject"]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "Dataset: fx<rates>" in text.get_content()
    assert "fx&lt;rates&gt;" in html.get_content()
    assert "<table>" in html.get_content()
    assert message["X-Run-Monitor-Message-Id"] == nid
    assert notification(p, nid)["outcome"] == "sent"


def test_email_without_a_configured_sender_is_retried(
    moto_pipeline: Pipeline, notify_settings: NotifySettings
) -> None:
    p = moto_pipeline
    p.channels.create({"kind": "email", "name": "oncall", "to": ["oncall@example.com"]}, actor="admin")
    nid = outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=Transports())

    assert result.retried == 1
    assert notification(p, nid)["deliveryState"] == "pending"


def test_smtp_sender_reads_the_email_variables() -> None:
    sender = SmtpSender.from_env(
        {"EMAIL_HOST": "smtp.example.com", "EMAIL_USE_TLS": "true", "EMAIL_HOST_USER": "u",
         "DEFAULT_FROM_EMAIL": "alerts@example.com"}
    )

    assert sender is not None
    assert (sender.host, sender.port, sender.use_tls, sender.username, sender.from_address) == (
        "smtp.example.com", 587, True, "u", "alerts@example.com"
    )
    assert SmtpSender.from_env({}) is None
    with pytest.raises(ValueError, match="exclusive"):
        SmtpSender.from_env({"EMAIL_HOST": "h", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"})


def test_webhook_test_message_is_signed(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings
) -> None:
    p = moto_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url)

    result = channel_test(p, channel_id, actor="admin", settings=notify_settings)

    assert result.outcome.ok
    assert result.outcome.status_code == 200
    [request] = receiver.requests
    assert request.verified is True
    assert request.json["type"] == "channel.test"
    assert request.webhook_id == result.message_id
    assert result.audit.action == "channel.test"
    assert result.audit.detail["ok"] is True


def test_a_failing_test_message_reports_and_changes_nothing(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings
) -> None:
    p = moto_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(410)

    result = channel_test(p, channel_id, actor="admin", settings=notify_settings)

    assert not result.outcome.ok
    assert result.outcome.status_code == 410
    assert result.outcome.permanent
    assert p.channels.get(channel_id).enabled


def test_email_test_message_arrives(
    moto_pipeline: Pipeline, smtp: tuple[Mailbox, SmtpSender], notify_settings: NotifySettings
) -> None:
    p = moto_pipeline
    mailbox, sender = smtp
    created = p.channels.create({"kind": "email", "name": "oncall", "to": ["oncall@example.com"]}, actor="admin")
    assert created.channel is not None

    result = channel_test(
        p, created.channel.channel_id, actor="admin", settings=notify_settings,
        transports=Transports(email_sender=sender),
    )

    assert result.outcome.ok
    [message] = mailbox.messages
    assert "Test message" in message["Subject"]


def test_the_test_email_escapes_the_channel_name_in_its_html() -> None:
    from dataplatform.pipeline.notify.payloads import render_channel_test

    rendered = render_channel_test('<b>ops</b> & "co"', T0, "https://monitor.example.com", "test_1")
    assert "&lt;b&gt;ops&lt;/b&gt; &amp; &quot;co&quot;" in rendered.html
    assert "<b>" not in rendered.html
    assert '<a href="https://monitor.example.com/">Open Run Monitor</a>' in rendered.html
    assert '<b>ops</b> & "co"' in rendered.text  # plain text stays as typed


def test_unreachable_receivers_are_described_in_words_an_admin_can_act_on(
    moto_pipeline: Pipeline, notify_settings: NotifySettings, hung_endpoint: str
) -> None:
    p = moto_pipeline
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    refused_id, _ = webhook_channel(p, f"http://127.0.0.1:{port}/hook", name="closed hook")
    refused = channel_test(p, refused_id, actor="admin", settings=notify_settings, transports=Transports(timeout=2.0))
    assert refused.outcome.error is not None
    assert refused.outcome.error.startswith("could not connect: connection refused")
    assert "URLError" in refused.outcome.error  # the technical cause stays, after the words

    hung_id, _ = webhook_channel(p, f"{hung_endpoint}/hook", name="hung hook")
    hung = channel_test(p, hung_id, actor="admin", settings=notify_settings, transports=Transports(timeout=0.5))
    assert hung.outcome.error is not None
    assert hung.outcome.error.startswith("no answer within 0.5 s")


def test_email_html_comes_from_the_templates_with_every_value_escaped_once() -> None:
    from dataplatform.pipeline.notify.payloads import EMAIL_TEMPLATES, Markup, render_email_html

    row = render_email_html("fact.html", name="Dataset", value='<script>"x" & y</script>')
    assert row == '<tr><th align="left">Dataset</th><td>&lt;script&gt;&quot;x&quot; &amp; y&lt;/script&gt;</td></tr>'
    page = render_email_html("alerts.html", sections=Markup(row))
    assert page == f"<html><body>{row}</body></html>"  # rendered markup is not escaped twice
    assert {p.name for p in EMAIL_TEMPLATES.glob("*.html")} >= {"alerts.html", "alert.html", "fact.html",
                                                                 "divider.html", "channel_test.html"}
