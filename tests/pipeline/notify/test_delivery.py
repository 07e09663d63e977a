"""Delivery of outbox notifications to webhook channels: signed, at least once with a stable
id, retried with backoff, grouped, permanent failures disable the channel."""

from __future__ import annotations

import datetime as dt
import json

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.notify import NotifySettings, Transports, deliver_notifications

from .conftest import T0, Receiver, episode, notification, outbox, set_state, webhook_channel

MIN = dt.timedelta(minutes=1)


def test_opened_notification_is_signed_with_the_spec_body(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p, run_id="run-1")
    nid = outbox(p, ep, "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    assert result.sent == 1
    [request] = receiver.requests
    assert request.verified is True
    assert request.webhook_id == nid
    body = request.json
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "alert.opened"
    assert set(body["data"]) == {
        "alertId", "kind", "datasetName", "environment", "businessDate", "state", "openedAt", "resolvedAt",
        "summary", "url",
    }
    assert body["data"]["url"] == "https://monitor.example.com/runs/run-1/"
    assert body["data"]["alertId"] == ep["alertId"]


def test_notification_ends_sent_and_leaves_the_due_index(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    nid = outbox(p, episode(p), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    item = notification(p, nid)
    assert item["outcome"] == "sent"
    assert "deliveryState" not in item
    assert p.notifications.due("pending", now=T0 + dt.timedelta(days=1), limit=10) == []


def test_server_errors_are_retried_with_the_same_webhook_id(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(500, 500, 200)
    nid = outbox(p, episode(p), "alert.opened", T0)

    first = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    early = deliver_notifications(p, now=T0 + MIN / 2, settings=notify_settings, transports=transports)
    deliver_notifications(p, now=T0 + MIN, settings=notify_settings, transports=transports)
    deliver_notifications(p, now=T0 + 3 * MIN, settings=notify_settings, transports=transports)

    assert first.retried == 1
    assert early.sent == 0
    assert early.failed == 0
    assert [r.webhook_id for r in receiver.requests] == [nid, nid, nid]
    assert receiver.verified_all()
    assert notification(p, nid)["outcome"] == "sent"


def test_every_attempt_is_recorded_on_the_alert_history(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(503, 200)
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    deliver_notifications(p, now=T0 + MIN, settings=notify_settings, transports=transports)

    [entry] = [h for h in p.notifications.alert_history(ep["alertId"]) if h.get("type") == "alert.opened"]
    [delivery] = entry["deliveries"]
    assert delivery["status"] == "sent"
    assert [a["statusCode"] for a in delivery["attempts"]] == [503, 200]
    assert "HTTP 503" in delivery["attempts"][0]["error"]
    assert all("durationMs" in a and "at" in a for a in delivery["attempts"])


def test_attempts_stop_at_the_maximum_and_the_notification_fails(
    moto_pipeline: Pipeline, receiver: Receiver, transports: Transports
) -> None:
    p = moto_pipeline
    settings = NotifySettings(max_attempts=2, public_base_url="https://m.example.com")
    _, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(500, 500, 500)
    nid = outbox(p, episode(p), "alert.opened", T0)

    for minutes in (0, 1, 5, 20):  # (the first reminder would come at 30)
        deliver_notifications(p, now=T0 + minutes * MIN, settings=settings, transports=transports)

    assert len(receiver.requests) == 2
    assert notification(p, nid)["outcome"] == "failed"


def test_gone_receiver_disables_the_channel(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(410)
    nid = outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    channel = p.channels.get(channel_id)
    assert result.disabled_channels == [channel_id]
    assert channel.enabled is False
    assert channel.disabled_reason is not None
    assert "410" in channel.disabled_reason
    assert notification(p, nid)["outcome"] == "failed"


def test_a_disabled_channel_gets_nothing_more(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url)
    p.channels.disable(channel_id, reason="maintenance of the receiver", actor="admin")
    nid = outbox(p, episode(p), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    assert receiver.requests == []
    assert notification(p, nid)["outcome"] == "unrouted"


def test_several_notifications_of_a_tick_are_one_message(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ids = {outbox(p, episode(p, dataset=f"ds-{i}"), "alert.opened", T0) for i in range(3)}

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    [request] = receiver.requests
    assert request.verified is True
    assert request.json["type"] == "alert.batch"
    assert {a["notificationId"] for a in request.json["data"]["alerts"]} == ids
    assert all(notification(p, nid)["outcome"] == "sent" for nid in ids)


def test_a_grouped_message_keeps_its_id_across_retries(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    receiver.answer(502, 200)
    for i in range(2):
        outbox(p, episode(p, dataset=f"ds-{i}"), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    outbox(p, episode(p, dataset="late-comer"), "alert.opened", T0 + MIN)
    deliver_notifications(p, now=T0 + MIN, settings=notify_settings, transports=transports)

    first, retry, *rest = receiver.requests
    assert first.webhook_id == retry.webhook_id
    assert first.webhook_id.startswith("msg_")
    assert first.body == retry.body
    # The newcomer is its own message, not slipped into the retried group.
    assert [r.json["type"] for r in rest] == ["alert.opened"]


def test_subscriptions_choose_the_channels(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url, datasets=["bond-prices"], kinds=["late"])
    outbox(p, episode(p, dataset="bond-prices", kind="missing"), "alert.opened", T0)
    outbox(p, episode(p, dataset="fx-rates", kind="late"), "alert.opened", T0)
    wanted = outbox(p, episode(p, dataset="bond-prices", kind="late"), "alert.opened", T0)

    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    assert [r.webhook_id for r in receiver.requests] == [wanted]


def test_resolution_tells_the_channels_told_of_the_opening(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url, datasets=["bond-prices"])
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    # The channel stops matching, and a new channel appears: neither changes who hears the end.
    p.channels.patch(channel_id, {"datasets": ["other"]}, actor="admin")
    other_url = receiver.url.replace("/hook", "/other")
    p.channels.create({"kind": "webhook", "name": "new", "url": other_url}, actor="admin")
    set_state(p, ep["alertId"], "resolved", T0 + 90 * MIN)
    resolved = outbox(p, ep, "alert.resolved", T0 + 90 * MIN, openMinutes=90)

    deliver_notifications(p, now=T0 + 90 * MIN, settings=notify_settings, transports=transports)

    assert [(r.path, r.json["type"]) for r in receiver.requests] == [
        ("/hook", "alert.opened"), ("/hook", "alert.resolved")
    ]
    assert receiver.requests[-1].webhook_id == resolved
    assert receiver.requests[-1].json["data"]["resolvedAt"] is not None


def test_resolution_of_a_never_told_episode_goes_nowhere(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    _, receiver.secret = webhook_channel(p, receiver.url)
    nid = outbox(p, ep, "alert.resolved", T0 + MIN)

    deliver_notifications(p, now=T0 + MIN, settings=notify_settings, transports=transports)

    assert receiver.requests == []
    assert notification(p, nid)["outcome"] == "unrouted"


def test_opening_and_resolution_in_one_tick_arrive_in_order(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p)
    opened = outbox(p, ep, "alert.opened", T0)
    resolved = outbox(p, ep, "alert.resolved", T0 + MIN / 2)

    deliver_notifications(p, now=T0 + MIN, settings=notify_settings, transports=transports)

    [request] = receiver.requests
    assert [(a["notificationId"], a["type"]) for a in request.alerts()] == [
        (opened, "alert.opened"), (resolved, "alert.resolved")
    ]


def test_unknown_types_of_failure_are_retried_not_raised(
    moto_pipeline: Pipeline, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    webhook_channel(p, "http://127.0.0.1:9/nothing-listens-here")
    nid = outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    assert result.retried == 1
    item = notification(p, nid)
    assert item["deliveryState"] == "pending"
    assert item["dueAt"] > item["createdAt"]
    history = p.notifications.alert_history(item["alertId"])
    attempt = history[0]["deliveries"][0]["attempts"][0]
    assert "statusCode" not in attempt
    assert attempt["error"]
    json.dumps(history, default=str)  # the page can render it


def test_the_evaluator_hook_calls_it_with_pipeline_and_now(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, T0, settings=notify_settings, transports=transports)

    assert result.sent == 1
    assert result.outcomes[("webhook", "sent")] == 1
