"""The /channels/ and /silences/ pages (Django test client, moto), and the disabled channels on
/health/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dataplatform.pipeline.app import Pipeline
from tests.pipeline.notify.conftest import Receiver

from .conftest import audit_actions, page_client

pytestmark = pytest.mark.django_db


def test_channels_page_is_for_administrators_only(pipeline: Pipeline) -> None:
    assert page_client("superuser").get("/channels/").status_code == 200
    for role in ("operator", "viewer"):
        client = page_client(role)
        assert client.get("/channels/").status_code == 403
        posted = client.post("/channels/", {"kind": "email", "name": "x", "to": "a@example.com"})
        assert posted.status_code == 403
    assert pipeline.channels.all() == []


def test_creating_a_webhook_on_the_page_shows_its_secret_once(pipeline: Pipeline) -> None:
    admin = page_client("superuser")
    response = admin.post("/channels/", {"kind": "webhook", "name": "ops hook",
                                         "url": "https://hooks.example.com/x", "kinds": ["missing"]})
    assert response.status_code == 201
    [channel] = pipeline.channels.all()
    assert channel.kinds == ["missing"]
    assert channel.secret is not None
    assert channel.secret in response.content.decode()
    assert channel.secret not in admin.get("/channels/").content.decode()
    assert audit_actions(pipeline, f"channel#{channel.channel_id}") == [("channel.create", "allowed")]


def test_a_bad_channel_form_is_refused_and_writes_nothing(pipeline: Pipeline) -> None:
    response = page_client("superuser").post("/channels/", {"kind": "webhook", "name": "x",
                                                             "url": "https://u:p@hooks.example.com/"})
    assert response.status_code == 400
    assert "credentials" in response.content.decode()
    assert pipeline.channels.all() == []


def test_disable_shows_why_on_the_page_and_on_health(pipeline: Pipeline) -> None:
    admin = page_client("superuser")
    admin.post("/channels/", {"kind": "email", "name": "on-call", "to": "oncall@example.com"})
    [channel] = pipeline.channels.all()
    admin.post(f"/channels/{channel.channel_id}/disable/", {"reason": "mailbox moved"})
    page = admin.get("/channels/").content.decode()
    assert "disabled" in page
    assert "mailbox moved" in page
    health = page_client("viewer").get("/health/").content.decode()
    assert "1 disabled: on-call (email)" in health

    admin.post(f"/channels/{channel.channel_id}/enable/")
    assert pipeline.channels.get(channel.channel_id).enabled is True


def test_edit_and_delete_from_the_page(pipeline: Pipeline) -> None:
    admin = page_client("superuser")
    admin.post("/channels/", {"kind": "email", "name": "on-call", "to": "oncall@example.com"})
    [channel] = pipeline.channels.all()
    prefix = f"edit-{channel.channel_id}"
    admin.post(f"/channels/{channel.channel_id}/edit/", {
        f"{prefix}-name": "day shift", f"{prefix}-datasets": "sales, bond-prices",
        f"{prefix}-environments": ["prod"], f"{prefix}-repeat_minutes": "none",
    })
    edited = pipeline.channels.get(channel.channel_id)
    assert (edited.name, edited.datasets, edited.environments, edited.repeat_minutes) == (
        "day shift", ["sales", "bond-prices"], ["prod"], [])
    admin.post(f"/channels/{channel.channel_id}/delete/")
    assert pipeline.channels.all() == []


def test_send_test_from_the_page_reports_the_outcome(pipeline: Pipeline, receiver: Receiver) -> None:
    admin = page_client("superuser")
    admin.post("/channels/", {"kind": "webhook", "name": "ops hook", "url": receiver.url})
    [channel] = pipeline.channels.all()
    receiver.secret = channel.secret
    response = admin.post(f"/channels/{channel.channel_id}/test/", follow=True)
    assert re.search(r"Test message test_[0-9a-f]+ delivered \(HTTP 200\)", response.content.decode())
    assert receiver.verified_all()
    assert len(receiver.requests) == 1


def _utc_local(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M")


def test_operator_creates_and_expires_a_silence_on_the_page(pipeline: Pipeline) -> None:
    operator = page_client("operator")
    response = operator.post("/silences/new/", {
        "dataset_name": "sales", "kind": "late", "ends_at": _utc_local(timedelta(hours=3)),
        "reason": "source late all week", "window_days": ["mon", "tue"], "window_start": "06:00",
        "window_end": "09:00", "window_timezone": "America/New_York",
    }, follow=True)
    assert response.status_code == 200
    [silence] = pipeline.silences.all()
    assert (silence.dataset_name, silence.kind, silence.author) == ("sales", "late", "operator-user")
    assert silence.window is not None
    assert silence.window.timezone == "America/New_York"
    page = response.content.decode()
    assert "source late all week" in page
    assert "Silence created" in page

    operator.post(f"/silences/{silence.silence_id}/expire/")
    assert pipeline.silences.get(silence.silence_id).status(datetime.now(UTC)) == "expired"
    assert audit_actions(pipeline, f"silence#{silence.silence_id}") == [
        ("silence.create", "allowed"), ("silence.expire", "allowed")]


def test_a_silence_without_an_end_is_refused_on_the_page(pipeline: Pipeline) -> None:
    response = page_client("operator").post("/silences/new/", {"reason": "forever please"})
    assert response.status_code == 400
    assert pipeline.silences.all() == []


def test_viewers_read_silences_but_cannot_change_them(pipeline: Pipeline) -> None:
    viewer = page_client("viewer")
    page = viewer.get("/silences/")
    assert page.status_code == 200
    assert "Create silence" not in page.content.decode()
    posted = viewer.post("/silences/new/", {"ends_at": _utc_local(timedelta(hours=1)), "reason": "x"})
    assert posted.status_code == 403
    assert pipeline.silences.all() == []
    assert page_client("norole").get("/silences/").status_code == 403


def test_new_channel_form_names_the_channel_first_and_tells_channel_kind_from_alert_kinds(pipeline: Pipeline) -> None:
    body = page_client("superuser").get("/channels/").content.decode()
    form = body.split('id="channel-create"')[1]
    order = [form.index(f'name="{name}"') for name in ("name", "kind", "url", "datasets", "kinds")]
    assert order == sorted(order)  # what and where first, then what it listens to
    assert ">Channel kind:</label>" in form
    assert ">Alert kinds:</label>" in form
    assert 'class="form-stack"' in form  # laid out, not bare as_p


def test_channels_refusal_names_the_superuser_not_the_operator_role(pipeline: Pipeline) -> None:
    clients = {role: page_client(role) for role in ("operator", "viewer")}
    for client in clients.values():
        body = client.get("/channels/").content.decode()
        assert "managed by <strong>superusers</strong>" in body
        assert "Retrying and cancelling" not in body  # an operator already may; it is not what is missing
    viewer_post = clients["viewer"].post("/silences/new/", {"reason": "x"}).content.decode()
    assert "need the <strong>operator</strong> role" in viewer_post  # silences are an operator's
