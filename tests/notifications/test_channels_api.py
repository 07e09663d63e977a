"""The channel API (/api/v1/channels/, superusers only) on moto: CRUD, secrets shown once and
write-only, URL validation, bad input refused without a write, the test message against a
real receiver (signature verified) and a real SMTP server (through Django's SMTP backend)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from dataplatform.pipeline.app import Pipeline
from tests.api.conftest import assert_json_error
from tests.pipeline.notify.conftest import Receiver

from .conftest import Mailbox, audit_actions, audit_count

pytestmark = pytest.mark.django_db

Clients = Callable[[str], APIClient]


def create(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/channels/", body, format="json")


def webhook(client: APIClient, url: str = "https://hooks.example.com/run-monitor", **extra: Any) -> dict[str, Any]:
    response = create(client, kind="webhook", name="ops hook", url=url, **extra)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def test_webhook_secret_is_generated_and_shown_only_in_the_creation_answer(
    pipeline: Pipeline, client_for: Clients
) -> None:
    admin = client_for("superuser")
    created = webhook(admin, datasets=["sales"], kinds=["missing", "late"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["hasSecret"] is True
    assert created["datasets"] == ["sales"]
    assert created["kinds"] == ["missing", "late"]
    assert created["repeatMinutes"] == [30, 60, 120, 240]

    detail = admin.get(f"/api/v1/channels/{created['channelId']}/")
    listing = admin.get("/api/v1/channels/")
    for response in (detail, listing):
        assert response.status_code == 200
        assert secret not in response.content.decode()
        assert secret.removeprefix("whsec_") not in response.content.decode()
    assert "secret" not in detail.json()
    assert detail.json()["hasSecret"] is True
    assert [c["channelId"] for c in listing.json()["results"]] == [created["channelId"]]
    assert listing.json()["next"] is None


def test_a_given_secret_is_stored_but_never_answered(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    mine = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"  # 24 bytes
    created = webhook(admin, secret=mine)
    assert created["secret"] is None
    assert mine not in json.dumps(created)
    assert pipeline.channels.get(created["channelId"]).secret == mine


def test_rotating_the_secret_answers_the_new_one_once(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    created = webhook(admin)
    rotated = admin.patch(f"/api/v1/channels/{created['channelId']}/", {"rotateSecret": True}, format="json")
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != created["secret"]
    assert pipeline.channels.get(created["channelId"]).secret == new
    assert new not in admin.get(f"/api/v1/channels/{created['channelId']}/").content.decode()


def test_slack_and_email_channels(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    slack = create(admin, kind="slack", name="#data-alerts",
                   url="https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX", environments=["prod"])
    assert slack.status_code == 201, slack.content
    assert slack.json()["secret"] is None
    assert slack.json()["url"] == "https://hooks.slack.com/services/T000/B000/****"
    mail = create(admin, kind="email", name="on-call", to=["oncall@example.com", "data@example.com"])
    assert mail.status_code == 201, mail.content
    assert mail.json()["to"] == ["oncall@example.com", "data@example.com"]
    assert mail.json()["url"] is None


def test_url_query_values_are_never_shown_back(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    created = webhook(admin, url="https://hooks.example.com/in?token=s3cr3t-value")
    assert created["url"] == "https://hooks.example.com/in?****"
    detail = admin.get(f"/api/v1/channels/{created['channelId']}/")
    assert "s3cr3t-value" not in detail.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "name": "x", "url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"kind": "webhook", "name": "x", "url": "ftp://hooks.example.com/x"}, "url"),
        ({"kind": "webhook", "name": "x", "url": "not a url"}, "url"),
        ({"kind": "webhook", "name": "x", "url": "javascript:alert(1)"}, "url"),
        ({"kind": "slack", "name": "x", "url": "http://hooks.slack.com/services/T/B/X"}, "url"),
        ({"kind": "webhook", "name": "x"}, "url"),
        ({"kind": "email", "name": "x"}, "to"),
        ({"kind": "email", "name": "x", "to": ["not-an-address"]}, "to"),
        ({"kind": "email", "name": "x", "to": ["a@example.com"], "url": "https://x.example.com/"}, "url"),
        ({"kind": "webhook", "name": "x", "url": "https://h.example.com/", "secret": "plain-text"}, "secret"),
        ({"kind": "webhook", "name": "x", "url": "https://h.example.com/", "repeatMinutes": [1]}, "repeatMinutes"),
        ({"kind": "webhook", "name": "x", "url": "https://h.example.com/", "kinds": ["loud"]}, "kinds"),
        ({"kind": "webhook", "name": "x", "url": "https://h.example.com/", "environments": "prod"}, "environments"),
        ({"kind": "webhook", "name": 7, "url": "https://h.example.com/"}, "name"),
        ({"kind": "pager", "name": "x"}, "kind"),
        ({"kind": "webhook", "name": "x", "url": "https://h.example.com/", "colour": "red"}, "colour"),
    ],
)
def test_bad_channel_bodies_get_400_with_fields_and_write_nothing(
    body: dict[str, Any], field: str, pipeline: Pipeline, client_for: Clients
) -> None:
    admin = client_for("superuser")
    before = audit_count(pipeline)
    response = create(admin, **body)
    error = assert_json_error(response, 400)
    assert any(name == field or name.startswith(f"{field}.") or field in str(error["fields"]) for name in
               error["fields"]), error
    assert pipeline.channels.all() == []
    assert audit_count(pipeline) == before


def test_patch_changes_subscriptions_and_keeps_the_kind(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    channel_id = webhook(admin)["channelId"]
    url = f"/api/v1/channels/{channel_id}/"
    changed = admin.patch(url, {"datasets": ["sales", "bond-prices"], "environments": ["prod"],
                                "repeatMinutes": []}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["datasets"] == ["sales", "bond-prices"]
    assert changed.json()["repeatMinutes"] == []
    assert changed.json()["secret"] is None
    assert_json_error(admin.patch(url, {"kind": "email"}, format="json"), 400)
    assert_json_error(admin.patch(url, {"to": ["a@example.com"]}, format="json"), 400)
    assert_json_error(admin.patch(url, {"url": "https://u:p@h.example.com/"}, format="json"), 400)
    assert pipeline.channels.get(channel_id).kind == "webhook"


def test_patch_disables_with_a_reason_and_enables_again(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    channel_id = webhook(admin)["channelId"]
    url = f"/api/v1/channels/{channel_id}/"
    off = admin.patch(url, {"enabled": False, "disabledReason": "receiver migrating"}, format="json")
    assert off.status_code == 200, off.content
    assert off.json()["enabled"] is False
    assert off.json()["disabledReason"] == "receiver migrating"
    again = admin.patch(url, {"enabled": False}, format="json")  # already so: unchanged, no 409
    assert again.status_code == 200
    assert again.json()["disabledReason"] == "receiver migrating"
    on = admin.patch(url, {"enabled": True}, format="json")
    assert on.json()["enabled"] is True
    assert on.json()["disabledReason"] is None
    assert_json_error(admin.patch(url, {"enabled": "no"}, format="json"), 400)


def test_delete_removes_the_channel(pipeline: Pipeline, client_for: Clients) -> None:
    admin = client_for("superuser")
    channel_id = webhook(admin)["channelId"]
    assert admin.delete(f"/api/v1/channels/{channel_id}/").status_code == 204
    assert_json_error(admin.get(f"/api/v1/channels/{channel_id}/"), 404)
    assert_json_error(admin.delete(f"/api/v1/channels/{channel_id}/"), 404)


@pytest.mark.parametrize("role", ["viewer", "operator", "pipeline", "norole"])
def test_only_superusers_manage_channels(role: str, pipeline: Pipeline, client_for: Clients) -> None:
    channel_id = webhook(client_for("superuser"))["channelId"]
    client = client_for(role)
    assert_json_error(client.get("/api/v1/channels/"), 403)
    assert_json_error(create(client, kind="email", name="x", to=["a@example.com"]), 403)
    assert_json_error(client.post(f"/api/v1/channels/{channel_id}/test/", {}, format="json"), 403)
    assert len(pipeline.channels.all()) == 1
    assert_json_error(client_for("anonymous").get("/api/v1/channels/"), 401)


def test_test_message_reaches_the_receiver_signed_with_the_secret(
    pipeline: Pipeline, client_for: Clients, receiver: Receiver
) -> None:
    admin = client_for("superuser")
    created = webhook(admin, url=receiver.url)
    receiver.secret = created["secret"]

    response = admin.post(f"/api/v1/channels/{created['channelId']}/test/", {}, format="json")

    assert response.status_code == 200, response.content
    result = response.json()
    assert result["ok"] is True
    assert result["statusCode"] == 200
    [received] = receiver.requests
    assert received.verified is True  # standardwebhooks verified it with the channel's secret
    assert received.webhook_id == result["messageId"]
    assert received.json["type"] == "channel.test"
    assert received.json["data"]["channel"] == "ops hook"


def test_a_failed_test_message_is_answered_and_changes_nothing(
    pipeline: Pipeline, client_for: Clients, receiver: Receiver
) -> None:
    admin = client_for("superuser")
    channel_id = webhook(admin, url=receiver.url)["channelId"]
    receiver.answer((410, "gone"))

    result = admin.post(f"/api/v1/channels/{channel_id}/test/", {}, format="json").json()

    assert result["ok"] is False
    assert result["statusCode"] == 410
    assert "410" in result["error"]
    assert result["permanent"] is True
    assert pipeline.channels.get(channel_id).enabled is True  # a test never disables


def test_email_test_message_goes_through_djangos_smtp_backend(
    pipeline: Pipeline, client_for: Clients, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    admin = client_for("superuser")
    channel_id = create(admin, kind="email", name="on-call", to=["oncall@example.com"]).json()["channelId"]

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=port, EMAIL_USE_TLS=False, EMAIL_USE_SSL=False,
                           DEFAULT_FROM_EMAIL="monitor@example.com"):
        result = admin.post(f"/api/v1/channels/{channel_id}/test/", {}, format="json").json()

    assert result["ok"] is True, result
    [message] = mailbox.messages
    assert message["Subject"] == "[Run Monitor] Test message for on-call"
    assert message["From"] == "monitor@example.com"
    assert message["X-Run-Monitor-Message-Id"] == result["messageId"]
    assert mailbox.envelopes[0].rcpt_tos == ["oncall@example.com"]
    kinds = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= kinds


def test_email_test_without_email_host_says_email_is_not_configured(
    pipeline: Pipeline, client_for: Clients
) -> None:
    admin = client_for("superuser")
    channel_id = create(admin, kind="email", name="on-call", to=["oncall@example.com"]).json()["channelId"]
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST=""):
        result = admin.post(f"/api/v1/channels/{channel_id}/test/", {}, format="json").json()
    assert result["ok"] is False
    assert "EMAIL_HOST" in result["error"]


def test_every_channel_change_leaves_one_audit_record(
    pipeline: Pipeline, client_for: Clients, receiver: Receiver
) -> None:
    admin = client_for("superuser")
    channel_id = webhook(admin, url=receiver.url)["channelId"]
    url = f"/api/v1/channels/{channel_id}/"
    admin.patch(url, {"name": "renamed"}, format="json")
    admin.patch(url, {"enabled": False}, format="json")
    admin.post(f"{url}test/", {}, format="json")
    admin.delete(url)
    admin.delete(url)  # refused: gone

    assert audit_actions(pipeline, f"channel#{channel_id}") == [
        ("channel.create", "allowed"),
        ("channel.update", "allowed"),
        ("channel.disable", "allowed"),
        ("channel.test", "allowed"),
        ("channel.delete", "allowed"),
        ("channel.delete", "refused"),
    ]
    assert audit_actions(pipeline, "channel#new") == []  # the creation is filed under the channel
    records = pipeline.audit.for_target(f"channel#{channel_id}", limit=10).items
    assert {r.actor for r in records} == {"superuser-user"}


def test_creation_is_audited_under_the_new_channel(pipeline: Pipeline, client_for: Clients) -> None:
    channel_id = webhook(client_for("superuser"))["channelId"]
    assert audit_actions(pipeline, f"channel#{channel_id}") == [("channel.create", "allowed")]
