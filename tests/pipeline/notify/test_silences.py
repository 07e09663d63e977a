"""Silences: validation, list by status, expire, weekly windows across daylight-saving changes,
and what they do to delivery (held, then one notification when they end)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import InvalidTransition, ValidationFailed
from dataplatform.pipeline.notify import NotifySettings, Transports, deliver_notifications
from dataplatform.pipeline.notify.silences import WeeklyWindow

from .conftest import T0, Receiver, episode, notification, outbox, set_state, webhook_channel

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def silence(p: Pipeline, now: dt.datetime = T0, **body: Any) -> Any:
    base = {"endsAt": (now + H).isoformat(), "reason": "vendor maintenance"}
    return p.silences.create({**base, **body}, actor="ops", now=now).silence


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "no end"},
        {"endsAt": "2026-03-02T06:00:00Z", "reason": "ends before it starts"},
        {"endsAt": "2026-03-02T08:00:00Z", "startsAt": "2026-03-02T09:00:00Z", "reason": "backwards"},
        {"endsAt": "2026-07-01T00:00:00Z", "reason": "four months"},
        {"endsAt": "2026-03-02T08:00:00Z", "reason": ""},
        {"endsAt": "2026-03-02T08:00:00Z", "reason": "x", "mood": "calm"},
        {"endsAt": "2026-03-02T08:00:00Z", "reason": "x", "kind": "slow"},
        {"endsAt": "2026-03-02T08:00:00Z", "reason": "x",
         "window": {"days": ["mon"], "start": "25:00", "end": "02:00"}},
        {"endsAt": "2026-03-02T08:00:00Z", "reason": "x",
         "window": {"days": ["mon"], "start": "01:00", "end": "02:00", "timezone": "Mars/Base"}},
    ],
)
def test_bad_silences_are_refused_and_nothing_is_written(moto_pipeline: Pipeline, body: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        moto_pipeline.silences.create(body, actor="ops", now=T0)
    assert moto_pipeline.silences.all() == []


def test_list_splits_active_upcoming_and_expired(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    active = silence(p)
    upcoming = silence(p, startsAt=(T0 + 2 * H).isoformat(), endsAt=(T0 + 3 * H).isoformat())
    ended = silence(p)
    p.silences.expire(ended.silence_id, actor="ops", now=T0 + MIN)

    at = T0 + 2 * MIN
    assert [s.silence_id for s in p.silences.list(status="active", now=at)] == [active.silence_id]
    assert [s.silence_id for s in p.silences.list(status="upcoming", now=at)] == [upcoming.silence_id]
    assert [s.silence_id for s in p.silences.list(status="expired", now=at)] == [ended.silence_id]


def test_expiring_twice_is_refused(moto_pipeline: Pipeline) -> None:
    s = silence(moto_pipeline)
    result = moto_pipeline.silences.expire(s.silence_id, actor="ops", now=T0 + MIN)

    with pytest.raises(InvalidTransition):
        moto_pipeline.silences.expire(s.silence_id, actor="ops", now=T0 + 2 * MIN)
    assert result.audit.action == "silence.expire"
    assert result.silence.expired_by == "ops"


def test_absent_matchers_match_anything(moto_pipeline: Pipeline) -> None:
    s = silence(moto_pipeline, environment="prod")

    assert s.matches(dataset_name="any", environment="prod", kind="late")
    assert not s.matches(dataset_name="any", environment="staging", kind="late")


# --- weekly windows across daylight-saving changes ---------------------------------------

NIGHTLY_NY = WeeklyWindow(days=["sat", "sun"], start="01:30", end="03:30", timezone="America/New_York")


def test_window_keeps_local_hours_on_a_normal_night() -> None:
    # Saturday 2026-03-07, EST (UTC-5): 01:30-03:30 local is 06:30-08:30 UTC.
    assert NIGHTLY_NY.occurrence_around(utc("2026-03-07T08:00:00")) == (
        utc("2026-03-07T06:30:00"), utc("2026-03-07T08:30:00")
    )


def test_window_is_one_hour_shorter_on_the_spring_forward_night() -> None:
    # Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT; 03:30 EDT is 07:30 UTC.
    assert NIGHTLY_NY.occurrence_around(utc("2026-03-08T07:00:00")) == (
        utc("2026-03-08T06:30:00"), utc("2026-03-08T07:30:00")
    )
    assert NIGHTLY_NY.occurrence_around(utc("2026-03-08T08:00:00")) is None


def test_window_is_one_hour_longer_on_the_fall_back_night() -> None:
    # Sunday 2026-11-01: 01:30 EDT is 05:30 UTC, 03:30 EST is 08:30 UTC.
    assert NIGHTLY_NY.occurrence_around(utc("2026-11-01T08:00:00")) == (
        utc("2026-11-01T05:30:00"), utc("2026-11-01T08:30:00")
    )


def test_window_starting_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    window = WeeklyWindow(days=["sun"], start="02:30", end="04:00", timezone="America/New_York")

    begins, ends = window.occurrence_around(utc("2026-03-08T07:45:00")) or (None, None)

    # 02:30 does not exist that night: the window runs 03:30-04:00 EDT.
    assert (begins, ends) == (utc("2026-03-08T07:30:00"), utc("2026-03-08T08:00:00"))
    assert window.occurrence_around(utc("2026-03-08T07:15:00")) is None


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    window = WeeklyWindow(days=["sat"], start="22:00", end="02:00", timezone="Europe/London")

    assert window.occurrence_around(utc("2026-03-29T00:30:00")) is not None  # Sunday 00:30, Saturday's window
    assert window.occurrence_around(utc("2026-03-29T22:30:00")) is None  # Sunday night: not a window day


def test_london_window_follows_british_summer_time(moto_pipeline: Pipeline) -> None:
    # Sundays 00:00-04:00 London; BST starts 2026-03-29 01:00 UTC: that night ends at 03:00 UTC.
    window = {"days": ["sun"], "start": "00:00", "end": "04:00", "timezone": "Europe/London"}
    s = silence(moto_pipeline, now=utc("2026-03-20T00:00:00"), endsAt="2026-04-30T00:00:00Z", window=window)

    assert s.in_effect_until(utc("2026-03-22T03:30:00")) == utc("2026-03-22T04:00:00")  # GMT week
    assert s.in_effect_until(utc("2026-03-29T02:30:00")) == utc("2026-03-29T03:00:00")  # the change night
    assert s.in_effect_until(utc("2026-03-29T03:30:00")) is None
    assert s.in_effect_until(utc("2026-04-05T02:30:00")) == utc("2026-04-05T03:00:00")  # BST week
    assert s.in_effect_until(utc("2026-04-01T02:30:00")) is None  # a Wednesday


# --- silences and delivery ----------------------------------------------------------------


def test_a_silenced_opening_is_held_then_told_once_when_the_silence_ends(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    silence(p, datasetName="bond-prices")
    ep = episode(p)
    nid = outbox(p, ep, "alert.opened", T0)

    held = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    during = deliver_notifications(p, now=T0 + 30 * MIN, settings=notify_settings, transports=transports)
    after = [
        deliver_notifications(p, now=T0 + H + m * MIN, settings=notify_settings, transports=transports)
        for m in (0, 1, 2)
    ]

    assert held.silenced == 1
    assert during.sent == 0
    assert notification(p, nid)["outcome"] == "silenced"
    assert sum(r.released for r in after) == 1
    [request] = receiver.requests
    assert request.json["type"] == "alert.opened"
    assert request.json["data"]["alertId"] == ep["alertId"]
    assert request.verified is True


def test_a_silence_does_not_hold_other_datasets(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    silence(p, datasetName="fx-rates")
    outbox(p, episode(p), "alert.opened", T0)

    result = deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)

    assert result.silenced == 0
    assert len(receiver.requests) == 1


def test_an_episode_acknowledged_during_the_silence_is_not_told_afterwards(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    silence(p)
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    set_state(p, ep["alertId"], "acknowledged", T0 + 10 * MIN)

    result = deliver_notifications(p, now=T0 + 2 * H, settings=notify_settings, transports=transports)

    assert result.released == 0
    assert receiver.requests == []


def test_reminders_during_a_silence_become_one_reminder_after_it(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url, repeatMinutes=[10])
    ep = episode(p)
    outbox(p, ep, "alert.opened", T0)
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    silence(p, now=T0 + 5 * MIN, endsAt=(T0 + 65 * MIN).isoformat())

    for minutes in range(10, 65, 10):  # five reminders fall inside the silence
        deliver_notifications(p, now=T0 + minutes * MIN, settings=notify_settings, transports=transports)
    deliver_notifications(p, now=T0 + 65 * MIN, settings=notify_settings, transports=transports)

    assert [r.json["type"] for r in receiver.requests] == ["alert.opened", "alert.reminder"]


def test_a_maintenance_window_holds_only_inside_its_hours(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    # Sunday 2026-03-08 01:30-03:30 New York: the spring-forward night ends at 07:30 UTC.
    window = {"days": ["sun"], "start": "01:30", "end": "03:30", "timezone": "America/New_York"}
    start = utc("2026-03-01T00:00:00")
    silence(p, now=start, endsAt="2026-05-01T00:00:00Z", window=window)
    ep = episode(p, opened_at=utc("2026-03-08T07:00:00"))
    outbox(p, ep, "alert.opened", utc("2026-03-08T07:00:00"))

    inside = deliver_notifications(p, now=utc("2026-03-08T07:00:00"), settings=notify_settings, transports=transports)
    before_end = deliver_notifications(
        p, now=utc("2026-03-08T07:29:00"), settings=notify_settings, transports=transports
    )
    at_end = deliver_notifications(p, now=utc("2026-03-08T07:30:00"), settings=notify_settings, transports=transports)

    assert inside.silenced == 1
    assert before_end.released == 0
    assert at_end.released == 1
    assert [r.json["type"] for r in receiver.requests] == ["alert.opened"]


def test_a_stale_copy_of_a_told_notification_is_never_held(
    moto_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings, transports: Transports
) -> None:
    from dataplatform.pipeline.notify.delivery import Notifier

    p = moto_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    ep = episode(p)
    nid = outbox(p, ep, "alert.opened", T0)
    stale = dict(notification(p, nid))  # as a lagging index could still return it
    deliver_notifications(p, now=T0, settings=notify_settings, transports=transports)
    silence(p, now=T0 + MIN)
    sender = Notifier(p, notify_settings, transports)
    sender.channels = {c.channel_id: c for c in p.channels.all()}
    sender.silences = p.silences.all()

    assert sender.fan_out(stale, T0 + 2 * MIN) is None
    assert [h for h in p.notifications.alert_history(ep["alertId"]) if h.get("itemType") == "hold"] == []
    assert notification(p, nid)["outcome"] == "sent"
