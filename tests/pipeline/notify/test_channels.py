"""Channels: validation of bodies, write-only secrets, redacted URLs, conditional changes."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import InvalidTransition, NotFound, ValidationFailed
from dataplatform.pipeline.notify import redact_url, sign
from dataplatform.pipeline.notify.signing import generate_secret, secret_key, signed_headers

HOOK = "https://hooks.example.com/run-monitor"


def create(p: Pipeline, **body: Any) -> Any:
    return p.channels.create({"kind": "webhook", "name": "ops", "url": HOOK, **body}, actor="admin")


def test_a_webhook_secret_is_generated_and_shown_once(moto_pipeline: Pipeline) -> None:
    result = create(moto_pipeline)

    assert result.secret is not None
    assert result.secret.startswith("whsec_")
    assert len(secret_key(result.secret)) == 24
    public = moto_pipeline.channels.get(result.channel.channel_id).public()
    assert "secret" not in public
    assert public["hasSecret"] is True
    assert all("secret" not in c.public() for c in moto_pipeline.channels.all())


def test_a_given_secret_is_kept_and_not_echoed(moto_pipeline: Pipeline) -> None:
    secret = generate_secret()

    result = create(moto_pipeline, secret=secret)

    assert result.secret is None
    assert moto_pipeline.channels.get(result.channel.channel_id).secret == secret


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://user:pass@hooks.example.com/x"}, "body"),
        ({"url": "ftp://hooks.example.com/x"}, "body"),
        ({"url": "not a url"}, "body"),
        ({"secret": "whsec_short"}, "secret"),
        ({"secret": "plain-text-secret"}, "secret"),
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
        ({"kinds": ["bad"]}, "kinds.0"),
        ({"environments": ["qa"]}, "environments.0"),
        ({"datasets": ["no spaces allowed"]}, "datasets.0"),
        ({"repeatMinutes": [1]}, "repeatMinutes"),
        ({"to": ["ops@example.com"]}, "body"),
    ],
)
def test_bad_webhook_bodies_are_refused_and_nothing_is_written(
    moto_pipeline: Pipeline, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(moto_pipeline, **body)

    assert field in caught.value.fields
    assert moto_pipeline.channels.all() == []


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "slack", "name": "s", "url": "http://hooks.slack.com/services/T/B/X"},
        {"kind": "slack", "name": "s", "url": "https://hooks.slack.com/services/T/B/X", "secret": generate_secret()},
        {"kind": "email", "name": "e", "to": ["not-an-address"]},
        {"kind": "email", "name": "e", "to": []},
        {"kind": "email", "name": "e", "to": ["a@example.com"], "url": HOOK},
        {"kind": "sms", "name": "x", "url": HOOK},
        {"name": "no kind", "url": HOOK},
    ],
)
def test_bad_slack_and_email_bodies_are_refused(moto_pipeline: Pipeline, body: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        moto_pipeline.channels.create(body, actor="admin")
    assert moto_pipeline.channels.all() == []


def test_slack_urls_are_shown_without_their_token(moto_pipeline: Pipeline) -> None:
    url = "https://hooks.slack.com/services/T000/B000/abcdefSECRET"
    result = moto_pipeline.channels.create({"kind": "slack", "name": "s", "url": url}, actor="admin")

    shown = result.channel.public()["url"]

    assert shown == "https://hooks.slack.com/services/T000/B000/****"
    assert "SECRET" not in str(result.channel.public())


def test_query_strings_are_redacted() -> None:
    assert redact_url("https://h.example.com:8443/p?token=abc", "webhook") == "https://h.example.com:8443/p?****"


def test_email_channels_keep_their_addresses(moto_pipeline: Pipeline) -> None:
    body = {"kind": "email", "name": "oncall", "to": ["oncall@example.com", "b@example.org"]}

    result = moto_pipeline.channels.create(body, actor="admin")

    assert moto_pipeline.channels.get(result.channel.channel_id).to == ["oncall@example.com", "b@example.org"]


def test_patch_changes_only_the_given_fields(moto_pipeline: Pipeline) -> None:
    channel = create(moto_pipeline, datasets=["a"]).channel

    result = moto_pipeline.channels.patch(channel.channel_id, {"name": "renamed", "kinds": ["late"]}, actor="admin")

    assert (result.channel.name, result.channel.kinds, result.channel.datasets) == ("renamed", ["late"], ["a"])
    assert result.audit.detail["fields"] == ["kinds", "name"]
    assert result.secret is None


def test_patch_cannot_change_the_kind(moto_pipeline: Pipeline) -> None:
    channel = create(moto_pipeline).channel

    with pytest.raises(ValidationFailed):
        moto_pipeline.channels.patch(channel.channel_id, {"kind": "slack"}, actor="admin")


def test_patch_checks_the_url_against_the_stored_kind(moto_pipeline: Pipeline) -> None:
    channel = create(moto_pipeline).channel

    with pytest.raises(ValidationFailed):
        moto_pipeline.channels.patch(channel.channel_id, {"url": "https://u:p@h.example.com/"}, actor="admin")

    assert moto_pipeline.channels.get(channel.channel_id).url == HOOK


def test_rotating_the_secret_shows_the_new_one_once(moto_pipeline: Pipeline) -> None:
    created = create(moto_pipeline)

    rotated = moto_pipeline.channels.patch(created.channel.channel_id, {"rotateSecret": True}, actor="admin")

    assert rotated.secret is not None
    assert rotated.secret != created.secret
    assert moto_pipeline.channels.get(created.channel.channel_id).secret == rotated.secret


def test_patching_a_missing_channel_is_not_found(moto_pipeline: Pipeline) -> None:
    with pytest.raises(NotFound):
        moto_pipeline.channels.patch("nope", {"name": "x"}, actor="admin")


def test_disable_and_enable_are_conditional(moto_pipeline: Pipeline) -> None:
    channel_id = create(moto_pipeline).channel.channel_id

    disabled = moto_pipeline.channels.disable(channel_id, reason="receiver moved", actor="admin")
    with pytest.raises(InvalidTransition):
        moto_pipeline.channels.disable(channel_id, reason="again", actor="admin")
    enabled = moto_pipeline.channels.enable(channel_id, actor="admin")
    with pytest.raises(InvalidTransition):
        moto_pipeline.channels.enable(channel_id, actor="admin")

    assert disabled.channel.disabled_reason == "receiver moved"
    assert disabled.audit.reason == "receiver moved"
    assert enabled.channel.enabled
    assert enabled.channel.disabled_reason is None


def test_disable_needs_a_reason(moto_pipeline: Pipeline) -> None:
    channel_id = create(moto_pipeline).channel.channel_id

    with pytest.raises(ValidationFailed):
        moto_pipeline.channels.disable(channel_id, reason="  ", actor="admin")


def test_delete_removes_the_channel(moto_pipeline: Pipeline) -> None:
    channel_id = create(moto_pipeline).channel.channel_id

    result = moto_pipeline.channels.delete(channel_id, actor="admin")

    assert result.audit.action == "channel.delete"
    with pytest.raises(NotFound):
        moto_pipeline.channels.get(channel_id)
    with pytest.raises(NotFound):
        moto_pipeline.channels.delete(channel_id, actor="admin")


def test_lists_page_through_every_channel(moto_pipeline: Pipeline) -> None:
    made = {create(moto_pipeline, name=f"c{i}").channel.channel_id for i in range(5)}

    first = moto_pipeline.channels.list_page(limit=3)
    second = moto_pipeline.channels.list_page(limit=3, cursor=first.cursor)

    assert {c.channel_id for c in first.items + second.items} == made
    assert second.cursor is None


def test_audit_facts_fit_the_audit_repository(moto_pipeline: Pipeline) -> None:
    result = create(moto_pipeline)

    record = moto_pipeline.audit.record(**result.audit.record_kwargs(), request_id="req-1")

    assert record.action == "channel.create"
    assert record.actor == "admin"
    assert moto_pipeline.audit.for_target(result.audit.target_id).items[0].event_id == record.event_id


def test_the_lease_admits_one_sender_until_it_expires(moto_pipeline: Pipeline) -> None:
    import datetime as dt

    now = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
    channel_id = create(moto_pipeline).channel.channel_id
    leases = moto_pipeline.channels

    assert leases.acquire_lease(channel_id, owner="a", now=now, seconds=60)
    assert not leases.acquire_lease(channel_id, owner="b", now=now + dt.timedelta(seconds=59), seconds=60)
    assert leases.acquire_lease(channel_id, owner="b", now=now + dt.timedelta(seconds=61), seconds=60)
    leases.release_lease(channel_id, owner="a")  # a's lease expired: b keeps it
    assert not leases.acquire_lease(channel_id, owner="c", now=now + dt.timedelta(seconds=62), seconds=60)


# --- signing ------------------------------------------------------------------------------


def test_our_signature_verifies_with_the_reference_library() -> None:
    import time

    secret = generate_secret()
    body = '{"type":"alert.opened"}'
    headers = signed_headers(secret, msg_id="msg_1", timestamp=int(time.time()), body=body)

    assert Webhook(secret).verify(body, headers) == {"type": "alert.opened"}


def test_a_tampered_body_does_not_verify() -> None:
    import time

    from standardwebhooks.webhooks import WebhookVerificationError

    secret = generate_secret()
    headers = signed_headers(secret, msg_id="msg_1", timestamp=int(time.time()), body='{"a":1}')

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', headers)


def test_signature_matches_the_reference_signer() -> None:
    import datetime as dt

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    expected = Webhook(secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, '{"test": 2432232314}')

    assert sign(secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=int(at.timestamp()),
                body='{"test": 2432232314}') == expected
