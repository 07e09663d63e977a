"""Repeats under frozen time: 30 min, 1 h, 2 h, then every 4 h until acknowledged; per channel."""

from __future__ import annotations

import datetime as dt

import time_machine

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.notify import NotifySettings, Transports, deliver_notifications

from .conftest import T0, Receiver, episode, outbox, set_state, webhook_channel

MIN = dt.timedelta(minutes=1)


def run_until(
    p: Pipeline, minutes: int, settings: NotifySettings, transports: Transports, step: int = 5
) -> list[int]:
    """Tick every `step` minutes of frozen time from T0; the minutes at which reminders were made."""
    made: list[int] = []
    with time_machine.travel(T0, tick=False) as traveller:
        for minute in range(0, minutes + 1, step):
            traveller.move_to(T0 + minute * MIN)
            if deliver_notifications(p, settings=settings, transports=transports).reminders:
                made.append(minute)
    return made


def test_reminders_back_off_then_repeat_every_four_hours(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)

    made = run_until(p, 16 * 60, notify_settings, transports)

    assert made == [30, 90, 210, 450, 690, 930]
    reminders = [r for r in receiver.requests if r.json["type"] == "alert.reminder"]
    assert len(reminders) == 6
    assert receiver.verified_all()
    assert len({r.webhook_id for r in reminders}) == 6
    assert reminders[0].json["data"]["alertId"] == ep["alertId"]


def test_acknowledging_stops_the_reminders(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    run_until(p, 60, notify_settings, transports)
    set_state(p, ep["alertId"], "acknowledged", T0 + 60 * MIN)

    with time_machine.travel(T0 + 24 * 60 * MIN, tick=False):
        later = deliver_notifications(p, settings=notify_settings, transports=transports)

    assert later.reminders == 0
    assert [r.json["type"] for r in receiver.requests] == ["alert.opened", "alert.reminder"]
    [schedule] = [h for h in p.notifications.alert_history(ep["alertId"]) if h.get("itemType") == "reminder"]
    assert schedule["endReason"] == "acknowledged"
    assert "deliveryState" not in schedule


def test_resolution_stops_the_reminders(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    set_state(p, ep["alertId"], "resolved", T0 + 20 * MIN)
    outbox(p, ep, "alert.resolved", T0 + 20 * MIN)

    for minutes in (20, 30, 90, 300):
        deliver_notifications(p, now=T0 + minutes * MIN, settings=notify_settings, transports=transports)

    assert [r.json["type"] for r in receiver.requests] == ["alert.opened", "alert.resolved"]


def test_each_channel_has_its_own_repeat_schedule(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url, repeatMinutes=[15])
    quiet = p.channels.create(
        {"kind": "webhook", "name": "no repeats", "url": receiver.url.replace("/hook", "/quiet"), "repeatMinutes": [],
         "secret": receiver.secret},
        actor="admin",
    )
    assert quiet.channel is not None
    outbox(p, episode(p), "alert.opened", T0)

    made = run_until(p, 60, notify_settings, transports)

    assert made == [15, 30, 45, 60]
    assert [r.path for r in receiver.requests].count("/quiet") == 1  # the opening only


def test_concurrent_senders_make_each_reminder_once(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    outbox(p, episode(p), "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    # Two senders see the same due schedule; the second finds the reminder made and the count moved.
    results = [
        deliver_notifications(p, now=T0 + 30 * MIN, settings=notify_settings, transports=transports)
        for _ in range(2)
    ]

    assert [r.reminders for r in results] == [1, 0]
    assert [r.json["type"] for r in receiver.requests] == ["alert.opened", "alert.reminder"]
